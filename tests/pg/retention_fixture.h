// The fixture the retention tests share: jobs run through enqueue, claim and
// completion on a real server, then moved into the past so a prune takes them.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "pg_fixture.h"
#include "pgq/retention.h"

namespace pgq::testing {

class RetentionPgTest : public QueriesPgTest {
 protected:
  static constexpr auto kHeartbeatTimeout =
      std::chrono::microseconds(std::chrono::seconds(30));

  void SetUp() override {
    QueriesPgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    worker_ = Worker();
  }

  std::string Log() { return settings().LogTable(); }
  std::string Queue() { return settings().QueueTable(); }
  std::string Stats() { return settings().StatisticsTable(); }

  std::vector<JobId> Enqueue(const std::string& entrypoint, int n) {
    std::vector<NewJob> jobs(static_cast<std::size_t>(n));
    for (auto& job : jobs) job.entrypoint = entrypoint;
    std::vector<JobId> ids;
    for (const auto& id : q().Enqueue(jobs)) ids.push_back(*id);
    return ids;
  }
  // Claims up to n jobs of the entrypoint; returns their ids.
  std::vector<JobId> Claim(const std::string& entrypoint, int n) {
    std::vector<JobId> ids;
    for (const auto& job : q().Dequeue({n, {{entrypoint, 0}}, worker_, std::nullopt,
                                        kHeartbeatTimeout})) {
      ids.push_back(job.id);
    }
    return ids;
  }
  void Finish(const std::vector<JobId>& ids, JobStatus status) {
    std::vector<Completion> done;
    for (auto id : ids) done.push_back({id, status, std::nullopt});
    q().Complete(done);
  }
  // Enqueues, claims and completes n jobs: three log rows each; kFailed
  // holds them in the queue table.
  std::vector<JobId> RunJobs(const std::string& entrypoint, int n,
                             JobStatus status = JobStatus::kSuccessful) {
    Enqueue(entrypoint, n);
    auto ids = Claim(entrypoint, n);
    Finish(ids, status);
    return ids;
  }
  static std::string List(const std::vector<JobId>& ids) {
    std::string list;
    for (auto id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
    return list;
  }
  // Moves the log rows of these jobs `age` into the past.
  void AgeLog(const std::vector<JobId>& ids, std::chrono::seconds age) {
    admin().Execute("UPDATE " + Log() + " SET created = created - " + Seconds(age) +
                    " WHERE job_id IN (" + List(ids) + ")");
  }
  // Moves these jobs' queue rows (`updated`, the time a job was held) and
  // their log rows `age` into the past.
  void AgeJobs(const std::vector<JobId>& ids, std::chrono::seconds age) {
    admin().Execute("UPDATE " + Queue() + " SET updated = updated - " + Seconds(age) +
                    ", created = created - " + Seconds(age) + " WHERE id IN (" + List(ids) + ")");
    AgeLog(ids, age);
  }
  std::int64_t LogRowsOf(JobId id) {
    return Count("SELECT count(*) FROM " + Log() + " WHERE job_id = $1", {std::to_string(id)});
  }
  bool InQueue(JobId id) {
    return Count("SELECT count(*) FROM " + Queue() + " WHERE id = $1", {std::to_string(id)}) == 1;
  }
  // Every statistics row, for comparing before and after.
  std::string StatisticsSnapshot() {
    return Scalar("SELECT string_agg(concat_ws('|', created, entrypoint, priority, status, count),"
                  " ';' ORDER BY id) FROM " + Stats());
  }

  std::string worker_;

 private:
  static std::string Seconds(std::chrono::seconds age) {
    return std::to_string(age.count()) + " * INTERVAL '1 second'";
  }
};

}  // namespace pgq::testing
