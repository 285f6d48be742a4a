#pragma once
// One readiness round's results as values: each check with its problems,
// each problem with a kind. The driver-health gauges are counted from the
// kinds, and the /readyz body is rendered from the same values, so no
// caller has to read a reason's text to learn what went wrong.

#include <string>
#include <string_view>
#include <vector>

#include "pgq/error.h"
#include "run/readiness_monitor.h"

namespace pgq::worker {

/// Why a check fails.
struct Problem {
  enum class Kind {
    kOther,             ///< not ready for a reason of its own (draining, listener, schema)
    kConnectionFailed,  ///< no connection could be leased, or one failed its round trip
    kInTransaction,     ///< a connection was (left) inside a transaction block
    kIsolation,         ///< a connection is, or new ones would start, at another isolation
    kReadOnly,          ///< the server reached is a standby or read-only
  };
  Kind kind = Kind::kOther;
  std::string message;
};

/// The Problem kind for a session rule the driver enforces.
Problem::Kind ProblemKindOf(ConnectionStateError::Kind kind);

/// One entry of /readyz's "checks": ok when it has no problems.
struct CheckResult {
  std::string name;
  /// The connections it went through, as the metrics' endpoint label
  /// ("pool", "listener"), or empty.
  std::string_view endpoint;
  std::vector<Problem> problems;
  bool ok() const noexcept { return problems.empty(); }
};

/// The checks of one round, in the order /readyz lists them.
class ReadinessReport {
 public:
  void Add(CheckResult check) { checks_.push_back(std::move(check)); }
  bool ok() const noexcept;
  /// Whether any check found a problem of this kind.
  bool Has(Problem::Kind kind) const noexcept;

  /// {"status": "ready" | "not ready", "checks": [{"name", "ok", "endpoint"
  /// (when set), "reason" (when failing: the endpoint's name, then the
  /// problems joined by "; ")}]}.
  Readiness ToReadiness() const;

 private:
  std::vector<CheckResult> checks_;
};

}  // namespace pgq::worker
