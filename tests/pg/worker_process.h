#pragma once
// Runs `pgq run` as a child process for end-to-end tests, and talks to its
// HTTP port over real sockets (libcurl).

#include <csignal>
#include <string>
#include <vector>

namespace pgq::testing {

/// A free loopback TCP port (bound and released; the worker binds it next).
int FreePort();

struct HttpResult {
  long status = 0;  // 0 when the request failed
  std::string body;
};
HttpResult HttpGet(const std::string& url);
/// POST with `body` and extra header lines ("Name: value").
HttpResult HttpPost(const std::string& url, const std::string& body,
                    const std::vector<std::string>& headers = {});

class WorkerProcess {
 public:
  /// Writes `config_yaml` to a temp dir and starts `pgq run --config` with
  /// output captured in a file.
  WorkerProcess(const std::string& binary, const std::string& config_yaml);
  /// Starts any program: `argv` (argv[0] is the binary) with `env` entries
  /// ("NAME=value") added to the environment, output captured the same way.
  WorkerProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env);
  ~WorkerProcess();
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  void Signal(int signal) const;
  /// Waits for exit (bounded); returns the exit code, or -1 on timeout /
  /// death by signal.
  int Wait(int timeout_seconds = 60);
  bool Running();
  std::string Output() const;
  const std::string& dir() const { return dir_; }

 private:
  void Start(const std::vector<std::string>& argv, const std::vector<std::string>& env);
  std::string dir_;
  int pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

}  // namespace pgq::testing
