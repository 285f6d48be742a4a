#include "queries/statements.h"

#include "queries/sql_files.h"
#include "sql/literals.h"

namespace pgq::detail {

// The statements themselves are in src/queries/sql/, one file each, named as
// the member that holds them here unless said otherwise.
SqlText::SqlText(const DBSettings& s)
    : dequeue_ungated(SqlTemplate("claim", s)), analyze_queue(SqlTemplate("analyze_queue", s)) {
  const auto statement = [&s](std::string_view name,
                              std::vector<std::pair<std::string_view, std::string>> more = {}) {
    return SqlStatement(name, s, std::move(more));
  };
  enqueue_raise = statement("enqueue_raise");
  enqueue_skip = statement("enqueue");
  live_dedupe_keys = statement("live_dedupe_keys");
  queue_size = statement("queue_size");

  dequeue = statement("claim_gated");
  complete = statement("complete");
  retry = statement("retry");
  release = statement("release");
  requeue = statement("requeue");
  list_failed_newest = statement("list_failed", {{"order", "DESC"}});
  list_failed_oldest = statement("list_failed", {{"order", "ASC"}});
  heartbeat = statement("heartbeat");

  queue_probe = statement("queue_probe");
  job_status = statement("job_status");
  queue_lag = statement("queue_lag");
  statistics_state = statement("statistics_state");
  default_isolation_setting = statement("default_isolation_setting");
  server_writability = statement("server_writability");

  // PgQueuer's lock: hashtext of the (qualified) statistics table name.
  aggregate_locked = statement(
      "aggregate",
      {{"guard", "pg_try_advisory_xact_lock(hashtext(" + QuoteLiteral(s.StatisticsTable()) + "))"}});
  aggregate_unlocked = statement("aggregate", {{"guard", "TRUE"}});
  log_statistics = statement("log_statistics");

  delete_entrypoints = statement("delete_entrypoints");
  delete_stats = statement("delete_statistics");
  delete_log = statement("delete_log");
  truncate_queue = statement("truncate", {{"table", s.QueueTable()}});
  truncate_stats = statement("truncate", {{"table", s.StatisticsTable()}});
  truncate_log = statement("truncate", {{"table", s.LogTable()}});
  truncate_schedules = statement("truncate", {{"table", s.SchedulesTable()}});

  insert_schedules = statement("insert_schedules");
  fetch_schedules = statement("fetch_schedules");
  schedules_queued = statement("schedules_queued");
  schedule_heartbeat = statement("schedule_heartbeat");
  peek_schedules = statement("peek_schedules");
  delete_schedules = statement("delete_schedules");
  delete_schedules_named = statement("delete_schedules_named");
}

}  // namespace pgq::detail
