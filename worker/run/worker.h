#pragma once
// `pgq run`: a worker from a configuration file.

#include "config/config.h"

namespace pgq::worker {

/// Runs the worker until SIGTERM/SIGINT (or the end of a drain). Returns
/// the process exit code: 0 after a clean stop, 1 on a runtime failure.
/// A second signal exits at once with status 1.
int RunWorker(const WorkerConfig& config);

}  // namespace pgq::worker
