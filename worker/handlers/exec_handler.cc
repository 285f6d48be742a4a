#include "handlers/exec_handler.h"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "handlers/child_process.h"
#include "handlers/secret_values.h"
#include "pgq/error.h"
#include "util/text.h"

extern char** environ;  // POSIX; <unistd.h> declares it only with _GNU_SOURCE

namespace pgq::worker {
namespace {

using std::chrono::milliseconds;

/// Parent environment, then the configured variables, then PGQ_* (which
/// cannot be overridden by configuration).
std::vector<std::string> BuildEnvironment(
    const std::map<std::string, std::string>& configured,
    const std::vector<std::pair<std::string, std::string>>& pgq) {
  std::map<std::string, std::string> merged;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const auto eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    merged.insert_or_assign(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  for (const auto& [name, value] : configured) merged.insert_or_assign(name, value);
  for (const auto& [name, value] : pgq) merged.insert_or_assign(name, value);
  std::vector<std::string> out;
  out.reserve(merged.size());
  for (const auto& [name, value] : merged) {
    std::string entry = name + "=" + value;
    // A NUL would silently truncate the variable.
    entry.erase(std::remove(entry.begin(), entry.end(), '\0'), entry.end());
    out.push_back(std::move(entry));
  }
  return out;
}

std::string SignalName(int sig) {
  switch (sig) {
    case SIGHUP:
      return "SIGHUP";
    case SIGINT:
      return "SIGINT";
    case SIGQUIT:
      return "SIGQUIT";
    case SIGILL:
      return "SIGILL";
    case SIGABRT:
      return "SIGABRT";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGKILL:
      return "SIGKILL";
    case SIGSEGV:
      return "SIGSEGV";
    case SIGPIPE:
      return "SIGPIPE";
    case SIGALRM:
      return "SIGALRM";
    case SIGTERM:
      return "SIGTERM";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGUSR2:
      return "SIGUSR2";
    default:
      return "signal " + std::to_string(sig);
  }
}

class ExecHandler {
 public:
  explicit ExecHandler(const HandlerConfig& config)
      : command_(config.command),
        env_(config.env),
        env_files_(config.env_files),
        timeout_(config.timeout) {
    if (command_.empty() || command_.front().empty()) {
      throw LogicError("exec handler: `command` must name a program");
    }
  }

  void Run(const Invocation& inv) const;

 private:
  std::vector<std::string> command_;
  std::map<std::string, std::string> env_;
  std::map<std::string, std::string> env_files_;  // read per run
  milliseconds timeout_;  // <= 0: no limit
};

void ExecHandler::Run(const Invocation& inv) const {
  auto env = env_;
  for (auto& [name, value] : ReadSecretValues(env_files_, "env_from_files")) {
    env[name] = std::move(value);
  }
  ChildProcess child(command_, BuildEnvironment(env, inv.env), ChildProcess::Limits{});
  const ChildProcess::Result result =
      child.Run(inv.payload.value_or(std::string_view{}), timeout_, inv.stop, inv.label);
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("exec {}: {} after {} ms; stdout tail: {}", inv.label, command_.front(),
                  result.elapsed.count(), result.stdout_tail);
  }
  const std::string& err_text = result.stderr_tail;
  const int status = result.wait_status;
  switch (result.end) {
    case ChildProcess::End::kCancelled:
      // The runtime records a handler that returns after cancellation as
      // cancelled, which is what happened.
      spdlog::info("exec {}: cancelled; process group {} stopped", inv.label, child.pid());
      return;
    case ChildProcess::End::kTimedOut:
      throw std::runtime_error(WithDetail(
          "command timed out after " + std::to_string(timeout_.count()) + " ms", err_text));
    case ChildProcess::End::kLost:
      throw std::runtime_error(
          "command status unknown: the child process was reaped by someone else");
    case ChildProcess::End::kExited:
      break;
  }
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    if (code == 0) return;
    throw std::runtime_error(
        WithDetail("command exited with status " + std::to_string(code), err_text));
  }
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    throw std::runtime_error(
        WithDetail("command killed by signal " + std::to_string(sig) + " (" + SignalName(sig) + ")",
                   err_text));
  }
  throw std::runtime_error(
      WithDetail("command ended with wait status " + std::to_string(status), err_text));
}

}  // namespace

Runner MakeExecRunner(const HandlerConfig& config) {
  auto handler = std::make_shared<const ExecHandler>(config);
  return [handler](const Invocation& inv) { handler->Run(inv); };
}

}  // namespace pgq::worker
