#pragma once
// The `pgq` command line. Exit codes: 0 ok, 1 runtime failure (or a
// difference found by `verify`, or a duplicate under --on-conflict raise),
// 2 usage or configuration error, 3 in doubt (`pgq queue` lost the connection
// after sending the job: it may or may not be enqueued).

namespace pgq::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInDoubt = 3;

int Main(int argc, char** argv);

}  // namespace pgq::cli
