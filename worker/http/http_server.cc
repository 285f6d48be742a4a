#include "http/http_server.h"

#include <CivetServer.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <vector>

#include <spdlog/spdlog.h>

namespace pgq::worker {
namespace {

const char* StatusText(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 303:
      return "See Other";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "";
  }
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Header values must not end a line: a CR or LF would start a new header.
bool SafeHeaderText(std::string_view text) {
  return text.find_first_of("\r\n") == std::string_view::npos;
}

void Send(struct mg_connection* conn, const HttpResponse& response) {
  std::string head = "HTTP/1.1 " + std::to_string(response.status) + " " +
                     StatusText(response.status) + "\r\nContent-Type: " +
                     response.content_type + "\r\nContent-Length: " +
                     std::to_string(response.body.size()) +
                     "\r\nCache-Control: no-store\r\nConnection: close\r\n";
  for (const auto& [name, value] : response.headers) {
    if (SafeHeaderText(name) && SafeHeaderText(value)) head += name + ": " + value + "\r\n";
  }
  head += "\r\n";
  mg_write(conn, head.data(), head.size());
  mg_write(conn, response.body.data(), response.body.size());
}

class RouteHandler final : public CivetHandler {
 public:
  explicit RouteHandler(HttpServer::Route route) : route_(std::move(route)) {}
  bool handleGet(CivetServer*, struct mg_connection* conn) override {
    HttpResponse response;
    try {
      response = route_();
    } catch (const std::exception& e) {
      response = {500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what(),
                  {}};
    }
    Send(conn, response);
    return true;
  }

 private:
  HttpServer::Route route_;
};

HttpRequest ReadRequest(struct mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  HttpRequest request;
  request.method = info->request_method ? info->request_method : "";
  request.path = info->local_uri ? info->local_uri : "";
  request.query = info->query_string ? info->query_string : "";
  request.remote_address = info->remote_addr;
  for (int i = 0; i < info->num_headers; ++i) {
    request.headers[Lower(info->http_headers[i].name)] = info->http_headers[i].value;
  }
  if (request.method == "POST") {
    char buffer[8192];
    for (;;) {
      const int n = mg_read(conn, buffer, sizeof buffer);
      if (n <= 0) break;
      const std::size_t room = HttpRequest::kMaxBody - request.body.size();
      if (static_cast<std::size_t>(n) > room) {
        request.body.append(buffer, room);
        request.body_truncated = true;
        break;
      }
      request.body.append(buffer, static_cast<std::size_t>(n));
    }
  }
  return request;
}

class RequestHandler final : public CivetHandler {
 public:
  explicit RequestHandler(HttpServer::Handler handler) : handler_(std::move(handler)) {}
  bool handleGet(CivetServer*, struct mg_connection* conn) override { return Handle(conn); }
  bool handlePost(CivetServer*, struct mg_connection* conn) override { return Handle(conn); }

 private:
  bool Handle(struct mg_connection* conn) {
    HttpResponse response;
    try {
      response = handler_(ReadRequest(conn));
    } catch (const std::exception& e) {
      // The message stays in the log: it may name database objects.
      spdlog::error("http: request failed: {}", e.what());
      response = {500, "text/plain; charset=utf-8", "internal error\n", {}};
    }
    Send(conn, response);
    return true;
  }

  HttpServer::Handler handler_;
};

}  // namespace

std::string HttpRequest::Header(std::string_view name) const {
  const auto it = headers.find(Lower(name));
  return it == headers.end() ? std::string() : it->second;
}

struct HttpServer::Impl {
  std::vector<std::unique_ptr<CivetHandler>> handlers;
  std::unique_ptr<CivetServer> server;
};

namespace {

std::unique_ptr<CivetServer> Listen(const std::string& address, int port) {
  const std::vector<std::string> options{"listening_ports",
                                         address + ":" + std::to_string(port),
                                         "num_threads",
                                         "4",
                                         "request_timeout_ms",
                                         "10000",
                                         "enable_keep_alive",
                                         "no"};
  try {
    return std::make_unique<CivetServer>(options);
  } catch (const CivetException& e) {
    throw std::runtime_error("cannot serve HTTP on " + address + ":" + std::to_string(port) +
                             ": " + e.what());
  }
}

}  // namespace

HttpServer::HttpServer(const std::string& address, int port, Handler handler)
    : impl_(std::make_unique<Impl>()) {
  impl_->server = Listen(address, port);
  impl_->handlers.push_back(std::make_unique<RequestHandler>(std::move(handler)));
  // "/" without "$" is a prefix: every path.
  impl_->server->addHandler("/", impl_->handlers.back().get());
}

HttpServer::HttpServer(const std::string& address, int port, std::map<std::string, Route> routes)
    : impl_(std::make_unique<Impl>()) {
  impl_->server = Listen(address, port);
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
