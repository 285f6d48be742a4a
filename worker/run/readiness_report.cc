#include "run/readiness_report.h"

#include <algorithm>

#include "metrics/metrics.h"
#include "util/text.h"

namespace pgq::worker {
namespace {

// A failing reason names the endpoint it went through.
std::string Reason(const CheckResult& check) {
  std::vector<std::string> messages;
  for (const auto& problem : check.problems) messages.push_back(problem.message);
  const std::string joined = JoinReasons(messages);
  if (check.endpoint == kPoolEndpoint) return "pool endpoint (database): " + joined;
  if (check.endpoint == kListenerEndpoint) {
    return "listener endpoint (database.listener): " + joined;
  }
  return joined;
}

}  // namespace

Problem::Kind ProblemKindOf(ConnectionStateError::Kind kind) {
  return kind == ConnectionStateError::Kind::kInTransaction ? Problem::Kind::kInTransaction
                                                            : Problem::Kind::kIsolation;
}

bool ReadinessReport::ok() const noexcept {
  return std::all_of(checks_.begin(), checks_.end(), [](const auto& c) { return c.ok(); });
}

bool ReadinessReport::Has(Problem::Kind kind) const noexcept {
  return std::any_of(checks_.begin(), checks_.end(), [kind](const auto& c) {
    return std::any_of(c.problems.begin(), c.problems.end(),
                       [kind](const auto& p) { return p.kind == kind; });
  });
}

Readiness ReadinessReport::ToReadiness() const {
  nlohmann::ordered_json checks = nlohmann::ordered_json::array();
  for (const auto& check : checks_) {
    nlohmann::ordered_json entry;
    entry["name"] = check.name;
    entry["ok"] = check.ok();
    if (!check.endpoint.empty()) entry["endpoint"] = check.endpoint;
    if (!check.ok()) entry["reason"] = Reason(check);
    checks.push_back(entry);
  }
  Readiness r;
  r.ok = ok();
  r.body["status"] = r.ok ? "ready" : "not ready";
  r.body["checks"] = checks;
  return r;
}

}  // namespace pgq::worker
