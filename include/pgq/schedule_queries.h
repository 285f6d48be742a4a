#pragma once
/// @file
/// The schedules table: register, claim, heartbeat and clear recurring
/// runs. Reached through pgq::Queries.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pgq/job.h"

namespace pgq {

namespace detail {
struct QueryContext;
}

struct ScheduleRow {
  std::int64_t id = 0;
  std::string expression;
  std::string entrypoint;
  Clock::time_point heartbeat;
  Clock::time_point created;
  Clock::time_point updated;
  Clock::time_point next_run;
  std::optional<Clock::time_point> last_run;
  JobStatus status = JobStatus::kQueued;
};

/// One schedule to register or claim, and how long from NOW() its next run is.
struct ScheduleSlot {
  std::string entrypoint;
  std::string expression;  ///< cron text
  std::chrono::microseconds delay{0};
};

class ScheduleQueries {
 public:
  /// Registers the schedules that do not exist yet; next_run = NOW() + delay.
  void InsertSchedules(const std::vector<ScheduleSlot>& slots);
  /// Claims due (or stale > 30 s) schedules; next_run = NOW() + delay.
  std::vector<ScheduleRow> FetchSchedules(const std::vector<ScheduleSlot>& slots);
  void SetSchedulesQueued(const std::vector<std::int64_t>& ids);
  void ScheduleHeartbeat(const std::vector<std::int64_t>& ids);
  std::vector<ScheduleRow> PeekSchedules();
  void DeleteSchedules(const std::vector<std::int64_t>& ids, const std::vector<std::string>& names);
  void ClearSchedules();
  void DeleteSchedulesNamed(const std::string& name);

 protected:
  explicit ScheduleQueries(std::shared_ptr<const detail::QueryContext> context);

 private:
  std::shared_ptr<const detail::QueryContext> context_;
};

}  // namespace pgq
