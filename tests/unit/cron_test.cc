// Pure-logic tests for CronExpression: normalisation (croniter's aliases and
// case), parse errors that name the field, and the next fire time across
// month, year and leap-day boundaries, five- and six-field forms. No wall
// clock: every instant is fixed.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>

#include "pgq/error.h"
#include "pgq/scheduler.h"
#include "queries/events.h"
#include "support/test_util.h"

namespace pgq {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing_util::At;
using testing_util::LogicErrorMessage;

// Readable form for comparisons, so failures print dates rather than ticks.
std::string Iso(Clock::time_point when) { return detail::IsoUtc(when); }

std::string NextAfter(std::string_view expression, Clock::time_point after) {
  return Iso(CronExpression::Parse(expression).Next(after));
}

std::string ParseError(std::string_view expression) {
  return LogicErrorMessage([&] { CronExpression::Parse(expression); });
}

// ---------------------------------------------------------------------------
// CronExpression::Normalize

TEST(CronNormalizeTest, LowerCasesEveryField) {
  EXPECT_EQ(CronExpression::Normalize("0 12 * JAN,Jul MON-FRI"), "0 12 * jan,jul mon-fri");
}

TEST(CronNormalizeTest, CollapsesWhitespace) {
  EXPECT_EQ(CronExpression::Normalize("0  3 * *   *"), "0 3 * * *");
  EXPECT_EQ(CronExpression::Normalize("0\t3\t*\t*\t*"), "0 3 * * *");
  EXPECT_EQ(CronExpression::Normalize("   0 3 * * *"), "0 3 * * *");
  EXPECT_EQ(CronExpression::Normalize("0 3 * * *  \t "), "0 3 * * *");
  EXPECT_EQ(CronExpression::Normalize(" \t */5 \t  1-3  *\t\t * \t * \n"), "*/5 1-3 * * *");
}

TEST(CronNormalizeTest, AlreadyNormalTextIsUnchanged) {
  EXPECT_EQ(CronExpression::Normalize("*/15 * * * *"), "*/15 * * * *");
  EXPECT_EQ(CronExpression::Normalize("0 0 1 1 *"), "0 0 1 1 *");
}

TEST(CronNormalizeTest, ExpandsAliasesLikeCroniter) {
  EXPECT_EQ(CronExpression::Normalize("@yearly"), "0 0 1 1 *");
  EXPECT_EQ(CronExpression::Normalize("@annually"), "0 0 1 1 *");
  EXPECT_EQ(CronExpression::Normalize("@monthly"), "0 0 1 * *");
  EXPECT_EQ(CronExpression::Normalize("@weekly"), "0 0 * * 0");
  EXPECT_EQ(CronExpression::Normalize("@daily"), "0 0 * * *");
  EXPECT_EQ(CronExpression::Normalize("@midnight"), "0 0 * * *");
  EXPECT_EQ(CronExpression::Normalize("@hourly"), "0 * * * *");
}

TEST(CronNormalizeTest, AliasesAreCaseAndWhitespaceInsensitive) {
  EXPECT_EQ(CronExpression::Normalize("  @Daily\t"), "0 0 * * *");
  EXPECT_EQ(CronExpression::Normalize("@HOURLY"), "0 * * * *");
  EXPECT_EQ(CronExpression::Normalize("\n@Weekly "), "0 0 * * 0");
}

TEST(CronNormalizeTest, UnknownAliasIsLeftAlone) {
  EXPECT_EQ(CronExpression::Normalize("@Reboot"), "@reboot");
}

TEST(CronNormalizeTest, SixFieldFormKeepsSecondsLast) {
  EXPECT_EQ(CronExpression::Normalize("*/10 * * * * *"), "*/10 * * * * *");
  EXPECT_EQ(CronExpression::Normalize("* * * * *\t*/10"), "* * * * * */10");
  EXPECT_EQ(CronExpression::Normalize("30  *\t* * *   15"), "30 * * * * 15");
}

TEST(CronNormalizeTest, ParseStoresTheNormalizedText) {
  EXPECT_EQ(CronExpression::Parse("  0\t12 * JAN,JUL  Mon-Fri ").text(), "0 12 * jan,jul mon-fri");
  EXPECT_EQ(CronExpression::Parse("@Weekly").text(), "0 0 * * 0");
  EXPECT_EQ(CronExpression::Parse("@annually").text(), "0 0 1 1 *");
  EXPECT_EQ(CronExpression::Parse("*/10 * * * * *").text(), "*/10 * * * * *");
}

TEST(CronNormalizeTest, AliasBehavesLikeItsExpansion) {
  const auto from = At(2026, 3, 10, 10, 20, 30);
  EXPECT_EQ(NextAfter("@hourly", from), "2026-03-10T11:00:00.000000Z");
  EXPECT_EQ(NextAfter("@daily", from), "2026-03-11T00:00:00.000000Z");
  EXPECT_EQ(NextAfter("@weekly", from), "2026-03-15T00:00:00.000000Z");  // Sunday
  EXPECT_EQ(NextAfter("@monthly", from), "2026-04-01T00:00:00.000000Z");
  EXPECT_EQ(NextAfter("@yearly", from), "2027-01-01T00:00:00.000000Z");
}

// ---------------------------------------------------------------------------
// CronExpression::Parse errors

TEST(CronParseTest, WrongFieldCount) {
  EXPECT_THAT(ParseError("* * * *"), HasSubstr("5 fields"));
  EXPECT_THAT(ParseError("* * * * * * *"), HasSubstr("5 fields"));
  EXPECT_THAT(ParseError(""), HasSubstr("5 fields"));
  EXPECT_THAT(ParseError("@reboot"), HasSubstr("5 fields"));
}

TEST(CronParseTest, OutOfRangeValuesNameTheField) {
  EXPECT_THAT(ParseError("60 * * * *"), HasSubstr("cron minute"));
  EXPECT_THAT(ParseError("* 24 * * *"), HasSubstr("cron hour"));
  EXPECT_THAT(ParseError("* * 0 * *"), HasSubstr("cron day of month"));
  EXPECT_THAT(ParseError("* * 32 * *"), HasSubstr("cron day of month"));
  EXPECT_THAT(ParseError("* * * 13 *"), HasSubstr("cron month"));
  EXPECT_THAT(ParseError("* * * 0 *"), HasSubstr("cron month"));
  EXPECT_THAT(ParseError("* * * * 8"), HasSubstr("cron day of week"));
  EXPECT_THAT(ParseError("* * * * * 60"), HasSubstr("cron second"));
  // Out-of-range inside a range or a list is caught too.
  EXPECT_THAT(ParseError("0-60 * * * *"), HasSubstr("cron minute"));
  EXPECT_THAT(ParseError("* 1,2,25 * * *"), HasSubstr("cron hour"));
}

TEST(CronParseTest, BoundaryValuesAreAccepted) {
  EXPECT_NO_THROW(CronExpression::Parse("0,59 0,23 1,31 1,12 0,7"));
  EXPECT_NO_THROW(CronExpression::Parse("* * * * * 0,59"));
}

TEST(CronParseTest, ReversedRange) {
  const std::string message = ParseError("30-10 * * * *");
  EXPECT_THAT(message, HasSubstr("cron minute"));
  EXPECT_THAT(message, HasSubstr("reversed"));
  EXPECT_THAT(ParseError("* * * * fri-mon"), HasSubstr("cron day of week"));
}

TEST(CronParseTest, BadStep) {
  EXPECT_THAT(ParseError("*/0 * * * *"), HasSubstr("cron minute"));
  EXPECT_THAT(ParseError("* 1-10/0 * * *"), HasSubstr("cron hour"));
  EXPECT_THAT(ParseError("*/ * * * *"), HasSubstr("cron minute"));
  EXPECT_THAT(ParseError("*/x * * * *"), HasSubstr("cron minute"));
  EXPECT_THAT(ParseError("1/2/3 * * * *"), HasSubstr("cron minute"));
}

TEST(CronParseTest, JunkTokens) {
  EXPECT_THAT(ParseError("abc * * * *"), HasSubstr("cron minute"));
  EXPECT_THAT(ParseError("1x * * * *"), HasSubstr("cron minute"));
  EXPECT_THAT(ParseError("-5 * * * *"), HasSubstr("cron minute"));
  EXPECT_THAT(ParseError("1- * * * *"), HasSubstr("cron minute"));
  EXPECT_THAT(ParseError("1-2-3 * * * *"), HasSubstr("cron minute"));
  // Names only exist for month and day of week.
  EXPECT_THAT(ParseError("jan * * * *"), HasSubstr("cron minute"));
  EXPECT_THAT(ParseError("* * mon * *"), HasSubstr("cron day of month"));
  EXPECT_THAT(ParseError("* * * foo *"), HasSubstr("cron month"));
  EXPECT_THAT(ParseError("* * * mon *"), HasSubstr("cron month"));
  EXPECT_THAT(ParseError("* * * * funday"), HasSubstr("cron day of week"));
  EXPECT_THAT(ParseError("* * * * * s"), HasSubstr("cron second"));
}

TEST(CronParseTest, HugeNumberIsALogicErrorNotAnOverflow) {
  EXPECT_THAT(ParseError("99999999999999999999 * * * *"), HasSubstr("cron minute"));
  EXPECT_THAT(ParseError("*/99999999999999999999 * * * *"), HasSubstr("cron minute"));
}

TEST(CronParseTest, EmptyListItem) {
  EXPECT_THAT(ParseError("1,,2 * * * *"), HasSubstr("cron minute"));
  EXPECT_THAT(ParseError(",1 * * * *"), HasSubstr("cron minute"));
  EXPECT_THAT(ParseError("1, * * * *"), HasSubstr("cron minute"));
  EXPECT_THAT(ParseError("* * * jan,,feb *"), HasSubstr("cron month"));
}

// ---------------------------------------------------------------------------
// CronExpression::Next

TEST(CronNextTest, EveryMinute) {
  EXPECT_EQ(NextAfter("* * * * *", At(2026, 3, 10, 10, 20, 30)), "2026-03-10T10:21:00.000000Z");
  EXPECT_EQ(NextAfter("* * * * *", At(2026, 3, 10, 10, 20, 0)), "2026-03-10T10:21:00.000000Z");
  EXPECT_EQ(NextAfter("* * * * *", At(2026, 12, 31, 23, 59, 59)), "2027-01-01T00:00:00.000000Z");
}

TEST(CronNextTest, EveryFifteenMinutes) {
  EXPECT_EQ(NextAfter("*/15 * * * *", At(2026, 3, 10, 10, 20)), "2026-03-10T10:30:00.000000Z");
  EXPECT_EQ(NextAfter("*/15 * * * *", At(2026, 3, 10, 10, 44, 59)), "2026-03-10T10:45:00.000000Z");
  EXPECT_EQ(NextAfter("*/15 * * * *", At(2026, 3, 10, 10, 45)), "2026-03-10T11:00:00.000000Z");
  EXPECT_EQ(NextAfter("*/15 * * * *", At(2026, 3, 10, 23, 50)), "2026-03-11T00:00:00.000000Z");
}

TEST(CronNextTest, EveryFifteenMinutesFiresNinetySixTimesADay) {
  const auto cron = CronExpression::Parse("*/15 * * * *");
  const auto start = At(2026, 3, 10);
  const auto end = At(2026, 3, 11);
  int fires = 0;
  auto previous = start - seconds(1);
  for (auto t = cron.Next(previous); t < end; t = cron.Next(t)) {
    EXPECT_GT(t, previous);
    previous = t;
    ++fires;
  }
  EXPECT_EQ(fires, 96);
}

TEST(CronNextTest, DailyCrossesMidnight) {
  EXPECT_EQ(NextAfter("0 3 * * *", At(2026, 3, 10, 4, 0)), "2026-03-11T03:00:00.000000Z");
  EXPECT_EQ(NextAfter("0 3 * * *", At(2026, 3, 10, 2, 59, 59)), "2026-03-10T03:00:00.000000Z");
  EXPECT_EQ(NextAfter("0 3 * * *", At(2026, 3, 31, 3, 0)), "2026-04-01T03:00:00.000000Z");
}

TEST(CronNextTest, MonthlyCrossesMonthAndYearEnds) {
  EXPECT_EQ(NextAfter("0 0 1 * *", At(2026, 1, 31, 12, 0)), "2026-02-01T00:00:00.000000Z");
  EXPECT_EQ(NextAfter("0 0 1 * *", At(2026, 2, 1, 0, 0)), "2026-03-01T00:00:00.000000Z");
  EXPECT_EQ(NextAfter("0 0 1 * *", At(2026, 12, 15)), "2027-01-01T00:00:00.000000Z");
  EXPECT_EQ(NextAfter("0 0 31 * *", At(2026, 4, 1)), "2026-05-31T00:00:00.000000Z");  // skips April
}

TEST(CronNextTest, LeapDay) {
  EXPECT_EQ(NextAfter("0 0 29 2 *", At(2026, 3, 1)), "2028-02-29T00:00:00.000000Z");
  EXPECT_EQ(NextAfter("0 0 29 2 *", At(2028, 2, 29)), "2032-02-29T00:00:00.000000Z");
}

TEST(CronNextTest, ImpossibleDateNeverFires) {
  const auto cron = CronExpression::Parse("0 0 31 2 *");
  const std::string message = LogicErrorMessage([&] { cron.Next(At(2026, 1, 1)); });
  EXPECT_THAT(message, HasSubstr("never fires"));
}

TEST(CronNextTest, DayOfMonthOrDayOfWeekWhenBothRestricted) {
  // 2026-04-13 is a Monday, 2026-04-17 a Friday; the next Friday the 13th is
  // 2026-11-13, which AND semantics would pick.
  EXPECT_EQ(NextAfter("0 0 13 * 5", At(2026, 4, 11)), "2026-04-13T00:00:00.000000Z");
  EXPECT_EQ(NextAfter("0 0 13 * 5", At(2026, 4, 13)), "2026-04-17T00:00:00.000000Z");
  EXPECT_EQ(NextAfter("0 0 13 * fri", At(2026, 4, 13)), "2026-04-17T00:00:00.000000Z");
}

TEST(CronNextTest, OnlyTheRestrictedDayFieldCountsWhenTheOtherIsStar) {
  EXPECT_EQ(NextAfter("0 0 13 * *", At(2026, 4, 13)), "2026-05-13T00:00:00.000000Z");
  EXPECT_EQ(NextAfter("0 0 * * 5", At(2026, 4, 11)), "2026-04-17T00:00:00.000000Z");
  EXPECT_EQ(NextAfter("0 0 ? * 5", At(2026, 4, 11)), "2026-04-17T00:00:00.000000Z");
}

TEST(CronNextTest, SevenIsSunday) {
  // 2026-03-10 is a Tuesday; the next Sunday is 2026-03-15.
  const auto from = At(2026, 3, 10);
  EXPECT_EQ(NextAfter("0 0 * * 7", from), "2026-03-15T00:00:00.000000Z");
  EXPECT_EQ(NextAfter("0 0 * * 0", from), "2026-03-15T00:00:00.000000Z");
  EXPECT_EQ(NextAfter("0 0 * * sun", from), "2026-03-15T00:00:00.000000Z");
  // 5-7 is Friday, Saturday, Sunday.
  EXPECT_EQ(NextAfter("0 0 * * 5-7", At(2026, 3, 14)), "2026-03-15T00:00:00.000000Z");
  EXPECT_EQ(NextAfter("0 0 * * 5-7", At(2026, 3, 15)), "2026-03-20T00:00:00.000000Z");
}

TEST(CronNextTest, MonthAndDayNames) {
  const char* cron = "0 12 * jan,jul mon-fri";
  // 2026-01-30 is a Friday; 2026-01-31 a Saturday; 2026-07-01 a Wednesday.
  EXPECT_EQ(NextAfter(cron, At(2026, 1, 30, 11, 0)), "2026-01-30T12:00:00.000000Z");
  EXPECT_EQ(NextAfter(cron, At(2026, 1, 30, 12, 0)), "2026-07-01T12:00:00.000000Z");
  EXPECT_EQ(NextAfter("0 12 * JAN,JUL MON-FRI", At(2026, 1, 30, 12, 0)),
            "2026-07-01T12:00:00.000000Z");
  EXPECT_EQ(NextAfter("0 0 1 feb-mar *", At(2026, 3, 1)), "2027-02-01T00:00:00.000000Z");
}

TEST(CronNextTest, RangeWithStep) {
  const char* cron = "10-30/10 * * * *";
  EXPECT_EQ(NextAfter(cron, At(2026, 3, 10, 10, 5)), "2026-03-10T10:10:00.000000Z");
  EXPECT_EQ(NextAfter(cron, At(2026, 3, 10, 10, 10)), "2026-03-10T10:20:00.000000Z");
  EXPECT_EQ(NextAfter(cron, At(2026, 3, 10, 10, 20)), "2026-03-10T10:30:00.000000Z");
  EXPECT_EQ(NextAfter(cron, At(2026, 3, 10, 10, 30)), "2026-03-10T11:10:00.000000Z");
}

TEST(CronNextTest, StartWithStepRunsToTheEndOfTheField) {
  const auto cron = CronExpression::Parse("5/20 * * * *");
  std::vector<std::string> fires;
  auto t = At(2026, 3, 10, 10, 0);
  for (int i = 0; i < 4; ++i) {
    t = cron.Next(t);
    fires.push_back(Iso(t));
  }
  EXPECT_THAT(fires, ElementsAre("2026-03-10T10:05:00.000000Z", "2026-03-10T10:25:00.000000Z",
                                 "2026-03-10T10:45:00.000000Z", "2026-03-10T11:05:00.000000Z"));
}

TEST(CronNextTest, ListsMixValuesAndRanges) {
  const auto cron = CronExpression::Parse("0 1,5-6,22 * * *");
  std::vector<std::string> fires;
  auto t = At(2026, 3, 10);
  for (int i = 0; i < 5; ++i) {
    t = cron.Next(t);
    fires.push_back(Iso(t));
  }
  EXPECT_THAT(fires, ElementsAre("2026-03-10T01:00:00.000000Z", "2026-03-10T05:00:00.000000Z",
                                 "2026-03-10T06:00:00.000000Z", "2026-03-10T22:00:00.000000Z",
                                 "2026-03-11T01:00:00.000000Z"));
}

TEST(CronNextTest, SixFieldsEveryTenSeconds) {
  // Seconds are the last field, so the step goes there.
  const char* cron = "* * * * * */10";
  EXPECT_EQ(NextAfter(cron, At(2026, 3, 10, 10, 0, 0)), "2026-03-10T10:00:10.000000Z");
  EXPECT_EQ(NextAfter(cron, At(2026, 3, 10, 10, 0, 5) + milliseconds(500)),
            "2026-03-10T10:00:10.000000Z");
  EXPECT_EQ(NextAfter(cron, At(2026, 3, 10, 10, 0, 50)), "2026-03-10T10:01:00.000000Z");
  EXPECT_EQ(NextAfter(cron, At(2026, 12, 31, 23, 59, 55)), "2027-01-01T00:00:00.000000Z");
}

TEST(CronNextTest, SixFieldsLeadingStepIsTheMinute) {
  // "*/10 * * * * *" is every second of minutes 0, 10, 20 ... (not every 10 s).
  const char* cron = "*/10 * * * * *";
  EXPECT_EQ(NextAfter(cron, At(2026, 3, 10, 10, 0, 0)), "2026-03-10T10:00:01.000000Z");
  EXPECT_EQ(NextAfter(cron, At(2026, 3, 10, 10, 0, 59)), "2026-03-10T10:10:00.000000Z");
  EXPECT_EQ(NextAfter(cron, At(2026, 3, 10, 10, 5, 30)), "2026-03-10T10:10:00.000000Z");
}

TEST(CronNextTest, SixFieldsSecondsAreTheLastField) {
  // minute 30, every hour, second 15.
  const char* cron = "30 * * * * 15";
  EXPECT_EQ(NextAfter(cron, At(2026, 3, 10, 10, 0, 0)), "2026-03-10T10:30:15.000000Z");
  EXPECT_EQ(NextAfter(cron, At(2026, 3, 10, 10, 30, 0)), "2026-03-10T10:30:15.000000Z");
  EXPECT_EQ(NextAfter(cron, At(2026, 3, 10, 10, 30, 15)), "2026-03-10T11:30:15.000000Z");
  // Seconds "0" behaves like the five-field form.
  EXPECT_EQ(NextAfter("0 3 * * * 0", At(2026, 3, 10, 4, 0)), "2026-03-11T03:00:00.000000Z");
}

TEST(CronNextTest, StrictlyAfterAFireTime) {
  const auto cron = CronExpression::Parse("0 3 * * *");
  const auto fire = At(2026, 3, 10, 3, 0);
  const auto next = cron.Next(fire);
  EXPECT_GT(next, fire);
  EXPECT_EQ(Iso(next), "2026-03-11T03:00:00.000000Z");
  // One tick before the fire time still gets the fire time.
  EXPECT_EQ(Iso(cron.Next(fire - microseconds(1))), "2026-03-10T03:00:00.000000Z");
}

TEST(CronNextTest, StrictlyAfterWithSubSecondInstants) {
  const auto cron = CronExpression::Parse("* * * * *");
  const auto minute = At(2026, 3, 10, 10, 21);
  EXPECT_EQ(Iso(cron.Next(minute + microseconds(1))), "2026-03-10T10:22:00.000000Z");
  EXPECT_EQ(Iso(cron.Next(minute - microseconds(1))), "2026-03-10T10:21:00.000000Z");
  EXPECT_EQ(Iso(cron.Next(minute + milliseconds(999))), "2026-03-10T10:22:00.000000Z");
  // Sub-microsecond ticks (system_clock may count nanoseconds).
  EXPECT_EQ(Iso(cron.Next(minute - Clock::duration(1))), "2026-03-10T10:21:00.000000Z");

  const auto every_second = CronExpression::Parse("* * * * * *");
  const auto second = At(2026, 3, 10, 10, 21, 7);
  EXPECT_EQ(Iso(every_second.Next(second)), "2026-03-10T10:21:08.000000Z");
  EXPECT_EQ(Iso(every_second.Next(second + microseconds(1))), "2026-03-10T10:21:08.000000Z");
  EXPECT_EQ(Iso(every_second.Next(second - microseconds(1))), "2026-03-10T10:21:07.000000Z");
}

TEST(CronNextTest, ResultIsAlwaysWholeSeconds) {
  const auto cron = CronExpression::Parse("* * * * * */10");
  const auto next = cron.Next(At(2026, 3, 10) + microseconds(123456));
  EXPECT_EQ(Iso(next), "2026-03-10T00:00:10.000000Z");
  EXPECT_EQ(next.time_since_epoch() % seconds(1), Clock::duration::zero());
}

}  // namespace
}  // namespace pgq
