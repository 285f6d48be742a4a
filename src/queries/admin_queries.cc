#include "pgq/admin_queries.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

#include "queries/query_context.h"
#include "sql/literals.h"

namespace pgq {

using detail::ArrayLiteral;

AdminQueries::AdminQueries(std::shared_ptr<const detail::QueryContext> context)
    : context_(std::move(context)) {}

std::vector<std::pair<std::string, double>> AdminQueries::QueueLag() {
  auto rows = context_->driver().Fetch(context_->sql.queue_lag);
  std::vector<std::pair<std::string, double>> out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out.emplace_back(rows.Text(r, "entrypoint"), std::stod(rows.Text(r, "lag")));
  }
  return out;
}

AdminQueries::StatisticsState AdminQueries::QueueStatistics() {
  auto rows = context_->driver().Fetch(context_->sql.statistics_state);
  return {rows.Int(0, "reltuples"), rows.Int(0, "changed"), rows.Text(0, "may_analyze") == "t"};
}

void AdminQueries::AnalyzeQueue(std::int64_t min_changes) {
  // A DO block takes no parameters: the one number goes in as a literal.
  context_->driver().Execute(context_->sql.analyze_queue.Render(
      {{"min_changes", std::to_string(std::max<std::int64_t>(min_changes, 0))}}));
}

bool AdminQueries::AggregateLogs() {
  return context_->driver().Fetch(context_->sql.aggregate_locked).Text(0, "won") == "t";
}

std::vector<StatisticsRow> AdminQueries::LogStatistics(std::optional<std::int64_t> limit,
                                                       std::optional<std::chrono::seconds> last) {
  context_->driver().Execute(context_->sql.aggregate_unlocked);
  auto rows = context_->driver().Fetch(
      context_->sql.log_statistics,
      {limit ? std::optional(std::to_string(*limit)) : std::nullopt,
       last ? std::optional(detail::IntervalLiteral(*last)) : std::nullopt});
  std::vector<StatisticsRow> out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out.push_back({rows.Int(r, "count"), detail::FromEpochMicros(rows.Text(r, "created_us")),
                   rows.Text(r, "entrypoint"), static_cast<std::int32_t>(rows.Int(r, "priority")),
                   ParseJobStatus(rows.Text(r, "status"))});
  }
  return out;
}

void AdminQueries::ClearQueue(const std::vector<std::string>& entrypoints) {
  if (entrypoints.empty()) {
    context_->driver().Execute(context_->sql.truncate_queue);
  } else {
    context_->driver().Execute(context_->sql.delete_entrypoints, {ArrayLiteral(entrypoints)});
  }
}

void AdminQueries::ClearStatistics(const std::vector<std::string>& entrypoints) {
  if (entrypoints.empty()) {
    context_->driver().Execute(context_->sql.truncate_stats);
  } else {
    context_->driver().Execute(context_->sql.delete_stats, {ArrayLiteral(entrypoints)});
  }
}

void AdminQueries::ClearLog(const std::vector<std::string>& entrypoints) {
  if (entrypoints.empty()) {
    context_->driver().Execute(context_->sql.truncate_log);
  } else {
    context_->driver().Execute(context_->sql.delete_log, {ArrayLiteral(entrypoints)});
  }
}

std::optional<std::string> AdminQueries::DefaultIsolationSetting() {
  std::string configured =
      context_->driver().Fetch(context_->sql.default_isolation_setting).Text(0, "configured");
  if (configured.empty()) return std::nullopt;
  return configured;
}

std::optional<std::string> AdminQueries::ReadOnlyReason() {
  const auto rows = context_->driver().Fetch(context_->sql.server_writability);
  const bool in_recovery = rows.Text(0, "in_recovery") == "t";
  const bool read_only = rows.Text(0, "read_only") == "on";
  if (!in_recovery && !read_only) return std::nullopt;
  return "server " + rows.Text(0, "server") +
         (in_recovery ? " is read-only (in recovery)"
                      : " is read-only (transaction_read_only is on)");
}

}  // namespace pgq
