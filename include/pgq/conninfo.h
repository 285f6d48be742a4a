#pragma once
/// @file
/// libpq connection strings (key=value or URI): parsing and quoting, for
/// code that builds a connection string from parts (a DSN plus settings of
/// its own) without re-implementing libpq's rules.
///
/// RedactConninfo (pgq/driver.h) hides the password of such a string.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgq {

/// (keyword, value) pairs, in libpq's keyword order.
using ConninfoOptions = std::vector<std::pair<std::string, std::string>>;

/// The options `conninfo` sets explicitly (URIs are decoded, quotes and
/// escapes resolved), in libpq's keyword order; nullopt when libpq rejects
/// the string. libpq's error text is dropped: it may quote the string,
/// password included. Thread-safe.
std::optional<ConninfoOptions> ParseConninfo(std::string_view conninfo);

/// Appends ` key='value'` to `out` (no leading space when `out` is empty),
/// quoted as libpq reads it: a backslash before every ' and \. libpq takes
/// the last value of a repeated keyword, so appending overrides.
void AppendConninfo(std::string& out, std::string_view key, std::string_view value);

}  // namespace pgq
