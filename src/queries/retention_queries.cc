// Pruning of the log and statistics tables, and the size of each table.
//
// A batch is one simple-protocol query string: two SET LOCALs and one
// statement. PostgreSQL runs such a string as one implicit transaction, so
// the timeouts hold for that batch only and nothing is left on the session
// (a pooled connection goes back as it came). The values are numbers and
// intervals we render ourselves, written in as literals: the simple protocol
// takes no parameters.
//
// Which log rows may go (see docs/operations.md#what-pgq-prunes):
//   - older than the cutoff;
//   - aggregated: rolled into statistics already, so statistics stay exact
//     (aggregation flips `aggregated` to TRUE in the same statement that adds
//     the counts, under PgQueuer's lock; a row read as aggregated here has
//     been counted);
//   - of a job no longer in the queue table: the job finished (successful,
//     exception, canceled or deleted). Queued, picked and held (`failed`)
//     jobs keep every log row, whatever their age.
// The log is walked along its `created` index with a (created, id) cursor,
// so rows that must stay are read once per run, not once per batch.
//
// Statistics have no index on `created` alone, but their unique index is on
// (priority, second, ...): for each distinct priority the old seconds are one
// index range. A batch deletes up to `batch` of them; the run goes on until a
// batch deletes fewer. A dry run counts them all in one statement.

#include "pgq/retention.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pgq/error.h"
#include "sql/literals.h"
#include "sql/statement_template.h"

namespace pgq {
namespace detail {

struct RetentionSql {
  explicit RetentionSql(const DBSettings& s);
  StatementTemplate log_batch, log_batch_dry, statistics_batch, statistics_batch_dry;
  std::string table_sizes, unaggregated;
};

namespace {

// The fleet-wide prune lock: two-key space (apart from PgQueuer's one-key
// aggregation lock), keyed by the qualified log table like the ANALYZE lock
// is keyed by the queue table.
std::string Guard(const DBSettings& s, bool recursive = false) {
  return std::string(recursive ? "WITH RECURSIVE" : "WITH") + " guard AS MATERIALIZED (\n"
         "    SELECT pg_try_advisory_xact_lock(hashtext(" +
         QuoteLiteral(s.LogTable()) +
         "), hashtext('pgq prune')) AS won\n)";
}

constexpr const char* kTimeouts =
    "SET LOCAL lock_timeout = {lock_timeout_ms};\n"
    "SET LOCAL statement_timeout = {statement_timeout_ms};\n";

std::string LogBatch(const DBSettings& s, bool dry) {
  const std::string log = s.LogTable();
  const std::string removed =
      dry ? "removed AS (SELECT id FROM doomed)"
          : "removed AS (\n    DELETE FROM " + log +
                " AS l USING doomed d WHERE l.id = d.id RETURNING l.id\n)";
  return std::string(kTimeouts) + Guard(s) +
         ", scanned AS MATERIALIZED (\n"
         "    SELECT id, created, job_id, aggregated FROM " + log +
         "\n    WHERE (SELECT won FROM guard)\n"
         "      AND created < NOW() - {older_than}::interval\n"
         "      AND created >= {after}::timestamptz\n"
         "      AND (created > {after}::timestamptz OR id > {after_id})\n"
         "    ORDER BY created, id LIMIT {batch}\n"
         "), doomed AS (\n"
         "    SELECT s.id FROM scanned s\n"
         "    WHERE s.aggregated\n"
         "      AND NOT EXISTS (SELECT 1 FROM " + s.QueueTable() +
         " q WHERE q.id = s.job_id)\n"
         "), " + removed +
         "\nSELECT (SELECT won FROM guard) AS won,\n"
         "       (SELECT count(*) FROM scanned) AS scanned,\n"
         "       (SELECT count(*) FROM removed) AS removed,\n"
         "       last.created_us, last.id AS last_id\n"
         "FROM (SELECT 1) AS one LEFT JOIN LATERAL (\n"
         "    SELECT (EXTRACT(EPOCH FROM created) * 1000000)::bigint AS created_us, id\n"
         "    FROM scanned ORDER BY created DESC, id DESC LIMIT 1\n"
         ") last ON TRUE";
}

std::string StatisticsBatch(const DBSettings& s, bool dry) {
  const std::string stats = s.StatisticsTable();
  // The same expression as the unique index, so that (priority, second) is
  // an index range for each priority.
  const std::string old_enough = "DATE_TRUNC('sec', t.created AT TIME ZONE 'UTC') < "
                                 "(NOW() - {older_than}::interval) AT TIME ZONE 'UTC'";
  // The distinct priorities, one index probe each (a loose index scan).
  std::string sql = std::string(kTimeouts) + Guard(s, /*recursive=*/true) +
                    ", priorities AS (\n"
                    "    SELECT (SELECT min(priority) FROM " + stats +
                    ") AS v WHERE (SELECT won FROM guard)\n"
                    "    UNION ALL\n"
                    "    SELECT (SELECT min(priority) FROM " + stats +
                    " WHERE priority > p.v) FROM priorities p WHERE p.v IS NOT NULL\n)";
  if (dry) {
    return sql +
           "\nSELECT (SELECT won FROM guard) AS won, COALESCE(sum(c.n), 0) AS removed\n"
           "FROM priorities p CROSS JOIN LATERAL (\n"
           "    SELECT count(*) AS n FROM " + stats + " t WHERE t.priority = p.v AND " +
           old_enough + "\n) c WHERE p.v IS NOT NULL";
  }
  return sql +
         ", doomed AS MATERIALIZED (\n"
         "    SELECT o.id FROM priorities p CROSS JOIN LATERAL (\n"
         "        SELECT t.id FROM " + stats + " t WHERE t.priority = p.v AND " + old_enough +
         "\n        LIMIT {batch}\n"
         "    ) o WHERE p.v IS NOT NULL LIMIT {batch}\n"
         "), removed AS (\n"
         "    DELETE FROM " + stats + " AS t USING doomed d WHERE t.id = d.id RETURNING t.id\n"
         ")\n"
         "SELECT (SELECT won FROM guard) AS won, (SELECT count(*) FROM removed) AS removed";
}

}  // namespace

RetentionSql::RetentionSql(const DBSettings& s)
    : log_batch(LogBatch(s, false)),
      log_batch_dry(LogBatch(s, true)),
      statistics_batch(StatisticsBatch(s, false)),
      statistics_batch_dry(StatisticsBatch(s, true)) {
  std::string tables;
  const std::pair<const char*, std::string> named[] = {{"queue", s.QueueTable()},
                                                       {"log", s.LogTable()},
                                                       {"statistics", s.StatisticsTable()},
                                                       {"schedules", s.SchedulesTable()}};
  int ord = 0;
  for (const auto& [name, table] : named) {
    tables += std::string(ord ? ",\n       " : "") + "(" + std::to_string(ord) + ", '" + name +
              "', to_regclass(" + QuoteLiteral(table) + "))";
    ++ord;
  }
  // reltuples is -1 before the first VACUUM or ANALYZE: reported as 0.
  table_sizes =
      "SELECT n.name, greatest(COALESCE(c.reltuples, 0), 0)::bigint AS estimated_rows,\n"
      "       COALESCE(pg_total_relation_size(c.oid), 0) AS bytes\n"
      "FROM (VALUES " + tables +
      ") AS n(ord, name, rel)\n"
      "LEFT JOIN pg_class c ON c.oid = n.rel ORDER BY n.ord";
  // Served by the log's partial index on NOT aggregated.
  unaggregated = "SELECT count(*) AS n FROM (SELECT 1 FROM " + s.LogTable() +
                 " WHERE NOT aggregated LIMIT $1::bigint) AS pending";
}

}  // namespace detail

namespace {

using SteadyClock = std::chrono::steady_clock;

std::string Millis(std::chrono::milliseconds value) {
  return std::to_string(std::max<std::int64_t>(value.count(), 0));
}

// One batch's answer.
struct Batch {
  bool won = false;
  std::int64_t scanned = 0;
  std::int64_t removed = 0;
  std::optional<std::string> last_created_us;
  std::optional<std::string> last_id;
};

// A log batch's answer.
Batch RunLogBatch(Executor& executor, const std::string& sql) {
  const auto rows = executor.Fetch(sql);
  Batch b;
  b.won = rows.Text(0, "won") == "t";
  b.scanned = rows.Int(0, "scanned");
  b.removed = rows.Int(0, "removed");
  b.last_created_us = rows.At(0, "created_us");
  b.last_id = rows.At(0, "last_id");
  return b;
}

}  // namespace

RetentionQueries::RetentionQueries(Executor& executor, DBSettings settings)
    : executor_(executor),
      sql_(std::make_shared<const detail::RetentionSql>([&] {
        settings.Validate();
        return settings;
      }())) {}

PruneReport RetentionQueries::Prune(const RetentionPolicy& policy) {
  if (policy.batch < 1) throw LogicError("prune batch must be at least 1");
  PruneReport report;
  const auto start = SteadyClock::now();
  const auto out_of_time = [&] { return SteadyClock::now() - start >= policy.time_budget; };
  const std::vector<std::pair<std::string_view, std::string>> common = {
      {"lock_timeout_ms", Millis(policy.lock_timeout)},
      {"statement_timeout_ms", Millis(policy.statement_timeout)}};
  const std::string batch = std::to_string(policy.batch);
  auto with = [&](std::vector<std::pair<std::string_view, std::string>> more) {
    more.insert(more.end(), common.begin(), common.end());
    return more;
  };
  // false: the run ends here (lock lost, or nothing was ever won).
  auto account = [&](const Batch& b) {
    if (!b.won) {
      if (report.ran) report.yielded = true;
      return false;
    }
    report.ran = true;
    ++report.batches;
    return true;
  };
  bool done = true;

  if (policy.log_older_than.count() > 0) {
    const auto& statement = policy.dry_run ? sql_->log_batch_dry : sql_->log_batch;
    const std::string older_than =
        detail::QuoteLiteral(detail::IntervalLiteral(policy.log_older_than));
    std::string after = "'-infinity'";
    std::string after_id = "0";
    for (;;) {
      if (out_of_time()) {
        done = false;
        break;
      }
      const Batch b = RunLogBatch(executor_, statement.Render(with({{"older_than", older_than},
                                                                    {"after", after},
                                                                    {"after_id", after_id},
                                                                    {"batch", batch}})));
      if (!account(b)) {
        report.took = SteadyClock::now() - start;
        return report;
      }
      report.log_rows += b.removed;
      if (b.scanned < policy.batch || !b.last_created_us || !b.last_id) break;
      after = "('epoch'::timestamptz + " + *b.last_created_us + " * INTERVAL '1 microsecond')";
      after_id = *b.last_id;
    }
  }

  if (done && policy.statistics_older_than.count() > 0) {
    const auto& statement =
        policy.dry_run ? sql_->statistics_batch_dry : sql_->statistics_batch;
    const std::string older_than =
        detail::QuoteLiteral(detail::IntervalLiteral(policy.statistics_older_than));
    for (;;) {
      if (out_of_time()) {
        done = false;
        break;
      }
      std::vector<std::pair<std::string_view, std::string>> values = {
          {"older_than", older_than}};
      if (!policy.dry_run) values.emplace_back("batch", batch);
      const auto rows = executor_.Fetch(statement.Render(with(std::move(values))));
      Batch b;
      b.won = rows.Text(0, "won") == "t";
      b.removed = rows.Int(0, "removed");
      if (!account(b)) {
        report.took = SteadyClock::now() - start;
        return report;
      }
      report.statistics_rows += b.removed;
      if (policy.dry_run || b.removed < policy.batch) break;
    }
  }
  report.complete = done;
  report.took = SteadyClock::now() - start;
  return report;
}

std::vector<TableSize> RetentionQueries::TableSizes() {
  const auto rows = executor_.Fetch(sql_->table_sizes);
  std::vector<TableSize> out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out.push_back({rows.Text(r, "name"), rows.Int(r, "estimated_rows"), rows.Int(r, "bytes")});
  }
  return out;
}

std::int64_t RetentionQueries::UnaggregatedLogRows(std::int64_t cap) {
  return executor_.Fetch(sql_->unaggregated, {std::to_string(std::max<std::int64_t>(cap, 0))})
      .Int(0, "n");
}

}  // namespace pgq
