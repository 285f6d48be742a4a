#pragma once
// The worker's log lines: JSON (one object a line) or text, on stderr.

#include "config/config.h"

namespace pgq::worker {

/// Configures spdlog (JSON lines or text on stderr; level from the config,
/// overridden by PGQ_LOG_LEVEL).
void SetupLogging(const LoggingConfig& logging);

}  // namespace pgq::worker
