// Connection strings through the public pgq/conninfo.h: libpq's parsing,
// and quoting that libpq reads back unchanged.

#include "pgq/conninfo.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace pgq {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Pair;

TEST(ParseConninfoTest, KeyValueStringInLibpqOrder) {
  const auto options = ParseConninfo("port=5433 host=db dbname=jobs");
  ASSERT_TRUE(options.has_value());
  // libpq's keyword order (dbname, host, port), not the input's.
  EXPECT_THAT(*options, ElementsAre(Pair("dbname", "jobs"), Pair("host", "db"), Pair("port", "5433")));
}

TEST(ParseConninfoTest, UriIsDecoded) {
  const auto options = ParseConninfo("postgresql://app:p%40ss@db:5433/jobs?sslmode=require");
  ASSERT_TRUE(options.has_value());
  EXPECT_THAT(*options, Contains(Pair("password", "p@ss")));
  EXPECT_THAT(*options, Contains(Pair("sslmode", "require")));
  EXPECT_THAT(*options, Contains(Pair("dbname", "jobs")));
}

TEST(ParseConninfoTest, RejectedStringIsNullopt) {
  EXPECT_FALSE(ParseConninfo("host=db 'unterminated").has_value());
  EXPECT_FALSE(ParseConninfo("nosuchkeyword=1").has_value());
}

TEST(AppendConninfoTest, QuotesAndSeparates) {
  std::string out;
  AppendConninfo(out, "host", "db");
  EXPECT_EQ(out, "host='db'");
  AppendConninfo(out, "password", R"(it's a \ secret)");
  EXPECT_EQ(out, R"(host='db' password='it\'s a \\ secret')");
}

TEST(AppendConninfoTest, WhatItWritesParsesBackUnchanged) {
  const std::string awkward = "a'b\\c d=e ''\\\\";
  std::string out;
  AppendConninfo(out, "application_name", awkward);
  AppendConninfo(out, "password", "");
  const auto options = ParseConninfo(out);
  ASSERT_TRUE(options.has_value());
  EXPECT_THAT(*options, ElementsAre(Pair("password", ""), Pair("application_name", awkward)));
}

TEST(AppendConninfoTest, TheLastValueOfARepeatedKeywordWins) {
  std::string out;
  AppendConninfo(out, "host", "first");
  AppendConninfo(out, "host", "second");
  const auto options = ParseConninfo(out);
  ASSERT_TRUE(options.has_value());
  EXPECT_THAT(*options, ElementsAre(Pair("host", "second")));
}

}  // namespace
}  // namespace pgq
