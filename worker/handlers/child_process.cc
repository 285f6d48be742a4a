#include "handlers/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <optional>
#include <stdexcept>
#include <utility>

#include <spdlog/spdlog.h>

#include "handlers/tail_buffer.h"
#include "pgq/runtime.h"
#include "util/text.h"

namespace pgq::worker {
namespace {

using std::chrono::milliseconds;

/// Longest poll() sleep, so that cancellation is noticed promptly.
constexpr milliseconds kPollSlice{50};

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
/// dispositions (see the ChildProcess constructor), so it sees ordinary SIGPIPE semantics.
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

bool IsPermanentSpawnError(int error) {
  return error == ENOENT || error == EACCES || error == ENOEXEC || error == ENOTDIR ||
         error == ELOOP || error == ENAMETOOLONG || error == EISDIR;
}

}  // namespace

// posix_spawn (vfork + exec in glibc) runs only async-signal-safe steps in
// the child and reports exec failures (ENOENT ...) as its return value.
ChildProcess::ChildProcess(const std::vector<std::string>& command,
                           const std::vector<std::string>& environment, Limits limits)
    : limits_(limits) {
  auto [in_read, in_write] = MakePipe();
  auto [out_read, out_write] = MakePipe();
  auto [err_read, err_write] = MakePipe();

  SpawnSetup setup;
  // The pipes are close-on-exec; dup2 gives the child clean copies on 0-2.
  posix_spawn_file_actions_adddup2(setup.actions(), in_read.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(setup.actions(), out_write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(setup.actions(), err_write.get(), STDERR_FILENO);
  // New process group (pgid = pid) so that the whole tree can be signalled;
  // an empty signal mask (Run blocks SIGPIPE in the calling thread) and
  // default dispositions for signals a parent commonly ignores or handles.
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

  const int rc =
      ::posix_spawnp(&pid_, argv[0], setup.actions(), setup.attr(), argv.data(), envp.data());
  if (rc != 0) {
    const std::string message =
        "exec: cannot run program \"" + command.front() + "\": " + ErrnoText(rc);
    if (IsPermanentSpawnError(rc)) throw PermanentFailure(message);
    throw std::runtime_error(message);
  }
  // The parent keeps only its ends.
  stdin_ = std::move(in_write);
  stdout_ = std::move(out_read);
  stderr_ = std::move(err_read);
#ifdef SYS_pidfd_open
  const long pidfd = ::syscall(SYS_pidfd_open, pid_, 0);
  if (pidfd >= 0) pidfd_ = Fd(static_cast<int>(pidfd));
#endif
  try {
    SetNonBlocking(stdin_);
    SetNonBlocking(stdout_);
    SetNonBlocking(stderr_);
  } catch (...) {
    Kill();
    throw;
  }
}

ChildProcess::~ChildProcess() { Kill(); }

void ChildProcess::Kill() noexcept {
  if (pid_ <= 0 || leader_reaped_) return;
  ::kill(-pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  leader_reaped_ = true;
}

// What one Run() moves through the pipes.
struct ChildProcess::Streams {
  std::string_view input;
  std::size_t written = 0;
  TailBuffer out_tail;
  TailBuffer err_tail;
  SigpipeBlock& sigpipe;
  milliseconds backoff{1};  // polling for exit without a pidfd
  std::array<char, 16384> buffer{};
};

void ChildProcess::CheckLeader() {
  if (leader_exited_) return;
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0) {
    leader_exited_ = info.si_pid == pid_;
  } else if (errno == ECHILD) {
    leader_exited_ = leader_reaped_ = leader_lost_ = true;
  }
}

void ChildProcess::SignalGroup(int sig) {
  // Safe from pid reuse: until the leader is reaped its zombie holds the
  // id, and afterwards we stop once no process of the group is left.
  if (!group_gone_) ::kill(-pid_, sig);
}

void ChildProcess::BeginTermination(SteadyClock::time_point now) {
  SignalGroup(SIGTERM);
  stdin_.Reset();
  phase_ = Phase::kTerminating;
  phase_deadline_ = now + limits_.term_grace;
}

void ChildProcess::ReapLeader() {
  while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
  }
  leader_reaped_ = true;
}

void ChildProcess::CheckGroup() {
  // Members orphaned to us (we are PID 1 or a subreaper) are reaped here.
  while (::waitpid(-pid_, nullptr, WNOHANG) > 0) {
  }
  group_gone_ = ::kill(-pid_, 0) != 0 && errno == ESRCH;
}

ChildProcess::Result ChildProcess::Run(std::string_view input, milliseconds timeout,
                                       const std::stop_token& stop, std::string_view label) {
  SigpipeBlock sigpipe;  // before any write to the child
  Streams io{input, 0, TailBuffer(limits_.stdout_tail), TailBuffer(limits_.stderr_tail), sigpipe};
  if (input.empty()) stdin_.Reset();

  const auto start = SteadyClock::now();
  std::optional<SteadyClock::time_point> deadline;
  if (timeout.count() > 0) deadline = start + timeout;
  Result result;

  for (;;) {
    CheckLeader();
    auto now = SteadyClock::now();
    if (phase_ == Phase::kRunning) {
      if (leader_exited_) {
        BeginTermination(now);
      } else if (stop.stop_requested()) {
        result.end = End::kCancelled;
        BeginTermination(now);
      } else if (deadline && now >= *deadline) {
        result.end = End::kTimedOut;
        BeginTermination(now);
      }
    } else if (phase_ == Phase::kTerminating && now >= phase_deadline_) {
      SignalGroup(SIGKILL);
      phase_ = Phase::kKilling;
      phase_deadline_ = now + limits_.kill_wait;
    }
    if (leader_exited_ && !leader_reaped_) ReapLeader();
    if (leader_reaped_ && !group_gone_) CheckGroup();
    if (leader_reaped_ && group_gone_ && !PipesOpen()) break;
    if (phase_ == Phase::kKilling && now >= phase_deadline_) {
      // Whatever still holds the pipes escaped the group (setsid): give up.
      if (!leader_reaped_) ReapLeader();
      break;
    }

    auto wait = kPollSlice;
    if (leader_exited_ || !pidfd_) {
      // Nothing wakes us when the leader or the group goes away: back off.
      wait = std::min(wait, io.backoff);
      io.backoff = std::min(io.backoff * 2, kPollSlice);
    }
    now = SteadyClock::now();
    auto until = [&](SteadyClock::time_point at) {
      return std::chrono::ceil<milliseconds>(std::max(at - now, SteadyClock::duration::zero()));
    };
    if (phase_ == Phase::kRunning && deadline) wait = std::min(wait, until(*deadline));
    if (phase_ != Phase::kRunning) wait = std::min(wait, until(phase_deadline_));
    Pump(io, wait, label);
  }

  if (leader_lost_ && result.end == End::kExited) result.end = End::kLost;
  result.wait_status = status_;
  result.stdout_tail = io.out_tail.Text();
  result.stderr_tail = io.err_tail.Text();
  result.elapsed = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - start);
  return result;
}

void ChildProcess::Pump(Streams& io, milliseconds wait, std::string_view label) {
  std::array<pollfd, 4> fds{};
  nfds_t count = 0;
  int in_index = -1, out_index = -1, err_index = -1, pid_index = -1;
  if (stdin_) {
    in_index = static_cast<int>(count);
    fds[count++] = pollfd{stdin_.get(), POLLOUT, 0};
  }
  if (stdout_) {
    out_index = static_cast<int>(count);
    fds[count++] = pollfd{stdout_.get(), POLLIN, 0};
  }
  if (stderr_) {
    err_index = static_cast<int>(count);
    fds[count++] = pollfd{stderr_.get(), POLLIN, 0};
  }
  if (pidfd_ && !leader_exited_) {
    pid_index = static_cast<int>(count);
    fds[count++] = pollfd{pidfd_.get(), POLLIN, 0};
  }
  const int ready = ::poll(fds.data(), count, static_cast<int>(wait.count()));
  if (ready < 0) {
    if (errno == EINTR) return;
    // Cannot happen with valid descriptors; do not spin or leak the child.
    spdlog::error("exec {}: poll failed: {}", label, ErrnoText(errno));
    if (phase_ == Phase::kRunning) BeginTermination(SteadyClock::now());
    return;
  }
  if (ready == 0) return;
  if (pid_index >= 0 && fds[pid_index].revents != 0) io.backoff = milliseconds(1);

  if (in_index >= 0 && fds[in_index].revents != 0) {
    const std::size_t chunk = std::min<std::size_t>(io.input.size() - io.written, 65536);
    const ssize_t n = ::write(stdin_.get(), io.input.data() + io.written, chunk);
    if (n > 0) {
      io.written += static_cast<std::size_t>(n);
      if (io.written == io.input.size()) stdin_.Reset();  // EOF for the child
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      // EPIPE: the child does not read its stdin; that is its business.
      if (errno == EPIPE) io.sigpipe.NoteEpipe();
      stdin_.Reset();
    }
  }
  auto drain = [&](int index, Fd& fd, TailBuffer& tail) {
    if (index < 0 || fds[index].revents == 0) return;
    const ssize_t n = ::read(fd.get(), io.buffer.data(), io.buffer.size());
    if (n > 0) {
      tail.Append(io.buffer.data(), static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      fd.Reset();
    }
  };
  drain(out_index, stdout_, io.out_tail);
  drain(err_index, stderr_, io.err_tail);
}

}  // namespace pgq::worker
