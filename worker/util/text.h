#pragma once
// Small text helpers shared by the worker's parts (config, handlers, cli).
// The worker includes only its own util/ (the library's src/util is not on
// its include path).

#include <string>
#include <string_view>
#include <vector>

namespace pgq::worker {

/// `text` without trailing spaces, tabs, CRs and LFs.
std::string TrimTrailingSpace(std::string text);

/// strerror-like text for an errno value (thread-safe).
std::string ErrnoText(int error);

/// `text` with invalid UTF-8 replaced by U+FFFD (tracebacks are JSON, and a
/// cut tail or a binary stream must not make them unencodable).
std::string ValidUtf8(std::string_view text);

/// `text` with A-Z lowered, other bytes unchanged (no locale): config keys
/// and secret names are ASCII. The library keeps its own one-liner for its
/// settings (src/util/ascii.h); four lines do not earn a public header.
std::string AsciiLower(std::string_view text);

/// The parts with "; " between them ("" for none).
std::string JoinReasons(const std::vector<std::string>& parts);

/// "message: detail", or "message" when there is no detail.
std::string WithDetail(std::string message, const std::string& detail);

}  // namespace pgq::worker
