#pragma once
// Building the libpq connection string from `database:` (and the secret
// files it names). Parsing and quoting are the library's (pgq/conninfo.h).

#include <chrono>
#include <string>

#include "config/config.h"

namespace pgq::worker {

/// The connection string for `db`, reading the secret files now, with
/// `statement_timeout` (0: none) in the `options` startup parameter. Throws
/// ConnectionError (naming the key and path, never the content).
std::string BuildConninfo(const DatabaseConfig& db, std::chrono::milliseconds statement_timeout);
/// The LISTEN connection's string: BuildConninfo() with `database.listener`'s
/// keys appended (libpq takes the last value of a repeated keyword).
std::string BuildListenerConninfo(const DatabaseConfig& db,
                                  std::chrono::milliseconds statement_timeout);

}  // namespace pgq::worker
