#pragma once
// `pgq web`'s request handling: authentication, routing, the CSRF checks
// of actions, the audit log, and the screens. Transport-free (a request in,
// a response out), so tests drive it without a socket.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "http/http_server.h"
#include "pgq/console_queries.h"
#include "pgq/driver.h"
#include "pgq/settings.h"
#include "web/auth.h"

namespace pgq::worker::web {

struct ConsoleOptions {
  /// nullopt: no authentication (the command allows this on loopback only).
  std::optional<BasicCredentials> credentials;
  bool read_only = false;
  /// Payload bytes the job screen shows; 0 hides payloads.
  std::int64_t payload_preview = 4096;
};

/// Routes: GET / (overview), /jobs (?status, entrypoint, id, before),
/// /jobs/ID, /failures, /assets/console.css; POST /jobs/ID/requeue.
/// Thread-safe when `executor` is (ConnectionDriver serialises its calls).
class WebConsole {
 public:
  WebConsole(ConsoleOptions options, Executor& executor, const DBSettings& settings);
  WebConsole(const WebConsole&) = delete;
  WebConsole& operator=(const WebConsole&) = delete;

  HttpResponse Handle(const HttpRequest& request);

 private:
  struct Context;
  HttpResponse Route(const HttpRequest& request, Context& context);
  HttpResponse Requeue(const HttpRequest& request, Context& context, JobId id);

  ConsoleOptions options_;
  std::string queue_table_;
  ConsoleQueries queries_;
};

}  // namespace pgq::worker::web
