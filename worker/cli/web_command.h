#pragma once
// `pgq web`: the job console (worker/web/), from a worker configuration
// (`--config`, its `web:` section) or from --dsn with the defaults.

#include <CLI/CLI.hpp>
#include <string>

#include "cli/global_options.h"

namespace pgq::cli {

class WebCommand {
 public:
  WebCommand(const GlobalOptions& globals, Action& action) : globals_(globals), action_(action) {}
  WebCommand(const WebCommand&) = delete;
  WebCommand& operator=(const WebCommand&) = delete;

  void Register(CLI::App& app);

 private:
  int Run() const;

  const GlobalOptions& globals_;
  Action& action_;
  std::string config_path_;
  int port_ = 0;  // 0: web.port
};

}  // namespace pgq::cli
