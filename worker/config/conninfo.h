#pragma once
// Building the libpq connection string from `database:` (and the secret
// files it names), and checking a DSN file's content.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"

namespace pgq::worker {

/// The options a DSN sets explicitly (libpq parses both key=value strings
/// and URIs); nullopt when libpq rejects it. libpq's error text is dropped:
/// it may quote the DSN, password included.
std::optional<std::vector<std::pair<std::string, std::string>>> ParseDsn(const std::string& dsn);

/// The connection string for `db`, reading the secret files now. Throws
/// ConnectionError (naming the key and path, never the content).
std::string BuildConninfo(const DatabaseConfig& db);
/// The LISTEN connection's string: BuildConninfo(db) with `database.listener`'s
/// keys appended (libpq takes the last value of a repeated keyword).
std::string BuildListenerConninfo(const DatabaseConfig& db);

}  // namespace pgq::worker
