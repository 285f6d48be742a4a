#pragma once
// application/x-www-form-urlencoded, as query strings and POST bodies use it.

#include <map>
#include <string>
#include <string_view>

namespace pgq::worker::web {

/// Percent-decoding with '+' as space; a malformed escape stays as written.
std::string UrlDecode(std::string_view text);
/// name=value pairs; a repeated name keeps its first value.
std::map<std::string, std::string> ParseForm(std::string_view text);

}  // namespace pgq::worker::web
