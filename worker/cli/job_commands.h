#pragma once
// The job subcommands: queue (enqueue one job), failed, requeue, dashboard,
// listen and schedules.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/global_options.h"

namespace pgq::cli {

/// Registers the job subcommands and owns their option storage; a parsed
/// subcommand leaves its work in `action`.
class JobCommands {
 public:
  JobCommands(const GlobalOptions& globals, Action& action) : globals_(globals), action_(action) {}
  JobCommands(const JobCommands&) = delete;
  JobCommands& operator=(const JobCommands&) = delete;

  // Two calls because `pgq --help` lists `queue` before run/bench and the
  // inspection commands after them.
  /// Adds `queue`.
  void RegisterProducer(CLI::App& app);
  /// Adds failed, requeue, dashboard, listen and schedules, in that order.
  void RegisterInspection(CLI::App& app);

 private:
  void RegisterFailed(CLI::App& app);
  void RegisterRequeue(CLI::App& app);
  void RegisterDashboard(CLI::App& app);
  void RegisterListen(CLI::App& app);
  void RegisterSchedules(CLI::App& app);

  const GlobalOptions& globals_;
  Action& action_;

  // queue
  std::string entrypoint_;
  std::optional<std::string> payload_;
  int priority_ = 0;
  std::optional<std::string> dedupe_key_;
  std::string on_conflict_ = "raise";
  std::optional<std::string> headers_;
  // failed
  std::int64_t failed_limit_ = 25;
  // requeue
  std::vector<std::int64_t> requeue_ids_;
  // dashboard
  double interval_ = 0;
  std::int64_t dashboard_limit_ = 25;
  // listen
  std::optional<std::string> listen_channel_;
  // schedules
  std::vector<std::string> remove_;
};

}  // namespace pgq::cli
