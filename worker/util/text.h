#pragma once
// Small text helpers shared by the worker's parts (config, handlers, cli).
// One copy each; src/ has none of these (AsciiLower lives in src/util/ascii.h).

#include <string>
#include <string_view>

namespace pgq::worker {

/// `text` without trailing spaces, tabs, CRs and LFs.
std::string TrimTrailingSpace(std::string text);

/// strerror-like text for an errno value (thread-safe).
std::string ErrnoText(int error);

/// `text` with invalid UTF-8 replaced by U+FFFD (tracebacks are JSON, and a
/// cut tail or a binary stream must not make them unencodable).
std::string ValidUtf8(std::string_view text);

/// "message: detail", or "message" when there is no detail.
std::string WithDetail(std::string message, const std::string& detail);

}  // namespace pgq::worker
