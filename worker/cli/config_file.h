#pragma once
// Loading the worker configuration for a subcommand (--config): the process
// environment supplies PGQUEUER_*; a ConfigError is printed once, here.

#include <optional>
#include <string>

#include "config/config.h"

namespace pgq::cli {

/// The configuration at `path`, or nullopt after printing
/// "pgq: configuration error: …" to stderr (the caller exits 2).
std::optional<worker::WorkerConfig> LoadConfigFile(const std::string& path);

}  // namespace pgq::cli
