#include "cli/run_command.h"

#include <cstdlib>
#include <iostream>
#include <optional>

#include "cli/config_file.h"
#include "cli/cli.h"
#include "config/config.h"
#include "run/log_format.h"
#include "run/worker.h"

namespace pgq::cli {

void RunCommand::Register(CLI::App& app) {
  auto* run = app.add_subcommand("run", "run a worker from a YAML configuration file");
  run->add_option("-c,--config", config_path_, "worker configuration (YAML)")->required();
  run->callback([this] {
    action_ = [this] {
      const auto config = LoadConfigFile(config_path_);
      if (!config) return kExitUsage;
      worker::SetupLogging(config->logging);
      return worker::RunWorker(*config);
    };
  });
}

}  // namespace pgq::cli
