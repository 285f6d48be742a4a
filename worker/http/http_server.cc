#include "http/http_server.h"

#include <CivetServer.h>

#include <stdexcept>
#include <vector>

#include <spdlog/spdlog.h>

namespace pgq::worker {
namespace {

const char* StatusText(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 404:
      return "Not Found";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "";
  }
}

class RouteHandler final : public CivetHandler {
 public:
  explicit RouteHandler(HttpServer::Route route) : route_(std::move(route)) {}
  bool handleGet(CivetServer*, struct mg_connection* conn) override {
    HttpResponse response;
    try {
      response = route_();
    } catch (const std::exception& e) {
      response = {500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what()};
    }
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
              "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
              response.status, StatusText(response.status), response.content_type.c_str(),
              response.body.size());
    mg_write(conn, response.body.data(), response.body.size());
    return true;
  }

 private:
  HttpServer::Route route_;
};

}  // namespace

struct HttpServer::Impl {
  std::vector<std::unique_ptr<RouteHandler>> handlers;
  std::unique_ptr<CivetServer> server;
};

HttpServer::HttpServer(const std::string& address, int port, std::map<std::string, Route> routes)
    : impl_(std::make_unique<Impl>()) {
  const std::vector<std::string> options{"listening_ports",
                                         address + ":" + std::to_string(port),
                                         "num_threads",
                                         "4",
                                         "request_timeout_ms",
                                         "10000",
                                         "enable_keep_alive",
                                         "no"};
  try {
    impl_->server = std::make_unique<CivetServer>(options);
  } catch (const CivetException& e) {
    throw std::runtime_error("cannot serve HTTP on " + address + ":" + std::to_string(port) +
                             ": " + e.what());
  }
  for (auto& [path, route] : routes) {
    impl_->handlers.push_back(std::make_unique<RouteHandler>(std::move(route)));
    // "$" makes the match exact (no prefix matching of /metricsfoo).
    impl_->server->addHandler(path + "$", impl_->handlers.back().get());
  }
}

HttpServer::~HttpServer() {
  if (impl_->server) impl_->server->close();
}

int HttpServer::port() const {
  const auto ports = impl_->server->getListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace pgq::worker
