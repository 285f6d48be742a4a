// ChildProcess on real /bin/sh children: exit status, the deadline's
// TERM/KILL escalation, and the output tail limits.

#include "handlers/child_process.h"

#include <sys/wait.h>

#include <chrono>
#include <stop_token>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pgq/runtime.h"

namespace pgq::worker {
namespace {

using namespace std::chrono_literals;

ChildProcess::Result RunShell(const std::string& script, std::string_view input = {},
                              std::chrono::milliseconds timeout = 10s,
                              ChildProcess::Limits limits = {}) {
  ChildProcess child({"/bin/sh", "-c", script}, {"PATH=/usr/bin:/bin"}, limits);
  return child.Run(input, timeout, std::stop_token(), "test");
}

TEST(ChildProcessTest, ReportsTheExitCodeAndTheOutput) {
  const auto result = RunShell("cat; echo oops >&2; exit 3", "payload");
  EXPECT_EQ(result.end, ChildProcess::End::kExited);
  ASSERT_TRUE(WIFEXITED(result.wait_status));
  EXPECT_EQ(WEXITSTATUS(result.wait_status), 3);
  EXPECT_EQ(result.stdout_tail, "payload");
  EXPECT_EQ(result.stderr_tail, "oops");
}

TEST(ChildProcessTest, TimeoutTerminatesThenKillsTheGroup) {
  ChildProcess::Limits limits;
  limits.term_grace = 200ms;
  // The shell ignores SIGTERM, so only the SIGKILL after the grace ends it.
  const auto start = std::chrono::steady_clock::now();
  const auto result = RunShell("trap '' TERM; while :; do sleep 0.05; done", {}, 100ms, limits);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(result.end, ChildProcess::End::kTimedOut);
  ASSERT_TRUE(WIFSIGNALED(result.wait_status));
  EXPECT_EQ(WTERMSIG(result.wait_status), SIGKILL);
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);
}

TEST(ChildProcessTest, StopTokenCancels) {
  std::stop_source source;
  source.request_stop();
  ChildProcess child({"/bin/sh", "-c", "sleep 10"}, {"PATH=/usr/bin:/bin"}, {});
  const auto result = child.Run({}, 0ms, source.get_token(), "test");
  EXPECT_EQ(result.end, ChildProcess::End::kCancelled);
}

TEST(ChildProcessTest, KeepsOnlyTheTailOfTheOutput) {
  ChildProcess::Limits limits;
  limits.stdout_tail = 16;
  const auto result = RunShell("i=0; while [ $i -lt 100 ]; do echo line$i; i=$((i+1)); done",
                               {}, 10s, limits);
  EXPECT_EQ(result.end, ChildProcess::End::kExited);
  EXPECT_LE(result.stdout_tail.size(), 16u + 3u);
  EXPECT_EQ(result.stdout_tail.rfind("...", 0), 0u) << result.stdout_tail;
  EXPECT_NE(result.stdout_tail.find("line99"), std::string::npos);
}

TEST(ChildProcessTest, MissingProgramIsPermanent) {
  EXPECT_THROW(ChildProcess({"/nonexistent/program"}, {}, {}), PermanentFailure);
}

}  // namespace
}  // namespace pgq::worker
