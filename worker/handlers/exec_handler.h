#pragma once
// The `exec` handler: runs a configured command per job or schedule.

#include "config/config.h"
#include "handlers/invocation.h"

namespace pgq::worker {

/// Runs `config.command` with the payload on stdin and the invocation's
/// PGQ_* variables in the environment (see handlers.h). Throws LogicError
/// when the command is empty.
Runner MakeExecRunner(const HandlerConfig& config);

}  // namespace pgq::worker
