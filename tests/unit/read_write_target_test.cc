// target_session_attrs=read-write is added to every connection string that
// does not choose a target itself, in both spellings libpq reads.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "driver/session.h"
#include "pgq/conninfo.h"

namespace pgq::detail {
namespace {

using ::testing::Contains;
using ::testing::Pair;

class ReadWriteTargetTest : public ::testing::Test {
 protected:
  void SetUp() override { ::unsetenv("PGTARGETSESSIONATTRS"); }
  static std::string Target(const std::string& conninfo) {
    const auto options = ParseConninfo(WithReadWriteTarget(conninfo));
    if (!options) return "<unparseable>";
    for (const auto& [key, value] : *options) {
      if (key == "target_session_attrs") return value;
    }
    return "<unset>";
  }
};

TEST_F(ReadWriteTargetTest, AddedToKeyValueStrings) {
  EXPECT_EQ(Target("host=db port=5432 dbname=jobs"), "read-write");
  EXPECT_EQ(Target(""), "read-write");  // libpq's environment, still read-write
  const auto options =
      ParseConninfo(WithReadWriteTarget("host=a,b port=5432,5433 password='x y'"));
  ASSERT_TRUE(options.has_value());
  EXPECT_THAT(*options, Contains(Pair("password", "x y")));
  EXPECT_THAT(*options, Contains(Pair("host", "a,b")));
}

TEST_F(ReadWriteTargetTest, AddedToUrisWithAndWithoutAQuery) {
  EXPECT_EQ(WithReadWriteTarget("postgresql://app@db/jobs"),
            "postgresql://app@db/jobs?target_session_attrs=read-write");
  EXPECT_EQ(Target("postgres://app@db:5433/jobs?sslmode=require"), "read-write");
}

TEST_F(ReadWriteTargetTest, AnExplicitChoiceStands) {
  EXPECT_EQ(Target("host=db target_session_attrs=any"), "any");
  EXPECT_EQ(Target("postgresql://db/jobs?target_session_attrs=primary"), "primary");
  ::setenv("PGTARGETSESSIONATTRS", "any", 1);
  EXPECT_EQ(WithReadWriteTarget("host=db"), "host=db");
  ::unsetenv("PGTARGETSESSIONATTRS");
}

}  // namespace
}  // namespace pgq::detail
