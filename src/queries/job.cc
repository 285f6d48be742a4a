#include "pgq/job.h"

#include <array>
#include <utility>

#include "pgq/error.h"
#include "queries/enum_names.h"

namespace pgq {
namespace {

// Each status with its label in the shared enum, in enum order.
constexpr std::array<std::pair<JobStatus, std::string_view>, 7> kJobStatusLabels{{
    {JobStatus::kQueued, "queued"},
    {JobStatus::kPicked, "picked"},
    {JobStatus::kSuccessful, "successful"},
    {JobStatus::kException, "exception"},
    {JobStatus::kCanceled, "canceled"},
    {JobStatus::kDeleted, "deleted"},
    {JobStatus::kFailed, "failed"},
}};

}  // namespace

std::string_view ToString(JobStatus status) noexcept {
  return detail::NameOf(kJobStatusLabels, status).value_or("unknown");
}

JobStatus ParseJobStatus(std::string_view text) {
  if (auto status = detail::ValueNamed<JobStatus>(kJobStatusLabels, text)) return *status;
  throw LogicError("unknown job status \"" + std::string(text) + "\"");
}

}  // namespace pgq
