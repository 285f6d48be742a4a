// The trigger's NOTIFY contract (spec 1.8): INSERT, DELETE and TRUNCATE send
// exactly one table_changed_event per statement; UPDATEs send none. A marker
// NOTIFY sent afterwards on the same connection bounds each wait: events are
// delivered in commit order, so everything a statement sent arrives first.

#include <gmock/gmock.h>

#include <nlohmann/json.hpp>

#include "pg_fixture.h"

namespace pgq {
namespace {

using testing::NotificationLog;
using testing::PgTest;

class NotifyTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    Install();
    listener_ = std::make_unique<ConnectionDriver>(Options());
    subscription_ = listener_->Listen(settings().channel, log_.Callback());
    driver_ = std::make_unique<ConnectionDriver>(Options());
    queries_ = std::make_unique<Queries>(*driver_, settings());
  }
  void TearDown() override {
    subscription_.reset();
    PgTest::TearDown();
  }
  // Everything the statements since the last call sent.
  std::vector<Notification> Events() {
    const std::string marker = "marker-" + testing::RandomToken();
    driver_->Notify(settings().channel, marker);
    return log_.UntilPayload(marker);
  }
  std::string Worker() { return Scalar("SELECT gen_random_uuid()::text"); }

  NotificationLog log_;
  std::unique_ptr<ConnectionDriver> listener_;
  std::unique_ptr<Subscription> subscription_;
  std::unique_ptr<ConnectionDriver> driver_;
  std::unique_ptr<Queries> queries_;
};

TEST_F(NotifyTest, InsertSendsOneEventWithDocumentedPayload) {
  std::vector<NewJob> jobs(3);
  for (auto& job : jobs) job.entrypoint = "n";
  queries_->Enqueue(jobs);
  auto events = Events();
  ASSERT_EQ(events.size(), 1u);
  const auto payload = nlohmann::json::parse(events[0].payload);
  EXPECT_EQ(payload["channel"], settings().channel);
  EXPECT_EQ(payload["operation"], "insert");
  EXPECT_EQ(payload["table"], "pgqueuer");  // bare name, even with a schema
  EXPECT_EQ(payload["type"], "table_changed_event");
  const std::string sent_at = payload["sent_at"];
  // An aware ISO timestamp (PostgreSQL's JSON spelling, with an offset).
  EXPECT_THAT(sent_at, ::testing::MatchesRegex(
                           R"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?[+-][0-9]{2}(:[0-9]{2})?)"));
  EXPECT_EQ(payload.size(), 5u);
  // json_build_object(...)::text spells "key" : value with spaces.
  EXPECT_THAT(events[0].payload, ::testing::HasSubstr("\"operation\" : \"insert\""));
}

TEST_F(NotifyTest, UpdatesSendNothing) {
  NewJob job;
  job.entrypoint = "n";
  const auto id = queries_->Enqueue(job);
  ASSERT_EQ(Events().size(), 1u);
  queries_->Dequeue({1, {{"n", 0}}, Worker(), std::nullopt, std::chrono::seconds(30)});
  queries_->Heartbeat({id});
  queries_->Retry(id, std::chrono::seconds(0), std::nullopt);
  queries_->Dequeue({1, {{"n", 0}}, Worker(), std::nullopt, std::chrono::seconds(30)});
  EXPECT_TRUE(Events().empty());
}

TEST_F(NotifyTest, HoldCompletionSendsTheCompletionStatementsDeleteEvent) {
  // The completion statement always carries its DELETE part (as PgQueuer's
  // does), so even a pure hold sends one `delete` event; requeue sends none.
  NewJob job;
  job.entrypoint = "n";
  const auto id = queries_->Enqueue(job);
  queries_->Dequeue({1, {{"n", 0}}, Worker(), std::nullopt, std::chrono::seconds(30)});
  Events();
  queries_->Complete({{id, JobStatus::kFailed, std::nullopt}});
  auto events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(events[0].payload)["operation"], "delete");
  EXPECT_EQ(queries_->Requeue({id}), 1);
  EXPECT_TRUE(Events().empty());
}

TEST_F(NotifyTest, DeleteAndTruncateSendOneEachEvenForZeroRows) {
  NewJob job;
  job.entrypoint = "n";
  const auto a = queries_->Enqueue(job);
  const auto b = queries_->Enqueue(job);
  Events();
  queries_->Complete({{a, JobStatus::kSuccessful, std::nullopt},
                      {b, JobStatus::kSuccessful, std::nullopt}});
  auto deleted = Events();
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(deleted[0].payload)["operation"], "delete");
  queries_->Complete({{a, JobStatus::kSuccessful, std::nullopt}});  // matches nothing
  EXPECT_EQ(Events().size(), 1u);
  queries_->ClearQueue();
  auto truncated = Events();
  ASSERT_EQ(truncated.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(truncated[0].payload)["operation"], "truncate");
}

TEST_F(NotifyTest, AllDuplicateInsertStillSendsOneEvent) {
  NewJob job;
  job.entrypoint = "n";
  job.dedupe_key = "same";
  queries_->Enqueue(job);
  Events();
  auto ids = queries_->Enqueue({job}, OnConflict::kSkip);
  EXPECT_FALSE(ids[0]);
  EXPECT_EQ(Events().size(), 1u);
}

}  // namespace
}  // namespace pgq
