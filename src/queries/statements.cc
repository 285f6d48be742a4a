#include "queries/statements.h"

#include <string_view>
#include <utility>

#include "queries/sql_files.h"
#include "sql/literals.h"

namespace pgq::detail {
namespace {

// The members that hold one file's statement as it is, by file name.
constexpr std::pair<std::string SqlText::*, std::string_view> kFiles[] = {
    {&SqlText::enqueue_raise, "enqueue_raise"},
    {&SqlText::enqueue_skip, "enqueue"},
    {&SqlText::live_dedupe_keys, "live_dedupe_keys"},
    {&SqlText::queue_size, "queue_size"},
    {&SqlText::dequeue, "claim_gated"},
    {&SqlText::complete, "complete"},
    {&SqlText::retry, "retry"},
    {&SqlText::release, "release"},
    {&SqlText::requeue, "requeue"},
    {&SqlText::heartbeat, "heartbeat"},
    {&SqlText::queue_probe, "queue_probe"},
    {&SqlText::job_status, "job_status"},
    {&SqlText::queue_lag, "queue_lag"},
    {&SqlText::statistics_state, "statistics_state"},
    {&SqlText::default_isolation_setting, "default_isolation_setting"},
    {&SqlText::server_writability, "server_writability"},
    {&SqlText::log_statistics, "log_statistics"},
    {&SqlText::delete_entrypoints, "delete_entrypoints"},
    {&SqlText::delete_stats, "delete_statistics"},
    {&SqlText::delete_log, "delete_log"},
    {&SqlText::insert_schedules, "insert_schedules"},
    {&SqlText::fetch_schedules, "fetch_schedules"},
    {&SqlText::schedules_queued, "schedules_queued"},
    {&SqlText::schedule_heartbeat, "schedule_heartbeat"},
    {&SqlText::peek_schedules, "peek_schedules"},
    {&SqlText::delete_schedules, "delete_schedules"},
    {&SqlText::delete_schedules_named, "delete_schedules_named"},
};

}  // namespace

// The statements themselves are in src/queries/sql/, one file each.
SqlText::SqlText(const DBSettings& s)
    : dequeue_ungated(SqlTemplate("claim", s)), analyze_queue(SqlTemplate("analyze_queue", s)) {
  for (const auto& [member, name] : kFiles) this->*member = SqlStatement(name, s);

  // The files written in more than one form.
  list_failed_newest = SqlStatement("list_failed", s, {{"order", "DESC"}});
  list_failed_oldest = SqlStatement("list_failed", s, {{"order", "ASC"}});
  // PgQueuer's lock: hashtext of the (qualified) statistics table name.
  aggregate_locked = SqlStatement(
      "aggregate", s,
      {{"guard", "pg_try_advisory_xact_lock(hashtext(" + QuoteLiteral(s.StatisticsTable()) + "))"}});
  aggregate_unlocked = SqlStatement("aggregate", s, {{"guard", "TRUE"}});
  truncate_queue = SqlStatement("truncate", s, {{"table", s.QueueTable()}});
  truncate_stats = SqlStatement("truncate", s, {{"table", s.StatisticsTable()}});
  truncate_log = SqlStatement("truncate", s, {{"table", s.LogTable()}});
  truncate_schedules = SqlStatement("truncate", s, {{"table", s.SchedulesTable()}});
}

}  // namespace pgq::detail
