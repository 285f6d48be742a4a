#include "pgq/job.h"

#include <array>
#include <utility>

#include "pgq/error.h"

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
  for (const auto& [value, label] : kJobStatusLabels) {
    if (value == status) return label;
  }
  return "unknown";
}

JobStatus ParseJobStatus(std::string_view text) {
  for (const auto& [value, label] : kJobStatusLabels) {
    if (label == text) return value;
  }
  throw LogicError("unknown job status \"" + std::string(text) + "\"");
}

}  // namespace pgq
