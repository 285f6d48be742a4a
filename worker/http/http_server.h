#pragma once
// The worker's one HTTP port (CivetWeb, which prometheus-cpp already brings):
// /metrics, /livez, /readyz.

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace pgq::worker {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpServer {
 public:
  using Route = std::function<HttpResponse()>;
  /// Binds address:port (port 0 = any free port) and serves GET on `routes`.
  /// Throws std::runtime_error when the port cannot be bound.
  HttpServer(const std::string& address, int port, std::map<std::string, Route> routes);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// The bound port (useful with port 0).
  int port() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgq::worker
