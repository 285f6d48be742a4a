#pragma once
// What the parts of `pgq run` share while the process lives: whether it
// drains, why it is not consuming yet, and (once started) the pool and the
// consumer. The probes, the sampler and the signal thread read it; the
// start-up path writes it.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "pgq/pgqueuer.h"
#include "pgq/pool.h"

namespace pgq::worker {

/// Thread-safe. pool() and queuer() may be called only once started() is
/// true; from then on both stay valid until the RunState is destroyed (they
/// are published once and never replaced).
class RunState {
 public:
  RunState() = default;
  RunState(const RunState&) = delete;
  RunState& operator=(const RunState&) = delete;

  bool draining() const noexcept { return draining_; }
  /// Marks the worker draining; returns false when it already was.
  bool BeginDrain() noexcept { return !draining_.exchange(true); }

  /// A readiness check's name and reason while the worker is not consuming.
  struct StartupProblem {
    std::string check = "startup";
    std::string reason = "starting";
  };
  void SetStartupProblem(std::string check, std::string reason);
  StartupProblem startup_problem() const;

  /// Publishes the consumer, and stops it at once when a drain began while
  /// it was being built (the signal thread found nothing to stop).
  void Start(std::shared_ptr<ConnectionPool> pool, std::unique_ptr<PgQueuer> queuer);
  /// Stops the consumer, if there is one yet (the first signal).
  void StopConsumer();

  bool started() const noexcept { return started_; }
  ConnectionPool& pool() const noexcept { return *pool_; }
  PgQueuer& queuer() const noexcept { return *queuer_; }

 private:
  std::atomic<bool> draining_{false};
  std::atomic<bool> started_{false};
  mutable std::mutex mu_;  // guards startup_, and the publishing of pool_ and queuer_
  StartupProblem startup_;
  std::shared_ptr<ConnectionPool> pool_;
  std::unique_ptr<PgQueuer> queuer_;
};

}  // namespace pgq::worker
