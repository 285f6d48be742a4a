#pragma once
// libpq connection strings (key=value or URI): parsing and quoting. Shared by
// RedactConninfo and the worker's connection-string builder.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgq::detail {

using ConninfoOptions = std::vector<std::pair<std::string, std::string>>;

/// The options `conninfo` sets explicitly, in libpq's keyword order; nullopt
/// when libpq rejects it. libpq's error text is dropped: it may quote the
/// string, password included.
std::optional<ConninfoOptions> ParseConninfo(std::string_view conninfo);

/// Appends ` key='value'` (no leading space on an empty `out`) with libpq's
/// quoting: a backslash before every ' and \.
void AppendConninfo(std::string& out, std::string_view key, std::string_view value);

}  // namespace pgq::detail
