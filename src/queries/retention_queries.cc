// Pruning of the log and statistics tables, and the size of each table.
// The statements, and why they are shaped as they are, are in
// src/queries/sql/prune_*.sql, table_sizes.sql and unaggregated_log_rows.sql.
// Which log rows may go: docs/operations.md#what-pgq-prunes.

#include "pgq/retention.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pgq/error.h"
#include "queries/sql_files.h"
#include "sql/literals.h"
#include "sql/statement_template.h"

namespace pgq {
namespace detail {

struct RetentionSql {
  explicit RetentionSql(const DBSettings& s)
      : log_batch(SqlTemplate("prune_log_batch", s)),
        held_batch(SqlTemplate("prune_held_batch", s)),
        statistics_batch(SqlTemplate("prune_statistics_batch", s)),
        statistics_count(SqlTemplate("prune_statistics_count", s)),
        table_sizes(SqlStatement("table_sizes", s)),
        held_ages(SqlStatement("held_ages", s)),
        unaggregated(SqlStatement("unaggregated_log_rows", s)) {}
  StatementTemplate log_batch, held_batch, statistics_batch, statistics_count;
  std::string table_sizes, held_ages, unaggregated;
};

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
  const std::string dry_run = policy.dry_run ? "TRUE" : "FALSE";
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
    const auto& statement = sql_->log_batch;
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
                                                                    {"batch", batch},
                                                                    {"dry_run", dry_run}})));
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

  if (done && policy.held_older_than.count() > 0) {
    const auto& statement = sql_->held_batch;
    const std::string older_than =
        detail::QuoteLiteral(detail::IntervalLiteral(policy.held_older_than));
    std::string after_id = "0";
    for (;;) {
      if (out_of_time()) {
        done = false;
        break;
      }
      const auto rows = executor_.Fetch(statement.Render(
          with({{"older_than", older_than}, {"after_id", after_id}, {"batch", batch},
                {"dry_run", dry_run}})));
      Batch b;
      b.won = rows.Text(0, "won") == "t";
      b.scanned = rows.Int(0, "scanned");
      b.last_id = rows.At(0, "last_id");
      if (!account(b)) {
        report.took = SteadyClock::now() - start;
        return report;
      }
      if (rows.At(0, "log_rows")) report.held_log_rows += rows.Int(0, "log_rows");
      for (std::size_t r = 0; r < rows.size(); ++r) {
        const auto entrypoint = rows.At(r, "entrypoint");
        if (!entrypoint) continue;
        const std::int64_t jobs = rows.Int(r, "jobs");
        report.held_jobs += jobs;
        report.held_by_entrypoint[*entrypoint] += jobs;
      }
      if (b.scanned < policy.batch || !b.last_id) break;
      after_id = *b.last_id;
    }
  }

  if (done && policy.statistics_older_than.count() > 0) {
    const auto& statement =
        policy.dry_run ? sql_->statistics_count : sql_->statistics_batch;
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

std::vector<HeldAge> RetentionQueries::HeldAges() {
  const auto rows = executor_.Fetch(sql_->held_ages);
  std::vector<HeldAge> out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out.push_back({rows.Text(r, "entrypoint"), rows.Int(r, "jobs"),
                   std::stod(rows.Text(r, "oldest_seconds"))});
  }
  return out;
}

std::int64_t RetentionQueries::UnaggregatedLogRows(std::int64_t cap) {
  return executor_.Fetch(sql_->unaggregated, {std::to_string(std::max<std::int64_t>(cap, 0))})
      .Int(0, "n");
}

}  // namespace pgq
