#pragma once
// Text encodings for bound parameters and result cells. All statements send
// parameters in text form, so arrays travel as PostgreSQL array literals.
// Internal; ByteaHex, which users call too, is declared in pgq/sql_params.h.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgq::detail {

/// `{"a","b",NULL}`: every element quoted and escaped, nullopt as NULL.
std::string ArrayLiteral(const std::vector<std::optional<std::string>>& items);
std::string ArrayLiteral(const std::vector<std::string>& items);
std::string ArrayLiteral(const std::vector<std::int64_t>& items);
/// Parses a one-dimensional text[] result such as `{a,"b c",NULL}`.
std::vector<std::optional<std::string>> ParseArray(std::string_view text);

// ByteaHex (bytes as bytea hex input) is public: pgq/sql_params.h.
/// Decodes bytea output in hex format (`\x...`) or legacy escape format.
std::string DecodeBytea(std::string_view text);

/// Microseconds as an interval literal PostgreSQL reads exactly.
std::string IntervalLiteral(std::chrono::microseconds value);

/// Microseconds since the epoch (as selected with our epoch_us() columns).
std::chrono::system_clock::time_point FromEpochMicros(std::string_view text);

std::int64_t ParseInt64(std::string_view text);

/// Double-quoted SQL identifier.
std::string QuoteIdent(std::string_view ident);
/// SQL string literal: '...' with quotes doubled, or E'...' when the text
/// holds a backslash (read the same whatever standard_conforming_strings is).
std::string QuoteLiteral(std::string_view text);

}  // namespace pgq::detail
