#include "web/csrf.h"

#include <array>
#include <random>

#include "web/auth.h"

namespace pgq::worker::web {

std::string NewCsrfToken() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device device;  // the kernel's random source on Linux
  std::string out;
  out.reserve(64);
  for (int i = 0; i < 8; ++i) {
    const auto word = static_cast<std::uint32_t>(device());
    for (int shift = 28; shift >= 0; shift -= 4) out += kHex[(word >> shift) & 0x0F];
  }
  return out;
}

bool WellFormedToken(std::string_view token) {
  if (token.size() != 64) return false;
  for (const char c : token) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string CookieValue(std::string_view cookie_header, std::string_view name) {
  std::size_t start = 0;
  while (start < cookie_header.size()) {
    auto end = cookie_header.find(';', start);
    if (end == std::string_view::npos) end = cookie_header.size();
    auto pair = cookie_header.substr(start, end - start);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      return std::string(pair.substr(eq + 1));
    }
    start = end + 1;
  }
  return "";
}

std::string UrlAuthority(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else {
    return "";
  }
  const auto end = rest.find_first_of("/?#");
  rest = rest.substr(0, end);
  if (rest.find('@') != std::string_view::npos) return "";  // userinfo: not a browser origin
  return std::string(rest);
}

bool SameOrigin(const HttpRequest& request) {
  const std::string host = request.Header("host");
  if (host.empty()) return false;
  const std::string origin = request.Header("origin");
  if (!origin.empty()) return UrlAuthority(origin) == host;  // "null" fails too
  const std::string referer = request.Header("referer");
  return !referer.empty() && UrlAuthority(referer) == host;
}

bool CsrfAllowed(const HttpRequest& request, std::string_view form_token) {
  if (!SameOrigin(request)) return false;
  const std::string cookie = CookieValue(request.Header("cookie"), kCsrfCookie);
  return WellFormedToken(cookie) && ConstantTimeEquals(cookie, form_token);
}

std::string CsrfCookieHeader(std::string_view token) {
  return std::string(kCsrfCookie) + "=" + std::string(token) +
         "; Path=/; HttpOnly; SameSite=Strict";
}

}  // namespace pgq::worker::web
