#pragma once
// Every statement the queries run (src/queries/sql/*.sql), rendered once
// for a DBSettings. Internal to pgq_core; the concern classes share one
// through their QueryContext.

#include <string>

#include "pgq/settings.h"
#include "sql/statement_template.h"

namespace pgq::detail {

// Every statement the queries run, rendered once for a DBSettings.
struct SqlText {
  explicit SqlText(const DBSettings& s);
  std::string enqueue_raise, enqueue_skip, live_dedupe_keys, queue_size;
  std::string dequeue, complete, retry, release, requeue, list_failed_newest,
      list_failed_oldest, heartbeat;
  std::string queue_probe, job_status, queue_lag;
  std::string aggregate_locked, aggregate_unlocked, log_statistics;
  std::string statistics_state, default_isolation_setting, server_writability;
  std::string delete_entrypoints, truncate_queue, delete_stats, truncate_stats, delete_log,
      truncate_log;
  std::string insert_schedules, fetch_schedules, schedules_queued, schedule_heartbeat,
      peek_schedules, delete_schedules, truncate_schedules, delete_schedules_named;
  /// The ungated claim (sql/claim.sql): {batch}, {entrypoints} and
  /// {heartbeat_timeout} are written in as literals per claim.
  StatementTemplate dequeue_ungated;
  /// A DO block takes no parameters: {min_changes} is written in.
  StatementTemplate analyze_queue;
};

}  // namespace pgq::detail
