#pragma once
// The worker's one HTTP port (CivetWeb, which prometheus-cpp already brings):
// /metrics, /livez, /readyz; and `pgq web`'s port, where one handler sees
// every request (method, path, query, headers, body).

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgq::worker {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  /// Extra response headers (name, value), e.g. Set-Cookie or Location.
  std::vector<std::pair<std::string, std::string>> headers;
};

/// One request as a handler sees it.
struct HttpRequest {
  std::string method;          ///< "GET", "POST", ...
  std::string path;            ///< decoded by CivetWeb, without the query
  std::string query;           ///< raw, without '?'
  std::string body;            ///< at most kMaxBody bytes were read
  bool body_truncated = false;  ///< the client sent more than kMaxBody
  std::string remote_address;
  std::map<std::string, std::string> headers;  ///< names lower-cased

  static constexpr std::size_t kMaxBody = 64 * 1024;
  /// The header's value, or "" when absent (name in any case).
  std::string Header(std::string_view name) const;
};

class HttpServer {
 public:
  using Route = std::function<HttpResponse()>;
  /// Binds address:port (port 0 = any free port) and serves GET on `routes`.
  /// Throws std::runtime_error when the port cannot be bound.
  HttpServer(const std::string& address, int port, std::map<std::string, Route> routes);
  /// Serves every path and the methods GET and POST on `handler`.
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  HttpServer(const std::string& address, int port, Handler handler);
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
