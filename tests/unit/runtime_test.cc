// Pure-logic tests for the runtime helpers: retry backoff, Python timedelta
// text, UUIDs, TracebackRecord JSON, NOTIFY event JSON and
// Resources. No database, no sleeps, no wall-clock-dependent assertions.

#include "pgq/runtime.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "queries/events.h"
#include "pgq/error.h"
#include "pgq/scheduler.h"
#include "runtime/records.h"
#include "support/test_util.h"

namespace pgq {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

using detail::NewUuid;
using detail::TimedeltaText;
using detail::TracebackJson;
using testing_util::At;

std::vector<std::string> Keys(const nlohmann::ordered_json& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.push_back(key);
  return keys;
}

constexpr const char* kIsoMicros = "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}";

// ---------------------------------------------------------------------------
// RetryPolicy::DelayAfter

TEST(RetryPolicyTest, DefaultsMatchPgQueuer) {
  const RetryPolicy policy;
  EXPECT_EQ(policy.max_attempts, 5);
  EXPECT_EQ(policy.initial_delay, seconds(1));
  EXPECT_EQ(policy.max_delay, std::chrono::minutes(5));
  EXPECT_EQ(policy.multiplier, 2.0);
}

TEST(RetryPolicyTest, DefaultPolicyDoublesThenGivesUp) {
  const RetryPolicy policy;
  EXPECT_EQ(policy.DelayAfter(0), std::optional<microseconds>(seconds(1)));
  EXPECT_EQ(policy.DelayAfter(1), std::optional<microseconds>(seconds(2)));
  EXPECT_EQ(policy.DelayAfter(2), std::optional<microseconds>(seconds(4)));
  EXPECT_EQ(policy.DelayAfter(3), std::optional<microseconds>(seconds(8)));
  EXPECT_EQ(policy.DelayAfter(4), std::optional<microseconds>(seconds(16)));
  EXPECT_EQ(policy.DelayAfter(5), std::nullopt);
  EXPECT_EQ(policy.DelayAfter(6), std::nullopt);
}

TEST(RetryPolicyTest, CapsAtMaxDelay) {
  RetryPolicy policy;
  policy.max_attempts = 100;
  EXPECT_EQ(policy.DelayAfter(8), std::optional<microseconds>(seconds(256)));
  EXPECT_EQ(policy.DelayAfter(9), std::optional<microseconds>(std::chrono::minutes(5)));
  EXPECT_EQ(policy.DelayAfter(20), std::optional<microseconds>(std::chrono::minutes(5)));
  // multiplier^99 is huge; still capped, not overflowed.
  EXPECT_EQ(policy.DelayAfter(99), std::optional<microseconds>(std::chrono::minutes(5)));
  EXPECT_EQ(policy.DelayAfter(100), std::nullopt);
}

TEST(RetryPolicyTest, MultiplierOneKeepsTheInitialDelay) {
  RetryPolicy policy;
  policy.multiplier = 1.0;
  policy.initial_delay = milliseconds(250);
  for (int attempt = 0; attempt < 5; ++attempt) {
    EXPECT_EQ(policy.DelayAfter(attempt), std::optional<microseconds>(milliseconds(250)))
        << "attempt " << attempt;
  }
  EXPECT_EQ(policy.DelayAfter(5), std::nullopt);
}

TEST(RetryPolicyTest, OtherMultiplier) {
  RetryPolicy policy;
  policy.multiplier = 3.0;
  policy.initial_delay = milliseconds(100);
  EXPECT_EQ(policy.DelayAfter(0), std::optional<microseconds>(milliseconds(100)));
  EXPECT_EQ(policy.DelayAfter(2), std::optional<microseconds>(milliseconds(900)));
  EXPECT_EQ(policy.DelayAfter(4), std::optional<microseconds>(milliseconds(8100)));
}

TEST(RetryPolicyTest, ZeroMaxAttemptsNeverRetries) {
  RetryPolicy policy;
  policy.max_attempts = 0;
  EXPECT_EQ(policy.DelayAfter(0), std::nullopt);
}

// ---------------------------------------------------------------------------
// TimedeltaText (Python's str(timedelta))

TEST(TimedeltaTextTest, MatchesPython) {
  EXPECT_EQ(TimedeltaText(microseconds(0)), "0:00:00");
  EXPECT_EQ(TimedeltaText(seconds(30)), "0:00:30");
  EXPECT_EQ(TimedeltaText(std::chrono::minutes(5)), "0:05:00");
  EXPECT_EQ(TimedeltaText(std::chrono::hours(1)), "1:00:00");
  EXPECT_EQ(TimedeltaText(std::chrono::hours(23) + std::chrono::minutes(59) + seconds(59)),
            "23:59:59");
  EXPECT_EQ(TimedeltaText(milliseconds(1500)), "0:00:01.500000");
  EXPECT_EQ(TimedeltaText(microseconds(1)), "0:00:00.000001");
}

TEST(TimedeltaTextTest, Days) {
  EXPECT_EQ(TimedeltaText(std::chrono::hours(24)), "1 day, 0:00:00");
  EXPECT_EQ(TimedeltaText(std::chrono::hours(25)), "1 day, 1:00:00");
  EXPECT_EQ(TimedeltaText(std::chrono::hours(26) + std::chrono::minutes(3) + seconds(4) +
                          milliseconds(500)),
            "1 day, 2:03:04.500000");
  EXPECT_EQ(TimedeltaText(std::chrono::hours(72)), "3 days, 0:00:00");
}

TEST(TimedeltaTextTest, NegativeUsesPythonNormalisation) {
  EXPECT_EQ(TimedeltaText(seconds(-1)), "-1 day, 23:59:59");
  EXPECT_EQ(TimedeltaText(milliseconds(-500)), "-1 day, 23:59:59.500000");
  EXPECT_EQ(TimedeltaText(std::chrono::hours(-24)), "-1 day, 0:00:00");
  EXPECT_EQ(TimedeltaText(std::chrono::hours(-48)), "-2 days, 0:00:00");
  EXPECT_EQ(TimedeltaText(std::chrono::hours(-25)), "-2 days, 23:00:00");
}

// ---------------------------------------------------------------------------
// NewUuid

TEST(NewUuidTest, CanonicalVersionFourAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string uuid = NewUuid();
    ASSERT_THAT(uuid, MatchesRegex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"));
    seen.insert(uuid);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(NewUuidTest, UniqueAcrossThreads) {
  std::vector<std::vector<std::string>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& out : per_thread) {
    threads.emplace_back([&out] {
      for (int i = 0; i < 250; ++i) out.push_back(NewUuid());
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::string> seen;
  for (const auto& out : per_thread) seen.insert(out.begin(), out.end());
  EXPECT_EQ(seen.size(), 1000u);
}

// ---------------------------------------------------------------------------
// TracebackJson

Job SampleJob() {
  Job job;
  job.id = 42;
  job.entrypoint = "send_mail";
  job.attempts = 1;
  return job;
}

TEST(TracebackJsonTest, FailureShape) {
  const std::string text = TracebackJson(SampleJob(), "3f0c1a2b-0000-4000-8000-000000000001",
                                         "std::runtime_error", "smtp said \"no\"",
                                         "line 1\nline 2");
  const auto record = nlohmann::ordered_json::parse(text);
  EXPECT_THAT(Keys(record), ElementsAre("job_id", "timestamp", "exception_type", "exception_message",
                                        "traceback", "additional_context"));
  ASSERT_TRUE(record["job_id"].is_number_integer());
  EXPECT_EQ(record["job_id"].get<JobId>(), 42);
  EXPECT_THAT(record["timestamp"].get<std::string>(),
              MatchesRegex(std::string(kIsoMicros) + "\\+00:00"));
  EXPECT_EQ(record["exception_type"], "std::runtime_error");
  EXPECT_EQ(record["exception_message"], "smtp said \"no\"");
  EXPECT_EQ(record["traceback"], "line 1\nline 2");
  const auto& context = record["additional_context"];
  ASSERT_TRUE(context.is_object());
  EXPECT_THAT(Keys(context), ElementsAre("entrypoint", "queue_manager_id"));
  EXPECT_EQ(context["entrypoint"], "send_mail");
  EXPECT_EQ(context["queue_manager_id"], "3f0c1a2b-0000-4000-8000-000000000001");
}

TEST(TracebackJsonTest, RetryContextIsAppended) {
  nlohmann::ordered_json retry;
  retry["attempt"] = 2;
  retry["retry_delay"] = TimedeltaText(seconds(2));
  retry["reason"] = "rate limited";
  const std::string text =
      TracebackJson(SampleJob(), "qm", "pgq::RetryRequested", "rate limited",
                    "pgq::RetryRequested: rate limited", retry.dump());
  const auto record = nlohmann::ordered_json::parse(text);
  EXPECT_THAT(Keys(record), ElementsAre("job_id", "timestamp", "exception_type", "exception_message",
                                        "traceback", "additional_context"));
  const auto& context = record["additional_context"];
  EXPECT_THAT(Keys(context),
              ElementsAre("entrypoint", "queue_manager_id", "attempt", "retry_delay", "reason"));
  EXPECT_EQ(context["entrypoint"], "send_mail");
  EXPECT_EQ(context["queue_manager_id"], "qm");
  EXPECT_EQ(context["attempt"], 2);
  EXPECT_EQ(context["retry_delay"], "0:00:02");
  EXPECT_EQ(context["reason"], "rate limited");
}

// ---------------------------------------------------------------------------
// Events

TEST(EventsTest, IsoUtcFormats) {
  const auto when = At(2025, 1, 1, 10, 0, 0) + microseconds(123456);
  EXPECT_EQ(detail::IsoUtc(when), "2025-01-01T10:00:00.123456Z");
  EXPECT_EQ(detail::IsoUtcOffset(when), "2025-01-01T10:00:00.123456+00:00");
  EXPECT_EQ(detail::IsoUtc(Clock::time_point{}), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(detail::IsoUtc(At(2028, 2, 29, 23, 59, 59)), "2028-02-29T23:59:59.000000Z");
}

TEST(EventsTest, EventJsonKeyOrderAndTimestamps) {
  nlohmann::ordered_json extra;
  extra["id"] = "abc";
  const std::string payload = detail::EventJson("ch_pgqueuer", "health_check_event", extra);
  const auto event = nlohmann::ordered_json::parse(payload);
  EXPECT_THAT(Keys(event), ElementsAre("channel", "sent_at", "type", "received_at", "id"));
  EXPECT_EQ(event["channel"], "ch_pgqueuer");
  EXPECT_EQ(event["type"], "health_check_event");
  EXPECT_EQ(event["id"], "abc");
  EXPECT_THAT(event["sent_at"].get<std::string>(), MatchesRegex(std::string(kIsoMicros) + "Z"));
  EXPECT_THAT(event["received_at"].get<std::string>(), MatchesRegex(std::string(kIsoMicros) + "Z"));
  // Compact, like pydantic's output.
  EXPECT_EQ(payload, event.dump());
  EXPECT_THAT(payload, Not(HasSubstr(" ")));
}

TEST(EventsTest, EventJsonCancellationRoundTrips) {
  nlohmann::ordered_json extra;
  extra["ids"] = {1, 2, 300000000000};
  const std::string payload = detail::EventJson("my_channel", "cancellation_event", extra);
  const auto event = nlohmann::ordered_json::parse(payload);
  EXPECT_THAT(Keys(event), ElementsAre("channel", "sent_at", "type", "received_at", "ids"));
  const auto parsed = detail::ParseEvent(payload);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->type, "cancellation_event");
  EXPECT_THAT(parsed->ids, ElementsAre(1, 2, 300000000000));
  EXPECT_EQ(parsed->id, "");
}

TEST(EventsTest, OnlyInsertsAndUpdatesWakeAWorkerWithoutLimits) {
  // The trigger's payload shape (spaces after the colons, as json_build_object writes it).
  auto event = [](const std::string& op) {
    return *detail::ParseEvent(R"({"channel" : "ch_pgqueuer", "operation" : ")" + op +
                               R"(", "sent_at" : "2025-01-01T00:00:00+00:00", "table" : "pgqueuer", "type" : "table_changed_event"})");
  };
  EXPECT_EQ(event("delete").operation, "delete");
  for (const bool limited : {false, true}) {
    EXPECT_TRUE(detail::MayMeanNewWork(event("insert"), limited));
    EXPECT_TRUE(detail::MayMeanNewWork(event("update"), limited));
    EXPECT_TRUE(detail::MayMeanNewWork(event("something new"), limited));
    EXPECT_TRUE(detail::MayMeanNewWork(*detail::ParseEvent(R"({"type":"table_changed_event"})"),
                                       limited));
    // A completion frees a slot: only a worker with a limited entrypoint cares.
    EXPECT_EQ(detail::MayMeanNewWork(event("delete"), limited), limited);
    EXPECT_EQ(detail::MayMeanNewWork(event("truncate"), limited), limited);
  }
}

TEST(EventsTest, ParseEventRejectsNonEvents) {
  EXPECT_EQ(detail::ParseEvent(""), std::nullopt);
  EXPECT_EQ(detail::ParseEvent("not json"), std::nullopt);
  EXPECT_EQ(detail::ParseEvent("{\"type\": "), std::nullopt);
  EXPECT_EQ(detail::ParseEvent("[1, 2]"), std::nullopt);
  EXPECT_EQ(detail::ParseEvent("\"table_changed_event\""), std::nullopt);
  EXPECT_EQ(detail::ParseEvent("42"), std::nullopt);
  EXPECT_EQ(detail::ParseEvent("null"), std::nullopt);
  EXPECT_EQ(detail::ParseEvent(R"({"channel":"ch_pgqueuer","sent_at":"2025-01-01T00:00:00Z"})"),
            std::nullopt);
  EXPECT_EQ(detail::ParseEvent(R"({"type":5})"), std::nullopt);
  EXPECT_EQ(detail::ParseEvent(R"({"type":null})"), std::nullopt);
}

TEST(EventsTest, ParseEventToleratesExtraKeys) {
  const auto event = detail::ParseEvent(
      R"({"channel":"ch_pgqueuer","sent_at":"2025-01-01T10:00:00.000000Z","type":"table_changed_event",)"
      R"("received_at":"2025-01-01T10:00:00.000000Z","operation":"insert","table":"pgqueuer","x":{"y":[1]}})");
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->type, "table_changed_event");
  EXPECT_THAT(event->ids, IsEmpty());
  EXPECT_EQ(event->id, "");
}

TEST(EventsTest, ParseEventKeepsUnknownTypes) {
  // The caller decides what to do with a type it does not know.
  const auto event =
      detail::ParseEvent(R"({"type":"requests_per_second_event","entrypoint_count":{"a":1}})");
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->type, "requests_per_second_event");
}

TEST(EventsTest, ParseEventExtractsCancellationIds) {
  const auto event = detail::ParseEvent(R"({"type":"cancellation_event","ids":[7,8,9]})");
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->type, "cancellation_event");
  EXPECT_THAT(event->ids, ElementsAre(7, 8, 9));
}

TEST(EventsTest, ParseEventIgnoresNonIntegerIds) {
  const auto event = detail::ParseEvent(
      R"({"type":"cancellation_event","ids":[1,"2",3.5,null,true,[4],{"id":5},6]})");
  ASSERT_TRUE(event.has_value());
  EXPECT_THAT(event->ids, ElementsAre(1, 6));
  const auto not_a_list = detail::ParseEvent(R"({"type":"cancellation_event","ids":12})");
  ASSERT_TRUE(not_a_list.has_value());
  EXPECT_THAT(not_a_list->ids, IsEmpty());
}

TEST(EventsTest, ParseEventExtractsHealthCheckId) {
  const auto event = detail::ParseEvent(
      R"({"channel":"ch","sent_at":"2025-01-01T10:00:00Z","type":"health_check_event","id":"8c1f8ac5-2a4b-4f3e-9d6c-0123456789ab"})");
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->type, "health_check_event");
  EXPECT_EQ(event->id, "8c1f8ac5-2a4b-4f3e-9d6c-0123456789ab");
  const auto numeric = detail::ParseEvent(R"({"type":"health_check_event","id":17})");
  ASSERT_TRUE(numeric.has_value());
  EXPECT_EQ(numeric->id, "");
}

TEST(EventsTest, HealthCheckRoundTrip) {
  const std::string probe = NewUuid();
  nlohmann::ordered_json extra;
  extra["id"] = probe;
  const auto event = detail::ParseEvent(detail::EventJson("ch_pgqueuer", "health_check_event", extra));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->type, "health_check_event");
  EXPECT_EQ(event->id, probe);
  EXPECT_THAT(event->ids, IsEmpty());
}

// ---------------------------------------------------------------------------
// Resources

TEST(ResourcesTest, SetAndGetWithTheRightType) {
  Resources resources;
  resources.Set("count", 5);
  resources.Set("name", std::string("pool"));
  EXPECT_EQ(resources.Get<int>("count"), std::optional<int>(5));
  EXPECT_EQ(resources.Get<std::string>("name"), std::optional<std::string>("pool"));
}

TEST(ResourcesTest, WrongTypeOrMissingIsNullopt) {
  Resources resources;
  resources.Set("count", 5);
  EXPECT_EQ(resources.Get<std::string>("count"), std::nullopt);
  EXPECT_EQ(resources.Get<long>("count"), std::nullopt);
  EXPECT_EQ(resources.Get<double>("count"), std::nullopt);
  EXPECT_EQ(resources.Get<int>("missing"), std::nullopt);
  // A string literal is stored as const char*, not std::string.
  resources.Set("literal", "text");
  EXPECT_EQ(resources.Get<std::string>("literal"), std::nullopt);
  ASSERT_TRUE(resources.Get<const char*>("literal").has_value());
  EXPECT_STREQ(*resources.Get<const char*>("literal"), "text");
}

TEST(ResourcesTest, Contains) {
  Resources resources;
  EXPECT_FALSE(resources.Contains("db"));
  resources.Set("db", std::make_shared<int>(1));
  EXPECT_TRUE(resources.Contains("db"));
  EXPECT_FALSE(resources.Contains("DB"));
  // An empty std::any still counts as present.
  resources.Set("empty", std::any{});
  EXPECT_TRUE(resources.Contains("empty"));
  EXPECT_EQ(resources.Get<int>("empty"), std::nullopt);
}

TEST(ResourcesTest, OverwriteReplacesValueAndType) {
  Resources resources;
  resources.Set("k", 1);
  resources.Set("k", std::string("two"));
  EXPECT_EQ(resources.Get<int>("k"), std::nullopt);
  EXPECT_EQ(resources.Get<std::string>("k"), std::optional<std::string>("two"));
}

TEST(ResourcesTest, SharedPointersAreShared) {
  Resources resources;
  auto counter = std::make_shared<int>(0);
  resources.Set("counter", counter);
  auto fetched = resources.Get<std::shared_ptr<int>>("counter");
  ASSERT_TRUE(fetched.has_value());
  **fetched = 7;
  EXPECT_EQ(*counter, 7);
}

TEST(ResourcesTest, ConcurrentSetAndGet) {
  Resources resources;
  constexpr int kThreads = 4;
  constexpr int kRounds = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&resources, t] {
      const std::string own = "key" + std::to_string(t);
      const std::string other = "key" + std::to_string((t + 1) % kThreads);
      for (int i = 0; i < kRounds; ++i) {
        resources.Set(own, i);
        resources.Set("shared", t);
        (void)resources.Get<int>(other);
        (void)resources.Get<int>("shared");
        (void)resources.Contains(other);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(resources.Get<int>("key" + std::to_string(t)), std::optional<int>(kRounds - 1));
  }
  const auto shared = resources.Get<int>("shared");
  ASSERT_TRUE(shared.has_value());
  EXPECT_GE(*shared, 0);
  EXPECT_LT(*shared, kThreads);
}

// ---------------------------------------------------------------------------
// RetryRequested

TEST(RetryRequestedTest, CarriesDelayAndReason) {
  try {
    throw RetryRequested(seconds(3), "rate limited");
  } catch (const std::runtime_error& error) {
    const auto* retry = dynamic_cast<const RetryRequested*>(&error);
    ASSERT_NE(retry, nullptr);
    EXPECT_EQ(retry->delay(), seconds(3));
    EXPECT_EQ(retry->reason(), "rate limited");
    EXPECT_STREQ(error.what(), "rate limited");
  }
}

TEST(RetryRequestedTest, Defaults) {
  const RetryRequested retry;
  EXPECT_EQ(retry.delay(), microseconds(0));
  EXPECT_EQ(retry.reason(), "");
  EXPECT_STREQ(retry.what(), "retry requested");
}

}  // namespace
}  // namespace pgq
