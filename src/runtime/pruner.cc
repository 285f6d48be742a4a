#include "runtime/pruner.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string>
#include <utility>

namespace pgq::detail {

// Jittered so that a fleet started together does not try in step.
std::chrono::milliseconds Pruner::Jittered(std::chrono::milliseconds interval) {
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return std::chrono::duration_cast<std::chrono::milliseconds>(interval * jitter(rng_));
}

std::chrono::milliseconds Pruner::RunOnce(const RetentionPolicy& policy,
                                          std::chrono::milliseconds interval) {
  try {
    const PruneReport report = store_.Prune(policy);
    observer_.OnPruned(report);
    if (std::exchange(failing_, false)) log_->info("pruning works again");
    if (report.ran && (report.log_rows > 0 || report.statistics_rows > 0 || report.held_jobs > 0)) {
      // Counts only: entrypoint names, never payloads.
      std::string held;
      for (const auto& [entrypoint, jobs] : report.held_by_entrypoint) {
        held += fmt::format("{}{}={}", held.empty() ? "" : ", ", entrypoint, jobs);
      }
      log_->info(
          "pruned {} log and {} statistics rows, {} held jobs with {} log rows{}{}{} in {} "
          "batches, {:.3f} s{}",
          report.log_rows, report.statistics_rows, report.held_jobs, report.held_log_rows,
          held.empty() ? "" : " (", held, held.empty() ? "" : ")", report.batches,
          report.took.count(), report.complete ? "" : " (time budget spent, more to prune)");
    }
    if (report.ran && !report.complete && !report.yielded) {
      return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(report.took),
                      std::chrono::milliseconds(100));
    }
  } catch (const std::exception& e) {
    observer_.OnPruneFailed();
    // Once per streak: a table locked for hours would log every interval.
    if (!std::exchange(failing_, true)) {
      log_->warn("pruning failed (will retry every prune interval): {}", e.what());
    }
  }
  return Jittered(interval);
}

void Pruner::Loop(const std::stop_token& token, const RetentionPolicy& policy,
                  std::chrono::milliseconds interval) {
  if (!policy.enabled() || interval.count() <= 0) return;
  std::mutex mu;
  std::condition_variable_any wake;
  auto pause = Jittered(interval);
  for (;;) {
    {
      std::unique_lock lock(mu);
      static_cast<void>(wake.wait_for(lock, token, pause, [] { return false; }));
      if (token.stop_requested()) return;
    }
    pause = RunOnce(policy, interval);
  }
}

}  // namespace pgq::detail
