#pragma once
// `pgq run -c FILE`: loads the worker configuration and runs the worker.

#include <string>

#include <CLI/CLI.hpp>

#include "cli/global_options.h"

namespace pgq::cli {

/// Registers `run` and owns its option storage. The configuration file, not
/// the global flags, says where and what to run.
class RunCommand {
 public:
  explicit RunCommand(Action& action) : action_(action) {}
  RunCommand(const RunCommand&) = delete;
  RunCommand& operator=(const RunCommand&) = delete;

  void Register(CLI::App& app);

 private:
  Action& action_;
  std::string config_path_;
};

}  // namespace pgq::cli
