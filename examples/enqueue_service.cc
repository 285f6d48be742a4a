// A small HTTP service that enqueues one job per request from its request
// threads through one BatchingProducer: concurrent requests share enqueue
// statements (and commits), and each response is sent only after the job
// committed. A plain socket loop keeps the example free of an HTTP library.
//
//   PGQUEUER_DSN=postgresql://... enqueue_service [PORT] [THREADS]
//
//   POST /jobs/<entrypoint>   body = payload; optional header Idempotency-Key
//                             becomes the dedupe key. 201 {"id": N}, 409 when
//                             a live job holds the key, 503 when the producer
//                             is full, 500 on a database error.
//   GET  /healthz             200
//
// Prints "listening on 127.0.0.1:PORT" once ready; SIGTERM or SIGINT stops
// accepting, finishes the requests in progress, writes every pending job and
// prints "enqueued N jobs".

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pgq/batching_producer.h"
#include "pgq/error.h"
#include "pgq/pool.h"
#include "pgq/settings.h"

namespace {

constexpr std::size_t kMaxRequest = 1 << 20;

struct Request {
  std::string method;
  std::string path;
  std::string idempotency_key;
  std::string body;
};

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Reads one request (headers, then Content-Length bytes of body).
bool ReadRequest(int fd, Request& request) {
  std::string data;
  char buffer[8192];
  std::size_t header_end = std::string::npos;
  while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0 || data.size() > kMaxRequest) return false;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  const std::string head = data.substr(0, header_end);
  const auto line_end = head.find("\r\n");
  const std::string line = head.substr(0, line_end);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) return false;
  request.method = line.substr(0, sp1);
  request.path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::size_t length = 0;
  std::size_t pos = line_end;
  while (pos != std::string::npos && pos < head.size()) {
    const auto next = head.find("\r\n", pos + 2);
    const std::string field = head.substr(pos + 2, next == std::string::npos ? std::string::npos
                                                                             : next - pos - 2);
    const auto colon = field.find(':');
    if (colon != std::string::npos) {
      const std::string name = Lower(field.substr(0, colon));
      std::string value = field.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      if (name == "content-length") length = std::strtoul(value.c_str(), nullptr, 10);
      if (name == "idempotency-key") request.idempotency_key = value;
    }
    pos = next;
  }
  if (length > kMaxRequest) return false;
  request.body = data.substr(header_end + 4);
  while (request.body.size() < length) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    request.body.append(buffer, static_cast<std::size_t>(n));
  }
  request.body.resize(length);
  return true;
}

void Respond(int fd, int status, const std::string& reason, const std::string& body) {
  const std::string response = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                               "\r\nContent-Type: application/json\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
                               body;
  std::size_t sent = 0;
  while (sent < response.size()) {
    const ssize_t n = ::send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

std::string ErrorBody(const std::string& message) {
  std::string quoted;
  for (const char c : message) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  }
  return "{\"error\": \"" + quoted + "\"}";
}

void Handle(int fd, pgq::BatchingProducer& producer, std::atomic<long>& enqueued) {
  Request request;
  if (!ReadRequest(fd, request)) return Respond(fd, 400, "Bad Request", ErrorBody("bad request"));
  if (request.method == "GET" && request.path == "/healthz") return Respond(fd, 200, "OK", "{}");
  const std::string prefix = "/jobs/";
  if (request.method != "POST" || request.path.rfind(prefix, 0) != 0 ||
      request.path.size() == prefix.size()) {
    return Respond(fd, 404, "Not Found", ErrorBody("POST /jobs/<entrypoint>"));
  }
  pgq::NewJob job;
  job.entrypoint = request.path.substr(prefix.size());
  job.payload = request.body;
  if (!request.idempotency_key.empty()) job.dedupe_key = request.idempotency_key;
  try {
    // Blocks this request thread until the flush that carries the job commits.
    const pgq::JobId id = producer.Enqueue(std::move(job)).get();
    ++enqueued;
    Respond(fd, 201, "Created", "{\"id\": " + std::to_string(id) + "}");
  } catch (const pgq::DuplicateJobError& e) {
    Respond(fd, 409, "Conflict", ErrorBody(e.what()));
  } catch (const pgq::ProducerFullError& e) {
    Respond(fd, 503, "Service Unavailable", ErrorBody(e.what()));
  } catch (const pgq::LogicError& e) {
    Respond(fd, 400, "Bad Request", ErrorBody(e.what()));
  } catch (const pgq::Error& e) {
    Respond(fd, 500, "Internal Server Error", ErrorBody(e.what()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 8080;
  const int threads = argc > 2 ? std::max(1, std::atoi(argv[2])) : 32;
  const char* dsn = std::getenv("PGQUEUER_DSN");

  // Signals go to sigwait() in main only; request threads inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<pgq::BatchingProducer> producer;
  try {
    pgq::PoolSettings pool;
    pool.max_size = 4;
    pgq::BatchingProducerSettings batching;  // defaults: group commit, up to 500 jobs, 2 flushers
    producer = std::make_unique<pgq::BatchingProducer>(
        pgq::ConnectionPool::Create(pgq::ConnectionOptions::FromDsn(dsn ? dsn : ""), pool),
        pgq::DBSettings::FromEnv(), batching);
  } catch (const pgq::Error& e) {
    std::cerr << "enqueue_service: " << e.what() << "\n";
    return 1;
  }

  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, 256) != 0) {
    std::cerr << "enqueue_service: cannot listen on 127.0.0.1:" << port << "\n";
    return 1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);

  std::atomic<long> enqueued{0};
  std::atomic<bool> stopping{false};
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([&] {
      while (!stopping) {
        const int fd = ::accept(listener, nullptr, nullptr);
        if (fd < 0) continue;  // shutdown() below wakes every accept with an error
        const timeval timeout{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        Handle(fd, *producer, enqueued);
        ::close(fd);
      }
    });
  }
  std::cout << "listening on 127.0.0.1:" << ntohs(addr.sin_port) << std::endl;

  int signal = 0;
  sigwait(&stop_signals, &signal);
  stopping = true;
  ::shutdown(listener, SHUT_RDWR);
  for (auto& worker : workers) worker.join();
  ::close(listener);
  producer->Close(pgq::ProducerShutdown::kFlush);
  std::cout << "enqueued " << enqueued.load() << " jobs" << std::endl;
  return 0;
}
