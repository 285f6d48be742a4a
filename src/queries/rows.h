#pragma once
// Result rows to values: the select lists of sql/*.sql read back.

#include <vector>

#include "pgq/driver.h"
#include "pgq/job.h"
#include "pgq/schedule_queries.h"

namespace pgq::detail {

/// Jobs from rows selected with JobColumns (plus an optional `rescued`).
std::vector<Job> ParseJobs(const Rows& rows);
/// Schedules from rows selected with ScheduleColumns.
std::vector<ScheduleRow> ParseSchedules(const Rows& rows);

}  // namespace pgq::detail
