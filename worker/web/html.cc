#include "web/html.h"

#include <cmath>
#include <cstdio>
#include <ctime>

namespace pgq::worker::web {

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' ||
        u == '_' || u == '.' || u == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0x0F];
    }
  }
  return out;
}

bool IsUtf8(std::string_view bytes) {
  std::size_t i = 0;
  while (i < bytes.size()) {
    const auto b0 = static_cast<unsigned char>(bytes[i]);
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    std::uint32_t code = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      length = 2;
      code = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      length = 3;
      code = b0 & 0x0F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      length = 4;
      code = b0 & 0x07;
    } else {
      return false;
    }
    if (i + length > bytes.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto b = static_cast<unsigned char>(bytes[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      code = (code << 6) | (b & 0x3F);
    }
    if ((length == 3 && code < 0x800) || (length == 4 && code < 0x10000) || code > 0x10FFFF ||
        (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

std::string HexDump(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 3);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) out += (i % 16 == 0) ? '\n' : ' ';
    const auto u = static_cast<unsigned char>(bytes[i]);
    out += kHex[u >> 4];
    out += kHex[u & 0x0F];
  }
  return out;
}

namespace {

bool Printable(std::string_view text) {
  if (!IsUtf8(text)) return false;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7F) return false;
  }
  return true;
}

}  // namespace

std::string PayloadHtml(const std::optional<std::string>& bytes, std::int64_t total) {
  if (!bytes) return "<p class=\"muted\">NULL</p>";
  std::string out;
  // A preview cut inside a multi-byte character is still text: drop the
  // incomplete tail (at most 3 bytes) before deciding.
  std::string_view shown = *bytes;
  const bool cut = total > static_cast<std::int64_t>(shown.size());
  if (cut && !IsUtf8(shown)) {
    for (std::size_t drop = 1; drop <= 3 && drop <= shown.size(); ++drop) {
      if (IsUtf8(shown.substr(0, shown.size() - drop))) {
        shown = shown.substr(0, shown.size() - drop);
        break;
      }
    }
  }
  if (Printable(shown)) {
    out = "<pre class=\"payload\">" + HtmlEscape(shown) + "</pre>";
  } else {
    shown = *bytes;
    out = "<p class=\"muted\">not UTF-8 text: hex</p><pre class=\"payload hex\">" + HexDump(shown) +
          "</pre>";
  }
  if (cut) {
    out += "<p class=\"muted\">showing " + std::to_string(shown.size()) + " of " +
           std::to_string(total) + " bytes</p>";
  }
  return out;
}

std::string FormatTime(Clock::time_point when) {
  const std::time_t t = Clock::to_time_t(when);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%SZ", &utc);
  return buffer;
}

std::string FormatAge(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const auto s = static_cast<long long>(seconds);
  char buffer[48];
  if (s < 60) {
    std::snprintf(buffer, sizeof buffer, "%llds", s);
  } else if (s < 3600) {
    std::snprintf(buffer, sizeof buffer, "%lldm %llds", s / 60, s % 60);
  } else if (s < 86400) {
    std::snprintf(buffer, sizeof buffer, "%lldh %lldm", s / 3600, s % 3600 / 60);
  } else {
    std::snprintf(buffer, sizeof buffer, "%lldd %lldh", s / 86400, s % 86400 / 3600);
  }
  return buffer;
}

}  // namespace pgq::worker::web
