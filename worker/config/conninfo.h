#pragma once
// Building the libpq connection string from `database:` (and the secret
// files it names). Parsing and quoting are the library's
// (driver/conninfo.h).

#include <string>

#include "config/config.h"

namespace pgq::worker {

/// The connection string for `db`, reading the secret files now. Throws
/// ConnectionError (naming the key and path, never the content).
std::string BuildConninfo(const DatabaseConfig& db);

}  // namespace pgq::worker
