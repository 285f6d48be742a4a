#pragma once
// The `http` handler: POSTs the payload to a configured URL.

#include "config/config.h"
#include "handlers/invocation.h"

namespace pgq::worker {

/// See handlers.h for the status-code policy. Throws LogicError when the
/// URL is empty.
Runner MakeHttpRunner(const HandlerConfig& config);

}  // namespace pgq::worker
