// ParseDuration / FormatDuration: the duration syntax of the config file.

#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace pgq::worker {

using std::chrono::milliseconds;

std::chrono::milliseconds ParseDuration(const std::string& text) {
  const auto invalid = [&](std::string_view why = {}) -> std::invalid_argument {
    std::string message = "expected a duration like 500ms, 30s, 5m; got " + Quote(text);
    if (!why.empty()) message += " (" + std::string(why) + ")";
    return std::invalid_argument(message);
  };
  std::size_t pos = 0;
  const auto digits = [&] {
    const std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    return std::string_view(text).substr(start, pos - start);
  };
  const std::string_view whole = digits();
  if (whole.empty()) throw invalid();
  std::string_view fraction;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    fraction = digits();
    if (fraction.empty()) throw invalid();
  }
  const std::string_view unit = std::string_view(text).substr(pos);
  std::int64_t unit_ms = 0;
  if (unit == "ms") {
    unit_ms = 1;
  } else if (unit == "s") {
    unit_ms = 1000;
  } else if (unit == "m") {
    unit_ms = 60 * 1000;
  } else if (unit == "h") {
    unit_ms = 60 * 60 * 1000;
  } else if (unit == "d") {
    unit_ms = 24 * 60 * 60 * 1000;
  } else if (unit.empty()) {
    throw invalid("a unit is required: ms, s, m, h or d");
  } else {
    throw invalid();
  }
  std::int64_t value = 0;
  if (std::from_chars(whole.data(), whole.data() + whole.size(), value).ec != std::errc() ||
      __builtin_mul_overflow(value, unit_ms, &value)) {
    throw invalid("too large");
  }
  if (!fraction.empty()) {
    if (fraction.size() > 9) throw invalid("finer than a millisecond");
    std::int64_t numerator = 0;
    std::from_chars(fraction.data(), fraction.data() + fraction.size(), numerator);
    std::int64_t denominator = 1;
    for (std::size_t i = 0; i < fraction.size(); ++i) denominator *= 10;
    const std::int64_t scaled = numerator * unit_ms;  // < 10^9 * 8.64e7: no overflow
    if (scaled % denominator != 0) throw invalid("finer than a millisecond");
    if (__builtin_add_overflow(value, scaled / denominator, &value)) throw invalid("too large");
  }
  return milliseconds(value);
}

std::string FormatDuration(std::chrono::milliseconds duration) {
  const std::int64_t ms = duration.count();
  if (ms == 0) return "0s";
  if (ms % (60 * 60 * 1000) == 0) return std::to_string(ms / (60 * 60 * 1000)) + "h";
  if (ms % (60 * 1000) == 0) return std::to_string(ms / (60 * 1000)) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace pgq::worker
