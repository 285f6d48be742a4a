#pragma once
// The built-in handlers: noop, sleep (honours cancellation), fail.

#include "config/config.h"
#include "handlers/invocation.h"

namespace pgq::worker {

/// An empty Runner for noop: there is nothing to run, so the caller need not
/// even build an Invocation.
Runner MakeNoopRunner(const HandlerConfig& config);
Runner MakeSleepRunner(const HandlerConfig& config);
/// Throws `config.message` as a retryable failure.
Runner MakeFailRunner(const HandlerConfig& config);

}  // namespace pgq::worker
