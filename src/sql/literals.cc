#include "sql/literals.h"

#include <charconv>
#include <cstdio>
#include <stdexcept>

#include "pgq/error.h"
#include "pgq/sql_params.h"

namespace pgq::detail {
namespace {

void AppendQuoted(std::string& out, std::string_view item) {
  out.push_back('"');
  for (char c : item) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

}  // namespace

std::string ArrayLiteral(const std::vector<std::optional<std::string>>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out.push_back(',');
    if (items[i]) {
      AppendQuoted(out, *items[i]);
    } else {
      out += "NULL";
    }
  }
  out.push_back('}');
  return out;
}

std::string ArrayLiteral(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out.push_back(',');
    AppendQuoted(out, items[i]);
  }
  out.push_back('}');
  return out;
}

std::string ArrayLiteral(const std::vector<std::int64_t>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out.push_back(',');
    out += std::to_string(items[i]);
  }
  out.push_back('}');
  return out;
}

std::vector<std::optional<std::string>> ParseArray(std::string_view text) {
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') {
    throw LogicError("not an array literal: " + std::string(text));
  }
  std::vector<std::optional<std::string>> out;
  std::size_t i = 1;
  const std::size_t end = text.size() - 1;
  if (i == end) return out;
  while (i <= end) {
    std::string item;
    bool quoted = false;
    if (text[i] == '"') {
      quoted = true;
      ++i;
      while (i < end && text[i] != '"') {
        if (text[i] == '\\' && i + 1 < end) ++i;
        item.push_back(text[i++]);
      }
      ++i;  // closing quote
    } else {
      while (i < end && text[i] != ',') item.push_back(text[i++]);
    }
    if (!quoted && item == "NULL") {
      out.emplace_back(std::nullopt);
    } else {
      out.emplace_back(std::move(item));
    }
    ++i;  // comma or closing brace
  }
  return out;
}


namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  throw LogicError("bad hex digit in bytea");
}
}  // namespace

std::string DecodeBytea(std::string_view text) {
  std::string out;
  if (text.size() >= 2 && text[0] == '\\' && text[1] == 'x') {
    out.reserve((text.size() - 2) / 2);
    for (std::size_t i = 2; i + 1 < text.size(); i += 2) {
      out.push_back(static_cast<char>(HexValue(text[i]) * 16 + HexValue(text[i + 1])));
    }
    return out;
  }
  // Escape format: backslash-octal and doubled backslashes.
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out.push_back(text[i]);
    } else if (i + 1 < text.size() && text[i + 1] == '\\') {
      out.push_back('\\');
      ++i;
    } else if (i + 3 < text.size()) {
      out.push_back(static_cast<char>((text[i + 1] - '0') * 64 + (text[i + 2] - '0') * 8 +
                                      (text[i + 3] - '0')));
      i += 3;
    }
  }
  return out;
}

std::string IntervalLiteral(std::chrono::microseconds value) {
  // Seconds with a fraction: before PostgreSQL 15 each number in an interval
  // had to fit in 32 bits, so "3600000000 microseconds" would be rejected.
  const long long us = value.count();
  const unsigned long long magnitude =
      us < 0 ? 0ULL - static_cast<unsigned long long>(us) : static_cast<unsigned long long>(us);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%llu.%06llu seconds", us < 0 ? "-" : "", magnitude / 1000000,
                magnitude % 1000000);
  return buf;
}

std::int64_t ParseInt64(std::string_view text) {
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    throw LogicError("not an integer: " + std::string(text));
  }
  return value;
}

std::chrono::system_clock::time_point FromEpochMicros(std::string_view text) {
  return std::chrono::system_clock::time_point(std::chrono::microseconds(ParseInt64(text)));
}

std::string QuoteIdent(std::string_view ident) {
  std::string out = "\"";
  for (char c : ident) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string QuoteLiteral(std::string_view text) {
  // With a backslash, an E'' literal (backslashes doubled) reads the same
  // whatever standard_conforming_strings is, as quote_literal() does.
  const bool escape = text.find('\\') != std::string_view::npos;
  std::string out = escape ? "E'" : "'";
  for (char c : text) {
    if (c == '\'' || (escape && c == '\\')) out.push_back(c);
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

}  // namespace pgq::detail

namespace pgq {

std::string ByteaHex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 + bytes.size() * 2);
  out += "\\x";
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0x0f]);
  }
  return out;
}

}  // namespace pgq
