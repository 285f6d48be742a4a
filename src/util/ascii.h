#pragma once
// Locale-free ASCII case folding, shared by the library (settings) and the
// worker (config keys, secret names). Internal: not installed.

#include <string>
#include <string_view>

namespace pgq::detail {

/// `text` with A-Z lowered; other bytes unchanged (no locale).
inline std::string AsciiLower(std::string_view text) {
  std::string lowered(text);
  for (char& c : lowered) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lowered;
}

}  // namespace pgq::detail
