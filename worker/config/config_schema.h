#pragma once
// The schema of the configuration file, written once (config_schema.cc):
// every section and key with its type, validation, whether it is secret,
// how it is parsed and how it is shown in the masked dump. Unknown-key
// suggestions come from the same table.

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace pgq::worker {

/// Parses and validates a whole document (PGQUEUER_* from `env` layered
/// over queue.prefix/schema/channel).
WorkerConfig ParseDocument(const Parser& parser, const YAML::Node& document,
                           const std::string& file, const EnvLookup& env);

/// Writes `config` as a YAML mapping, secrets masked (WorkerConfig::Masked).
void EmitMasked(YAML::Emitter& out, const WorkerConfig& config);

/// Every key of the table as a dotted path ("database.host",
/// "entrypoints.*.retry.max_attempts", "handler.command"), for the check
/// that docs/configuration.md documents each one.
std::vector<std::string> SchemaKeyPaths();

}  // namespace pgq::worker
