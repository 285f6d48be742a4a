#include "cli/web_command.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "cli/config_file.h"
#include "cli/cli.h"
#include "config/config.h"
#include "config/secret_files.h"
#include "http/http_server.h"
#include "run/log_format.h"
#include "web/console.h"

namespace pgq::cli {
namespace {

// Reads a credential file named by a validated configuration.
std::optional<std::string> ReadCredential(const std::string& path) {
  std::string content;
  if (worker::ReadWholeFile(path, content) != 0) return std::nullopt;
  return worker::web::TrimCredential(std::move(content));
}

}  // namespace

int WebCommand::Run() const {
  worker::WorkerConfig config;
  if (!config_path_.empty()) {
    auto loaded = LoadConfigFile(config_path_);
    if (!loaded) return kExitUsage;
    config = std::move(*loaded);
  }
  worker::SetupLogging(config.logging);
  const DBSettings settings = config_path_.empty() ? globals_.Settings() : config.settings;
  worker::WebConfig web = config.web;
  if (port_ > 0) web.port = port_;

  worker::web::ConsoleOptions options;
  options.read_only = web.read_only;
  options.payload_preview = web.payload_preview;
  if (web.username_file && web.password_file) {
    auto user = ReadCredential(*web.username_file);
    auto password = ReadCredential(*web.password_file);
    if (!user || !password || user->empty() || password->empty()) {
      std::cerr << "pgq web: cannot read the credential files (web.username_file, "
                   "web.password_file)\n";
      return kExitUsage;
    }
    options.credentials = worker::web::BasicCredentials{std::move(*user), std::move(*password)};
  } else if (!worker::IsLoopbackAddress(web.address)) {
    std::cerr << "pgq web: serving on " << web.address << " needs web.username_file and "
              << "web.password_file\n";
    return kExitUsage;
  }

  // SIGTERM/SIGINT end the console; blocked before the server's threads
  // start, so they inherit the mask and the signal reaches sigwait below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ConnectionDriver db(config_path_.empty() ? ConnectionOptions::FromDsn(globals_.Dsn())
                                           : config.Connection());
  worker::web::WebConsole console(options, db, settings);
  worker::HttpServer server(web.address, web.port, [&console](const worker::HttpRequest& request) {
    return console.Handle(request);
  });
  spdlog::info("pgq web: serving the console of {} on http://{}:{}/ ({}{})", settings.QueueTable(),
               web.address, server.port(),
               options.credentials ? "HTTP Basic auth" : "no auth, loopback only",
               options.read_only ? ", read-only" : "");
  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("pgq web: signal {}, stopping", received);
  return kExitOk;
}

void WebCommand::Register(CLI::App& app) {
  auto* web = app.add_subcommand("web", "serve the job console (HTML) over HTTP");
  web->add_option("-c,--config", config_path_,
                  "worker configuration (YAML): database, queue names and the web: section; "
                  "without it, --dsn/--prefix/--schema and web defaults (127.0.0.1:8080, "
                  "no auth)");
  web->add_option("--port", port_, "listen on this port instead of web.port")
      ->check(CLI::Range(1, 65535));
  web->callback([this] { action_ = [this] { return Run(); }; });
}

}  // namespace pgq::cli
