// Planning which positional parameters a user's statement binds (the rules
// of the worker's `sql` handler: $1 payload, $2 headers).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "pgq/sql_params.h"

namespace pgq {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(PlanParamsTest, BindsBothWhenBothAreUsed) {
  const auto plan = PlanParams("INSERT INTO t (payload, headers) VALUES ($1, $2::jsonb)", 2);
  EXPECT_EQ(plan.sql, "INSERT INTO t (payload, headers) VALUES ($1, $2::jsonb)");
  EXPECT_THAT(plan.bound, ElementsAre(1u, 2u));
}

TEST(PlanParamsTest, OnlyTheSecondIsRenumbered) {
  const auto plan = PlanParams("INSERT INTO t (headers) VALUES ($2::jsonb), ($2::jsonb)", 2);
  EXPECT_EQ(plan.sql, "INSERT INTO t (headers) VALUES ($1::jsonb), ($1::jsonb)");
  EXPECT_THAT(plan.bound, ElementsAre(2u));
}

TEST(PlanParamsTest, OnlyTheFirst) {
  const auto plan = PlanParams("INSERT INTO t (payload) VALUES ($1)", 2);
  EXPECT_EQ(plan.sql, "INSERT INTO t (payload) VALUES ($1)");
  EXPECT_THAT(plan.bound, ElementsAre(1u));
}

TEST(PlanParamsTest, ReferencesInQuotesAndCommentsDoNotCount) {
  const std::string sql =
      "INSERT INTO t (headers) VALUES (jsonb_build_object('text', '$1 and $2' /* $2 */)) -- $1";
  const auto plan = PlanParams(sql, 2);
  EXPECT_EQ(plan.sql, sql);
  EXPECT_THAT(plan.bound, IsEmpty());
  EXPECT_THAT(
      PlanParams("SELECT \"$1\", $$ $2 $$, $f$ $1 $f$, E'\\' $1', /* /* */ $2 */ 1", 2).bound,
      IsEmpty());
}

TEST(PlanParamsTest, DollarInsideAWordIsNotAParameter) {
  EXPECT_THAT(PlanParams("SELECT a$1, b$2 FROM t", 2).bound, IsEmpty());
}

TEST(PlanParamsTest, UnknownNumbersBindEverythingUnchanged) {
  // $3 does not exist: both are bound so the server reports it.
  auto plan = PlanParams("SELECT $2, $3", 2);
  EXPECT_EQ(plan.sql, "SELECT $2, $3");
  EXPECT_THAT(plan.bound, ElementsAre(1u, 2u));
  plan = PlanParams("SELECT $0", 2);
  EXPECT_THAT(plan.bound, ElementsAre(1u, 2u));
  plan = PlanParams("SELECT $12", 2);
  EXPECT_THAT(plan.bound, ElementsAre(1u, 2u));
}

TEST(PlanParamsTest, NoParametersMeansSimpleQuery) {
  const auto plan = PlanParams("BEGIN; SELECT 1", 2);
  EXPECT_EQ(plan.sql, "BEGIN; SELECT 1");
  EXPECT_THAT(plan.bound, IsEmpty());
}

}  // namespace
}  // namespace pgq
