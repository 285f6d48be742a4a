#pragma once
// Text to HTML for the console: every byte that reaches a page from the
// database goes through HtmlEscape (or HexDump, which emits only hex digits
// and spaces), so a payload or an entrypoint cannot inject markup.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pgq/job.h"

namespace pgq::worker::web {

/// `&<>"'` as entities; everything else as is (the page is UTF-8).
std::string HtmlEscape(std::string_view text);
/// Percent-encodes all but unreserved characters (for query strings).
std::string UrlEncode(std::string_view text);
/// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool IsUtf8(std::string_view bytes);
/// Bytes as lower-case hex pairs, 16 to a line, separated by spaces.
std::string HexDump(std::string_view bytes);
/// A payload for the page: escaped text when `bytes` is UTF-8 without
/// control characters other than tab, CR and LF; hex otherwise. `total` is
/// the payload's full size; when larger than `bytes`, says how much is not
/// shown. nullopt payload: "NULL".
std::string PayloadHtml(const std::optional<std::string>& bytes, std::int64_t total);
/// "2026-12-08 01:02:03Z" (UTC).
std::string FormatTime(Clock::time_point when);
/// "42s", "3m 5s", "2h 1m", "4d 3h".
std::string FormatAge(double seconds);

}  // namespace pgq::worker::web
