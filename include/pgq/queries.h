#pragma once
/// @file
/// The queue's SQL operations, each one autocommit statement whose
/// semantics match PgQueuer 1.3 (see docs/compatibility.md). The
/// operations live in classes by concern (job_queries.h,
/// schedule_queries.h, admin_queries.h); Queries brings them together.

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pgq/admin_queries.h"
#include "pgq/driver.h"
#include "pgq/job.h"
#include "pgq/job_queries.h"
#include "pgq/schedule_queries.h"
#include "pgq/settings.h"

namespace pgq {

/// The claim and completion statements as the worker prepares them (with
/// $n parameters), by name: "claim" (no limits, no cap; the worker writes
/// the batch size, the entrypoint array and the heartbeat timeout in as
/// literals for `{batch}`, `{entrypoints}` and `{heartbeat_timeout}`),
/// "claim_gated" and "complete"; then the enqueue statement: "enqueue"
/// (OnConflict::kSkip, as BatchingProducer sends it) and "enqueue_raise"
/// (kRaise, ProducerQueries' default). For review (`pgq sql statements`)
/// and for bench/pgbench, which runs them.
std::vector<std::pair<std::string, std::string>> WorkerStatements(const DBSettings& settings);

/// Every statement pgq runs, by the name of its file (src/queries/sql/NAME.sql),
/// in name order, with the object names of `settings` written in; values
/// written in per call or per use stay `{placeholders}`, as in the file
/// (`pgq sql statements --all`).
std::vector<std::pair<std::string, std::string>> AllStatements(const DBSettings& settings);

/// Producer operations. Needs only an Executor, so it works on the
/// enqueue-only SyncDriver, a Driver, a pool lease, or a caller's
/// transaction (see pgq/pqxx.h).
class ProducerQueries {
 public:
  ProducerQueries(Executor& executor, DBSettings settings);

  /// Inserts all jobs in one statement and writes a `queued` log row for
  /// each. Returns ids in input order; with kSkip, nullopt where a live job
  /// already holds the dedupe key. With kRaise a conflict rejects the whole
  /// batch with DuplicateJobError listing the keys.
  std::vector<std::optional<JobId>> Enqueue(const std::vector<NewJob>& jobs,
                                            OnConflict on_conflict = OnConflict::kRaise);
  JobId Enqueue(const NewJob& job);

  /// Rows per (entrypoint, priority, status).
  std::vector<QueueCount> QueueSize();

  const DBSettings& settings() const noexcept;

 protected:
  explicit ProducerQueries(std::shared_ptr<const detail::QueryContext> context);

 private:
  std::shared_ptr<const detail::QueryContext> context_;
};

/// Consumer, schedule and admin operations. Requires a full Driver.
class Queries : public ProducerQueries,
                public JobQueries,
                public ScheduleQueries,
                public AdminQueries {
 public:
  Queries(Driver& driver, DBSettings settings);

  Driver& driver() noexcept { return driver_; }

 private:
  Queries(Driver& driver, std::shared_ptr<const detail::QueryContext> context);

  Driver& driver_;
};

}  // namespace pgq
