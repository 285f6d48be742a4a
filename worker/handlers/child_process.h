#pragma once
// One child process run to completion for the exec handler: started in its
// own process group with pipes on stdin/stdout/stderr, fed its input, the
// tails of its output kept, and stopped (SIGTERM to the group, then SIGKILL)
// on a deadline or a cancellation.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/fd.h"

namespace pgq::worker {

class ChildProcess {
 public:
  struct Limits {
    std::size_t stdout_tail = 4096;  // bytes of stdout kept (the tail)
    std::size_t stderr_tail = 4096;  // bytes of stderr kept (the tail)
    /// Between SIGTERM and SIGKILL to the process group.
    std::chrono::milliseconds term_grace{2000};
    /// After SIGKILL: how long to wait for the group to vanish and the pipes
    /// to close before giving up on processes that escaped the group.
    std::chrono::milliseconds kill_wait{1000};
  };

  enum class End {
    kExited,     // the leader ended on its own; see wait_status
    kTimedOut,   // the deadline passed first
    kCancelled,  // the stop token fired first
    kLost,       // someone else reaped the leader (a waitpid(-1) elsewhere)
  };

  struct Result {
    End end = End::kExited;
    int wait_status = 0;      // waitpid() status of the leader
    std::string stdout_tail;  // valid UTF-8 without trailing blanks; "..." marks a cut
    std::string stderr_tail;
    std::chrono::milliseconds elapsed{0};
  };

  /// Starts `command` (argv; searched on PATH) with exactly `environment`.
  /// Throws PermanentFailure when the program cannot be run and retrying
  /// cannot help (ENOENT, EACCES ...), std::runtime_error otherwise.
  ChildProcess(const std::vector<std::string>& command,
               const std::vector<std::string>& environment, Limits limits);
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  /// Kills the group and reaps the leader if Run() did not (no stray
  /// processes, no zombie when Run throws).
  ~ChildProcess();

  /// Also the process group id.
  pid_t pid() const noexcept { return pid_; }

  /// Writes `input` to the child's stdin (then closes it), collects output,
  /// and returns once the leader is reaped, its group is gone and the pipes
  /// are closed. `timeout` <= 0: no limit. `label` names the run in logs.
  /// Call once.
  Result Run(std::string_view input, std::chrono::milliseconds timeout,
             const std::stop_token& stop, std::string_view label);

 private:
  using SteadyClock = std::chrono::steady_clock;
  struct Streams;  // the I/O state of one Run()

  // kRunning: pumping I/O. kTerminating: SIGTERM sent to the group (because
  // of a timeout, a cancellation, or, after the leader exited, to stop
  // whatever it left running in the background). kKilling: SIGKILL sent.
  enum class Phase { kRunning, kTerminating, kKilling };

  void Kill() noexcept;  // SIGKILL to the group, then reap the leader
  void CheckLeader();
  void SignalGroup(int sig);
  void BeginTermination(SteadyClock::time_point now);
  void ReapLeader();
  void CheckGroup();
  /// One poll() of at most `wait`, then the writes and reads it allows.
  void Pump(Streams& io, std::chrono::milliseconds wait, std::string_view label);
  bool PipesOpen() const noexcept { return stdout_ || stderr_; }

  Limits limits_;
  pid_t pid_ = -1;
  Fd stdin_, stdout_, stderr_;
  Fd pidfd_;  // readable once the leader exited; empty where unsupported

  Phase phase_ = Phase::kRunning;
  SteadyClock::time_point phase_deadline_{};
  bool leader_exited_ = false;  // a zombie until reaped: it keeps the pgid reserved
  bool leader_reaped_ = false;
  bool leader_lost_ = false;
  bool group_gone_ = false;
  int status_ = 0;
};

}  // namespace pgq::worker
