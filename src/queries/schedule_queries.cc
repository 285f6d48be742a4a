#include "pgq/schedule_queries.h"

#include "pgq/driver.h"
#include "queries/query_context.h"
#include "queries/rows.h"
#include "sql/literals.h"

namespace pgq {

using detail::ArrayLiteral;
using detail::ParseSchedules;

ScheduleQueries::ScheduleQueries(std::shared_ptr<const detail::QueryContext> context)
    : context_(std::move(context)) {}

namespace {

// The slots as three parallel arrays: $1 entrypoints, $2 expressions, $3 delays.
Params SlotParams(const std::vector<ScheduleSlot>& slots) {
  std::vector<std::string> names, expressions;
  std::vector<std::optional<std::string>> intervals;
  for (const auto& slot : slots) {
    names.push_back(slot.entrypoint);
    expressions.push_back(slot.expression);
    intervals.push_back(detail::IntervalLiteral(slot.delay));
  }
  return {ArrayLiteral(names), ArrayLiteral(expressions), ArrayLiteral(intervals)};
}

}  // namespace

void ScheduleQueries::InsertSchedules(const std::vector<ScheduleSlot>& slots) {
  if (slots.empty()) return;
  context_->driver().Execute(context_->sql.insert_schedules, SlotParams(slots));
}

std::vector<ScheduleRow> ScheduleQueries::FetchSchedules(const std::vector<ScheduleSlot>& slots) {
  if (slots.empty()) return {};
  return ParseSchedules(context_->driver().Fetch(context_->sql.fetch_schedules, SlotParams(slots)));
}

void ScheduleQueries::SetSchedulesQueued(const std::vector<std::int64_t>& ids) {
  if (!ids.empty()) context_->driver().Execute(context_->sql.schedules_queued, {ArrayLiteral(ids)});
}

void ScheduleQueries::ScheduleHeartbeat(const std::vector<std::int64_t>& ids) {
  if (!ids.empty())
    context_->driver().Execute(context_->sql.schedule_heartbeat, {ArrayLiteral(ids)});
}

std::vector<ScheduleRow> ScheduleQueries::PeekSchedules() {
  return ParseSchedules(context_->driver().Fetch(context_->sql.peek_schedules));
}

void ScheduleQueries::DeleteSchedules(const std::vector<std::int64_t>& ids,
                                      const std::vector<std::string>& names) {
  context_->driver().Execute(context_->sql.delete_schedules,
                             {ArrayLiteral(ids), ArrayLiteral(names)});
}

void ScheduleQueries::ClearSchedules() {
  context_->driver().Execute(context_->sql.truncate_schedules);
}

void ScheduleQueries::DeleteSchedulesNamed(const std::string& name) {
  context_->driver().Execute(context_->sql.delete_schedules_named, {name});
}

}  // namespace pgq
