#include "handlers/handlers.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <curl/curl.h>
#include <pqxx/connection_base>
#include <spdlog/spdlog.h>

#include "pgq/error.h"
#include "sql/literals.h"

extern char** environ;  // POSIX; <unistd.h> declares it only with _GNU_SOURCE

namespace pgq::worker {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// Bytes of stderr kept for the error message (the tail).
constexpr std::size_t kStderrTail = 4096;
/// Bytes of stdout kept for the debug log (the tail).
constexpr std::size_t kStdoutTail = 4096;
/// Bytes of an HTTP error response quoted in the message.
constexpr std::size_t kHttpBodyPrefix = 512;
/// Between SIGTERM and SIGKILL to the command's process group.
constexpr milliseconds kTermGrace{2000};
/// After SIGKILL: how long to wait for the group to vanish and the pipes to
/// close before giving up on processes that escaped the group.
constexpr milliseconds kKillWait{1000};
/// Longest poll() sleep, so that cancellation is noticed promptly.
constexpr milliseconds kPollSlice{50};

// ------------------------------------------------------------------ text

/// `text` with invalid UTF-8 replaced by U+FFFD (tracebacks are JSON, and
/// a cut tail or a binary stream must not make them unencodable).
std::string ValidUtf8(std::string_view text) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = 0;
    if (c < 0x80) {
      len = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
    }
    bool ok = len > 0 && i + len <= text.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      ok = (next & 0xC0) == 0x80;
      if (ok && k == 1) {  // overlongs, surrogates, > U+10FFFF
        ok = !(c == 0xE0 && next < 0xA0) && !(c == 0xED && next > 0x9F) &&
             !(c == 0xF0 && next < 0x90) && !(c == 0xF4 && next > 0x8F);
      }
    }
    if (ok) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out.append(kReplacement);
      ++i;
    }
  }
  return out;
}

std::string TrimRight(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                           text.back() == '\t')) {
    text.pop_back();
  }
  return text;
}

/// Keeps the last `limit` bytes of a stream, in amortised O(1) per byte.
class TailBuffer {
 public:
  explicit TailBuffer(std::size_t limit) : limit_(limit) {}

  void Append(const char* data, std::size_t size) {
    if (size >= limit_) {
      truncated_ = truncated_ || size > limit_ || !buffer_.empty();
      buffer_.assign(data + (size - limit_), limit_);
      return;
    }
    buffer_.append(data, size);
    if (buffer_.size() > 2 * limit_) Trim();
  }

  /// The tail as valid UTF-8 without trailing blanks; "..." marks a cut.
  std::string Text() {
    Trim();
    std::string_view view = buffer_;
    if (truncated_) {
      // Do not start in the middle of a UTF-8 sequence.
      std::size_t skip = 0;
      while (skip < view.size() && skip < 3 &&
             (static_cast<unsigned char>(view[skip]) & 0xC0) == 0x80) {
        ++skip;
      }
      view.remove_prefix(skip);
    }
    std::string text = TrimRight(ValidUtf8(view));
    if (truncated_ && !text.empty()) text.insert(0, "...");
    return text;
  }

 private:
  void Trim() {
    if (buffer_.size() > limit_) {
      buffer_.erase(0, buffer_.size() - limit_);
      truncated_ = true;
    }
  }

  std::size_t limit_;
  std::string buffer_;
  bool truncated_ = false;
};

std::string ErrnoText(int error) { return std::generic_category().message(error); }

/// "message: detail", or "message" when there is no detail.
std::string WithDetail(std::string message, const std::string& detail) {
  if (!detail.empty()) message += ": " + detail;
  return message;
}

// ------------------------------------------------------------- invocation

/// What a handler run gets, whether it serves a job or a schedule.
struct Invocation {
  /// Payload bytes; nullopt is SQL NULL (exec and http send nothing).
  std::optional<std::string_view> payload;
  /// JSON text for the sql handler's $2.
  std::string_view headers_json;
  /// PGQ_* variables for exec.
  std::vector<std::pair<std::string, std::string>> env;
  /// X-Pgq-* request headers for http.
  std::vector<std::pair<std::string, std::string>> http_headers;
  std::stop_token stop;
  /// "job 42" / "schedule nightly", for log lines.
  std::string label;
};

Invocation ForJob(const JobContext& ctx) {
  const Job& job = ctx.job;
  Invocation inv;
  if (job.payload) inv.payload = std::string_view(*job.payload);
  inv.headers_json = job.headers;
  inv.env = {{"PGQ_JOB_ID", std::to_string(job.id)},
             {"PGQ_ENTRYPOINT", job.entrypoint},
             {"PGQ_HEADERS", job.headers},
             {"PGQ_ATTEMPTS", std::to_string(job.attempts)}};
  inv.http_headers = {{"X-Pgq-Job-Id", std::to_string(job.id)},
                      {"X-Pgq-Entrypoint", job.entrypoint},
                      {"X-Pgq-Headers", job.headers},
                      {"X-Pgq-Attempts", std::to_string(job.attempts)}};
  inv.stop = ctx.cancellation;
  inv.label = "job " + std::to_string(job.id) + " (" + job.entrypoint + ")";
  return inv;
}

Invocation ForSchedule(const ScheduleContext& ctx) {
  Invocation inv;
  inv.headers_json = "{}";
  inv.env = {{"PGQ_SCHEDULE", ctx.schedule.entrypoint}};
  inv.http_headers = {{"X-Pgq-Schedule", ctx.schedule.entrypoint}};
  inv.label = "schedule " + ctx.schedule.entrypoint;
  return inv;  // no payload, no stop token
}

// ------------------------------------------------------------------- exec

/// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  void Reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

/// A close-on-exec pipe whose ends are not 0, 1 or 2 (so that dup2 onto the
/// child's stdio always copies, even in a parent that closed its stdio).
std::pair<Fd, Fd> MakePipe() {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    throw std::runtime_error("exec: cannot create a pipe: " + ErrnoText(errno));
  }
  std::array<Fd, 2> ends{Fd(fds[0]), Fd(fds[1])};
  for (auto& end : ends) {
    if (end.get() < 3) {
      const int moved = ::fcntl(end.get(), F_DUPFD_CLOEXEC, 3);
      if (moved < 0) throw std::runtime_error("exec: cannot move a pipe: " + ErrnoText(errno));
      end = Fd(moved);
    }
  }
  return {std::move(ends[0]), std::move(ends[1])};
}

void SetNonBlocking(const Fd& fd) {
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    throw std::runtime_error("exec: cannot configure a pipe: " + ErrnoText(errno));
  }
}

/// SIGPIPE policy: writing the payload to a child that exited or closed its
/// stdin raises SIGPIPE, whose default action would kill the whole worker.
/// We do not change the process-wide disposition (that belongs to the
/// application); instead the thread running the command blocks SIGPIPE for
/// the duration of the call, so the write fails with EPIPE, and any SIGPIPE
/// that the write left pending on this thread is consumed before the old
/// mask is restored. The child starts with an empty mask and default
/// dispositions (see Spawn), so it sees ordinary SIGPIPE semantics.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;
  ~SigpipeBlock() {
    if (raised_ && !was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{};
        sigtimedwait(&set_, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  /// A write failed with EPIPE (so a SIGPIPE may be pending).
  void NoteEpipe() noexcept { raised_ = true; }

 private:
  sigset_t set_{};
  sigset_t old_{};
  bool was_pending_ = false;
  bool raised_ = false;
};

/// posix_spawn attributes and file actions, destroyed on scope exit.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawnattr_init(&attr_);
    posix_spawn_file_actions_init(&actions_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  posix_spawnattr_t* attr() noexcept { return &attr_; }
  posix_spawn_file_actions_t* actions() noexcept { return &actions_; }

 private:
  posix_spawnattr_t attr_{};
  posix_spawn_file_actions_t actions_{};
};

struct Child {
  pid_t pid = -1;  // also the process group id
  Fd stdin_fd, stdout_fd, stderr_fd;
  Fd pidfd;  // readable once the child exited; empty where unsupported
};

bool IsPermanentSpawnError(int error) {
  return error == ENOENT || error == EACCES || error == ENOEXEC || error == ENOTDIR ||
         error == ELOOP || error == ENAMETOOLONG || error == EISDIR;
}

/// Starts the command in a new process group with the given environment.
/// posix_spawn (vfork + exec in glibc) runs only async-signal-safe steps in
/// the child and reports exec failures (ENOENT ...) as its return value.
Child Spawn(const std::vector<std::string>& command, const std::vector<std::string>& environment) {
  auto [in_read, in_write] = MakePipe();
  auto [out_read, out_write] = MakePipe();
  auto [err_read, err_write] = MakePipe();

  SpawnSetup setup;
  // The pipes are close-on-exec; dup2 gives the child clean copies on 0-2.
  posix_spawn_file_actions_adddup2(setup.actions(), in_read.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(setup.actions(), out_write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(setup.actions(), err_write.get(), STDERR_FILENO);
  // New process group (pgid = pid) so that the whole tree can be signalled;
  // an empty signal mask (this thread blocks SIGPIPE) and default
  // dispositions for signals a parent commonly ignores or handles.
  sigset_t empty;
  sigemptyset(&empty);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setpgroup(setup.attr(), 0);
  posix_spawnattr_setsigmask(setup.attr(), &empty);
  posix_spawnattr_setsigdefault(setup.attr(), &defaults);
  posix_spawnattr_setflags(setup.attr(),
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv;
  argv.reserve(command.size() + 1);
  for (const auto& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(environment.size() + 1);
  for (const auto& entry : environment) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);

  Child child;
  const int rc =
      ::posix_spawnp(&child.pid, argv[0], setup.actions(), setup.attr(), argv.data(), envp.data());
  if (rc != 0) {
    const std::string message =
        "exec: cannot run program \"" + command.front() + "\": " + ErrnoText(rc);
    if (IsPermanentSpawnError(rc)) throw PermanentFailure(message);
    throw std::runtime_error(message);
  }
  // The parent keeps only its ends.
  child.stdin_fd = std::move(in_write);
  child.stdout_fd = std::move(out_read);
  child.stderr_fd = std::move(err_read);
  SetNonBlocking(child.stdin_fd);
  SetNonBlocking(child.stdout_fd);
  SetNonBlocking(child.stderr_fd);
#ifdef SYS_pidfd_open
  const long pidfd = ::syscall(SYS_pidfd_open, child.pid, 0);
  if (pidfd >= 0) child.pidfd = Fd(static_cast<int>(pidfd));
#endif
  return child;
}

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
      : command_(config.command), env_(config.env), timeout_(config.timeout) {
    if (command_.empty() || command_.front().empty()) {
      throw LogicError("exec handler: `command` must name a program");
    }
  }

  void Run(const Invocation& inv) const;

 private:
  std::vector<std::string> command_;
  std::map<std::string, std::string> env_;
  milliseconds timeout_;  // <= 0: no limit
};

void ExecHandler::Run(const Invocation& inv) const {
  const std::vector<std::string> environment = BuildEnvironment(env_, inv.env);
  SigpipeBlock sigpipe;  // before any write to the child
  Child child = Spawn(command_, environment);
  const pid_t pid = child.pid;

  const std::string_view input = inv.payload.value_or(std::string_view{});
  std::size_t written = 0;
  if (input.empty()) child.stdin_fd.Reset();
  TailBuffer out_tail(kStdoutTail);
  TailBuffer err_tail(kStderrTail);

  const auto start = SteadyClock::now();
  std::optional<SteadyClock::time_point> deadline;
  if (timeout_.count() > 0) deadline = start + timeout_;

  // kRunning: pumping I/O. kTerminating: SIGTERM sent to the group (because
  // of a timeout, a cancellation, or, after the leader exited, to stop
  // whatever it left running in the background). kKilling: SIGKILL sent.
  enum class Phase { kRunning, kTerminating, kKilling };
  Phase phase = Phase::kRunning;
  SteadyClock::time_point phase_deadline{};
  bool timed_out = false;
  bool cancelled = false;
  bool leader_exited = false;  // a zombie until reaped: it keeps the pgid reserved
  bool leader_reaped = false;
  bool leader_lost = false;  // someone else reaped it (a waitpid(-1) elsewhere)
  bool group_gone = false;
  int status = 0;
  auto backoff = milliseconds(1);  // polling for exit without a pidfd
  std::array<char, 16384> buffer{};

  // Should anything below throw, the group is killed and the leader reaped
  // (no stray processes, no zombie).
  struct Reaper {
    Reaper(pid_t group, const bool& done) : pid(group), reaped(done) {}
    Reaper(const Reaper&) = delete;
    Reaper& operator=(const Reaper&) = delete;
    ~Reaper() {
      if (reaped) return;
      ::kill(-pid, SIGKILL);
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    pid_t pid;
    const bool& reaped;
  } reaper(pid, leader_reaped);

  auto signal_group = [&](int sig) {
    // Safe from pid reuse: until the leader is reaped its zombie holds the
    // id, and afterwards we stop once no process of the group is left.
    if (!group_gone) ::kill(-pid, sig);
  };
  auto begin_termination = [&](SteadyClock::time_point now) {
    signal_group(SIGTERM);
    child.stdin_fd.Reset();
    phase = Phase::kTerminating;
    phase_deadline = now + kTermGrace;
  };

  for (;;) {
    if (!leader_exited) {
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0) {
        leader_exited = info.si_pid == pid;
      } else if (errno == ECHILD) {
        leader_exited = leader_reaped = leader_lost = true;
      }
    }
    auto now = SteadyClock::now();
    if (phase == Phase::kRunning) {
      if (leader_exited) {
        begin_termination(now);
      } else if (inv.stop.stop_requested()) {
        cancelled = true;
        begin_termination(now);
      } else if (deadline && now >= *deadline) {
        timed_out = true;
        begin_termination(now);
      }
    } else if (phase == Phase::kTerminating && now >= phase_deadline) {
      signal_group(SIGKILL);
      phase = Phase::kKilling;
      phase_deadline = now + kKillWait;
    }
    if (leader_exited && !leader_reaped) {
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      leader_reaped = true;
    }
    if (leader_reaped && !group_gone) {
      // Members orphaned to us (we are PID 1 or a subreaper) are reaped here.
      while (::waitpid(-pid, nullptr, WNOHANG) > 0) {
      }
      group_gone = ::kill(-pid, 0) != 0 && errno == ESRCH;
    }
    const bool pipes_open = child.stdout_fd || child.stderr_fd;
    if (leader_reaped && group_gone && !pipes_open) break;
    if (phase == Phase::kKilling && now >= phase_deadline) {
      // Whatever still holds the pipes escaped the group (setsid): give up.
      if (!leader_reaped) {
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        leader_reaped = true;
      }
      break;
    }

    std::array<pollfd, 4> fds{};
    nfds_t count = 0;
    int in_index = -1, out_index = -1, err_index = -1, pid_index = -1;
    if (child.stdin_fd) {
      in_index = static_cast<int>(count);
      fds[count++] = pollfd{child.stdin_fd.get(), POLLOUT, 0};
    }
    if (child.stdout_fd) {
      out_index = static_cast<int>(count);
      fds[count++] = pollfd{child.stdout_fd.get(), POLLIN, 0};
    }
    if (child.stderr_fd) {
      err_index = static_cast<int>(count);
      fds[count++] = pollfd{child.stderr_fd.get(), POLLIN, 0};
    }
    if (child.pidfd && !leader_exited) {
      pid_index = static_cast<int>(count);
      fds[count++] = pollfd{child.pidfd.get(), POLLIN, 0};
    }
    auto wait = kPollSlice;
    if (leader_exited || !child.pidfd) {
      // Nothing wakes us when the leader or the group goes away: back off.
      wait = std::min(wait, backoff);
      backoff = std::min(backoff * 2, kPollSlice);
    }
    now = SteadyClock::now();
    auto until = [&](SteadyClock::time_point at) {
      return std::chrono::ceil<milliseconds>(std::max(at - now, SteadyClock::duration::zero()));
    };
    if (phase == Phase::kRunning && deadline) wait = std::min(wait, until(*deadline));
    if (phase != Phase::kRunning) wait = std::min(wait, until(phase_deadline));
    const int ready = ::poll(fds.data(), count, static_cast<int>(wait.count()));
    if (ready < 0) {
      if (errno == EINTR) continue;
      // Cannot happen with valid descriptors; do not spin or leak the child.
      spdlog::error("exec {}: poll failed: {}", inv.label, ErrnoText(errno));
      if (phase == Phase::kRunning) begin_termination(SteadyClock::now());
      continue;
    }
    if (ready == 0) continue;
    if (pid_index >= 0 && fds[pid_index].revents != 0) backoff = milliseconds(1);

    if (in_index >= 0 && fds[in_index].revents != 0) {
      const std::size_t chunk = std::min<std::size_t>(input.size() - written, 65536);
      const ssize_t n = ::write(child.stdin_fd.get(), input.data() + written, chunk);
      if (n > 0) {
        written += static_cast<std::size_t>(n);
        if (written == input.size()) child.stdin_fd.Reset();  // EOF for the child
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        // EPIPE: the child does not read its stdin; that is its business.
        if (errno == EPIPE) sigpipe.NoteEpipe();
        child.stdin_fd.Reset();
      }
    }
    auto drain = [&](int index, Fd& fd, TailBuffer& tail) {
      if (index < 0 || fds[index].revents == 0) return;
      const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
      if (n > 0) {
        tail.Append(buffer.data(), static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        fd.Reset();
      }
    };
    drain(out_index, child.stdout_fd, out_tail);
    drain(err_index, child.stderr_fd, err_tail);
  }

  const auto elapsed = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - start).count();
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("exec {}: {} after {} ms; stdout tail: {}", inv.label, command_.front(), elapsed,
                  out_tail.Text());
  }
  std::string err_text = err_tail.Text();
  if (cancelled) {
    // The runtime records a handler that returns after cancellation as
    // cancelled, which is what happened.
    spdlog::info("exec {}: cancelled; process group {} stopped", inv.label, pid);
    return;
  }
  if (timed_out) {
    throw std::runtime_error(WithDetail(
        "command timed out after " + std::to_string(timeout_.count()) + " ms", err_text));
  }
  if (leader_lost) {
    throw std::runtime_error(
        "command status unknown: the child process was reaped by someone else");
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

// ------------------------------------------------------------------- http

void EnsureCurlGlobal() {
  static const bool initialised = [] {
    const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
      throw std::runtime_error(std::string("cannot initialise libcurl: ") + curl_easy_strerror(rc));
    }
    return true;
  }();
  (void)initialised;
}

struct CurlUrlDeleter {
  void operator()(CURLU* url) const noexcept { curl_url_cleanup(url); }
};
struct CurlEasyDeleter {
  void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
struct CurlListDeleter {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};

/// What may appear in messages about a URL: scheme, host, port and path;
/// never the user info (user:password@) and never the query or fragment,
/// which often carry tokens.
struct UrlParts {
  std::string safe;
  std::vector<std::string> secrets;  // password as written and decoded
};

UrlParts InspectUrl(const std::string& url) {
  UrlParts parts;
  std::unique_ptr<CURLU, CurlUrlDeleter> handle(curl_url());
  if (!handle || curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    parts.safe = "<unparsable URL>";
    return parts;
  }
  auto get = [&](CURLUPart part, unsigned flags) {
    char* text = nullptr;
    std::string out;
    if (curl_url_get(handle.get(), part, &text, flags) == CURLUE_OK && text != nullptr) {
      out = text;
    }
    curl_free(text);
    return out;
  };
  const std::string port = get(CURLUPART_PORT, 0);
  parts.safe = get(CURLUPART_SCHEME, 0) + "://" + get(CURLUPART_HOST, 0) +
               (port.empty() ? "" : ":" + port) + get(CURLUPART_PATH, 0);
  for (const std::string& secret :
       {get(CURLUPART_PASSWORD, 0), get(CURLUPART_PASSWORD, CURLU_URLDECODE)}) {
    if (!secret.empty()) parts.secrets.push_back(secret);
  }
  return parts;
}

std::string HeaderLine(const std::string& name, const std::string& value) {
  std::string clean = value;
  clean.erase(std::remove_if(clean.begin(), clean.end(),
                             [](char c) { return c == '\r' || c == '\n' || c == '\0'; }),
              clean.end());
  // "Name:" would make libcurl drop the header; "Name;" sends it empty.
  if (clean.empty()) return name + ";";
  return name + ": " + clean;
}

bool SameHeaderName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

struct Transfer {
  std::string body;  // first kHttpBodyPrefix bytes of the response
  std::stop_token stop;
};

std::size_t OnBody(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  if (transfer->body.size() < kHttpBodyPrefix) {
    transfer->body.append(data, std::min(bytes, kHttpBodyPrefix - transfer->body.size()));
  }
  return bytes;  // the rest is read and discarded
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Transfer*>(user)->stop.stop_requested() ? 1 : 0;
}

class HttpHandler {
 public:
  explicit HttpHandler(const HandlerConfig& config) : url_(config.url), timeout_(config.timeout) {
    if (url_.empty()) throw LogicError("http handler: `url` is empty");
    EnsureCurlGlobal();
    url_parts_ = InspectUrl(url_);
    for (const auto& [name, value] : config.http_headers) extra_.emplace_back(name, value);
  }

  void Run(const Invocation& inv) const;

 private:
  /// Removes any trace of the URL's credentials from a message.
  std::string Scrub(std::string message) const {
    for (const auto& secret : url_parts_.secrets) {
      for (auto at = message.find(secret); at != std::string::npos; at = message.find(secret, at)) {
        message.replace(at, secret.size(), "****");
      }
    }
    return ValidUtf8(message);
  }

  std::string url_;
  UrlParts url_parts_;
  std::vector<std::pair<std::string, std::string>> extra_;
  milliseconds timeout_;  // <= 0: no limit
};

void HttpHandler::Run(const Invocation& inv) const {
  std::unique_ptr<CURL, CurlEasyDeleter> handle(curl_easy_init());
  if (!handle) throw std::runtime_error("http: cannot create a libcurl handle");
  CURL* curl = handle.get();

  // Ours first; a configured header of the same name replaces ours.
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/octet-stream"}};
  headers.insert(headers.end(), inv.http_headers.begin(), inv.http_headers.end());
  std::unique_ptr<curl_slist, CurlListDeleter> list;
  auto add = [&](const std::string& line) {
    curl_slist* next = curl_slist_append(list.get(), line.c_str());
    if (next == nullptr) throw std::runtime_error("http: out of memory building headers");
    if (next != list.get()) {  // the first node becomes the head
      (void)list.release();
      list.reset(next);
    }
  };
  for (const auto& [name, value] : headers) {
    const bool overridden = std::any_of(
        extra_.begin(), extra_.end(), [&](const auto& e) { return SameHeaderName(e.first, name); });
    if (!overridden) add(HeaderLine(name, value));
  }
  for (const auto& [name, value] : extra_) add(HeaderLine(name, value));
  add("Expect:");  // no 100-continue round trip for large bodies

  Transfer transfer;
  transfer.stop = inv.stop;
  const std::string_view body = inv.payload.value_or(std::string_view{});
  std::array<char, CURL_ERROR_SIZE> error{};

  curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500  // 7.85
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "pgq-worker");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::max<milliseconds::rep>(timeout_.count(), 0)));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error.data());

  const CURLcode rc = curl_easy_perform(curl);
  const std::string& where = url_parts_.safe;
  if (rc == CURLE_OK) {
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300) return;
    const std::string message = Scrub(
        WithDetail("HTTP " + std::to_string(code) + " from " + where, TrimRight(transfer.body)));
    if (code >= 400 && code < 500) throw PermanentFailure(message);
    if (code >= 300 && code < 400) {
      throw std::runtime_error(message + " (redirects are not followed)");
    }
    throw std::runtime_error(message);
  }
  if (rc == CURLE_ABORTED_BY_CALLBACK && inv.stop.stop_requested()) {
    spdlog::info("http {}: cancelled; request to {} aborted", inv.label, where);
    return;
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    throw std::runtime_error("HTTP request to " + where + " timed out after " +
                             std::to_string(timeout_.count()) + " ms");
  }
  const std::string detail = error[0] != '\0' ? TrimRight(error.data()) : curl_easy_strerror(rc);
  const std::string message = Scrub("HTTP request to " + where + " failed: " + detail);
  if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
    throw PermanentFailure(message);  // a configuration error: retrying cannot help
  }
  throw std::runtime_error(message);
}

// -------------------------------------------------------------------- sql

/// The statement as sent and which of ($1 payload, $2 headers) it binds.
/// PostgreSQL refuses a bind with more parameters than the statement uses
/// ("bind message supplies 2 parameters, but prepared statement requires
/// 0") and cannot type an unused $1, so only referenced parameters are
/// bound: a statement that uses only $2 is renumbered, and one without
/// parameters goes through the simple query protocol (it may then hold
/// several statements, e.g. `BEGIN`).
struct SqlPlan {
  std::string sql;
  bool payload = false;
  bool headers = false;
};

bool IsIdentChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) != 0 || c == '_' || c == '$' || u >= 0x80;
}

// Index just past the quoted section that starts at `i` (a literal or a
// quoted identifier): doubled quotes stay inside; with `backslash_escapes`
// (E'...') a backslash escapes the next character.
std::size_t SkipQuoted(std::string_view sql, std::size_t i, char quote, bool backslash_escapes) {
  const std::size_t n = sql.size();
  ++i;
  while (i < n) {
    if (backslash_escapes && sql[i] == '\\') {
      i += 2;
    } else if (sql[i] == quote) {
      if (i + 1 < n && sql[i + 1] == quote) {
        i += 2;
      } else {
        return i + 1;
      }
    } else {
      ++i;
    }
  }
  return n;
}

SqlPlan PlanStatement(const std::string& sql) {
  // Positions of $1/$2 outside literals, quoted identifiers, comments and
  // dollar-quoted strings.
  std::vector<std::pair<std::size_t, std::size_t>> refs;  // (offset, length) of "$2"
  bool uses1 = false, uses2 = false, uses_other = false;
  const std::size_t n = sql.size();
  std::size_t i = 0;
  while (i < n) {
    const char c = sql[i];
    if (c == '\'') {
      // E'...' strings have backslash escapes.
      const bool escapes =
          i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') && (i < 2 || !IsIdentChar(sql[i - 2]));
      i = SkipQuoted(sql, i, '\'', escapes);
    } else if (c == '"') {
      i = SkipQuoted(sql, i, '"', false);
    } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
      while (i < n && sql[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
      int depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] == '/' && i + 1 < n && sql[i + 1] == '*') {
          ++depth;
          i += 2;
        } else if (sql[i] == '*' && i + 1 < n && sql[i + 1] == '/') {
          --depth;
          i += 2;
        } else {
          ++i;
        }
      }
    } else if (c == '$' && !(i > 0 && IsIdentChar(sql[i - 1]))) {
      std::size_t j = i + 1;
      if (j < n && std::isdigit(static_cast<unsigned char>(sql[j])) != 0) {
        while (j < n && std::isdigit(static_cast<unsigned char>(sql[j])) != 0) ++j;
        const std::string_view number(sql.data() + i + 1, j - i - 1);
        if (number == "1") {
          uses1 = true;
        } else if (number == "2") {
          uses2 = true;
          refs.emplace_back(i, j - i);
        } else {
          uses_other = true;
        }
        i = j;
        continue;
      }
      // Dollar quote: $$ or $tag$ ... $tag$.
      while (j < n && IsIdentChar(sql[j]) && sql[j] != '$' &&
             !(j == i + 1 && std::isdigit(static_cast<unsigned char>(sql[j])) != 0)) {
        ++j;
      }
      if (j < n && sql[j] == '$') {
        const std::string tag = sql.substr(i, j - i + 1);
        const auto end = sql.find(tag, j + 1);
        i = end == std::string::npos ? n : end + tag.size();
      } else {
        i = j;
      }
    } else if (IsIdentChar(c)) {
      while (i < n && IsIdentChar(sql[i])) ++i;  // a `$` inside a word is part of it
    } else {
      ++i;
    }
  }
  SqlPlan plan;
  plan.sql = sql;
  if (uses_other) {
    // $3 and beyond do not exist: bind both and let the server say so.
    plan.payload = plan.headers = true;
  } else if (uses2 && !uses1) {
    for (auto it = refs.rbegin(); it != refs.rend(); ++it) plan.sql.replace(it->first, 2, "$1");
    plan.headers = true;
  } else {
    plan.payload = uses1;
    plan.headers = uses2;
  }
  return plan;
}

class SqlHandler {
 public:
  SqlHandler(const HandlerConfig& config, std::shared_ptr<ConnectionPool> pool)
      : pool_(std::move(pool)), plan_(PlanStatement(config.statement)), timeout_(config.timeout) {
    if (!pool_) throw LogicError("sql handler: no connection pool");
    if (config.statement.empty()) throw LogicError("sql handler: `statement` is empty");
  }

  void Run(const Invocation& inv) const;

 private:
  std::shared_ptr<ConnectionPool> pool_;
  SqlPlan plan_;
  milliseconds timeout_;  // <= 0: no limit
};

/// Cancels the statement running on `connection` (PQcancel, from a helper
/// thread) when the timeout passes or `stop` is requested, repeating every
/// 200 ms until the statement returns (a cancel that reaches the server
/// just before the statement starts is ignored). Disarm() must be called
/// before the connection is used for anything else.
class StatementWatchdog {
 public:
  enum class Reason { kNone, kTimeout, kCancelled };

  StatementWatchdog(pqxx::connection_base& connection,
                    std::optional<SteadyClock::time_point> deadline, const std::stop_token& stop)
      : connection_(connection),
        deadline_(deadline),
        on_stop_(stop,
                 [this] {
                   {
                     std::scoped_lock lock(mu_);
                     stop_requested_ = true;
                   }
                   cv_.notify_all();
                 }),
        // Nothing to watch without a deadline or a stoppable token.
        thread_(deadline || stop.stop_possible() ? std::jthread([this] { Watch(); })
                                                 : std::jthread()) {}
  StatementWatchdog(const StatementWatchdog&) = delete;
  StatementWatchdog& operator=(const StatementWatchdog&) = delete;
  ~StatementWatchdog() { Disarm(); }

  /// Stops the watchdog; returns why it fired, if it did.
  Reason Disarm() {
    {
      std::scoped_lock lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::scoped_lock lock(mu_);
    return reason_;
  }

 private:
  void Watch() {
    std::unique_lock lock(mu_);
    auto fired = [this] { return done_ || stop_requested_; };
    if (deadline_) {
      cv_.wait_until(lock, *deadline_, fired);
    } else {
      cv_.wait(lock, fired);
    }
    if (done_) return;
    reason_ = stop_requested_ ? Reason::kCancelled : Reason::kTimeout;
    while (!done_) {
      lock.unlock();
      try {
        // PQgetCancel reads only what the connection fixed at connect time
        // and PQcancel is meant to be called from another thread while a
        // statement runs.
        connection_.cancel_query();
      } catch (const std::exception& e) {
        spdlog::warn("sql handler: cancelling the statement failed: {}", e.what());
      }
      lock.lock();
      cv_.wait_for(lock, milliseconds(200), [this] { return done_; });
    }
  }

  pqxx::connection_base& connection_;
  std::optional<SteadyClock::time_point> deadline_;
  std::mutex mu_;  // guards done_, stop_requested_, reason_
  std::condition_variable cv_;
  bool done_ = false;
  bool stop_requested_ = false;
  Reason reason_ = Reason::kNone;
  std::stop_callback<std::function<void()>> on_stop_;
  std::jthread thread_;  // last: started after everything it uses exists
};

void SqlHandler::Run(const Invocation& inv) const {
  if (inv.stop.stop_requested()) return;  // cancelled before it started
  Params params;
  if (plan_.payload) {
    params.push_back(inv.payload ? Param(detail::ByteaHex(*inv.payload)) : std::nullopt);
  }
  if (plan_.headers) params.emplace_back(std::string(inv.headers_json));

  std::optional<SteadyClock::time_point> deadline;
  if (timeout_.count() > 0) deadline = SteadyClock::now() + timeout_;
  Lease lease = pool_->Acquire();
  // Taking the raw connection also makes the pool inspect the session
  // (transaction block, isolation) with a round trip when the lease is
  // returned: user SQL may change either, and a connection left inside a
  // transaction block (e.g. by `BEGIN`) is then discarded.
  pqxx::connection_base& connection = lease.connection();
  StatementWatchdog watchdog(connection, deadline, inv.stop);
  try {
    lease.Execute(plan_.sql, params);
  } catch (const DatabaseError& e) {
    const auto reason = watchdog.Disarm();
    if (reason == StatementWatchdog::Reason::kCancelled && e.sqlstate() == "57014") {
      spdlog::info("sql {}: cancelled; statement interrupted", inv.label);
      return;
    }
    if (reason == StatementWatchdog::Reason::kTimeout && e.sqlstate() == "57014") {
      throw DatabaseError(
          "sql statement timed out after " + std::to_string(timeout_.count()) + " ms", e.sqlstate(),
          /*retryable=*/true);
    }
    throw;
  }
  watchdog.Disarm();
}

// -------------------------------------------------------------- built-ins

void SleepFor(milliseconds duration, const std::stop_token& stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait_until(lock, stop, SteadyClock::now() + duration, [] { return false; });
}

}  // namespace

namespace {

// One builder for jobs and schedules: `adapt` turns the context (JobContext
// or ScheduleContext) into an Invocation.
template <typename Context>
std::function<void(Context&)> Build(const HandlerConfig& config, const HandlerDeps& deps,
                                    Invocation (*adapt)(const Context&)) {
  using Type = HandlerConfig::Type;
  switch (config.type) {
    case Type::kExec: {
      auto handler = std::make_shared<const ExecHandler>(config);
      return [handler, adapt](Context& ctx) { handler->Run(adapt(ctx)); };
    }
    case Type::kHttp: {
      auto handler = std::make_shared<const HttpHandler>(config);
      return [handler, adapt](Context& ctx) { handler->Run(adapt(ctx)); };
    }
    case Type::kSql: {
      auto handler = std::make_shared<const SqlHandler>(config, deps.pool);
      return [handler, adapt](Context& ctx) { handler->Run(adapt(ctx)); };
    }
    case Type::kNoop:
      return [](Context&) {};
    case Type::kSleep:
      return [duration = config.duration, adapt](Context& ctx) {
        SleepFor(duration, adapt(ctx).stop);
      };
    case Type::kFail:
      return [message = config.message](Context&) { throw std::runtime_error(message); };
  }
  throw LogicError("unknown handler type");
}

}  // namespace

Handler MakeHandler(const HandlerConfig& config, const HandlerDeps& deps) {
  return Build<JobContext>(config, deps, &ForJob);
}

ScheduleHandler MakeScheduleHandler(const HandlerConfig& config, const HandlerDeps& deps) {
  return Build<ScheduleContext>(config, deps, &ForSchedule);
}

}  // namespace pgq::worker
