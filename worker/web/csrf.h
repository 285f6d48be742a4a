#pragma once
// Cross-site request forgery: an action is a POST that passes two checks.
// (1) Same origin: its Origin header, or its Referer when a browser sent
// no Origin, names the host the request was sent to (the Host header);
// a request with neither is refused. (2) Per-session token: the form's
// `csrf` field equals the `pgq_csrf` cookie (random, HttpOnly,
// SameSite=Strict), which another site can neither read nor set.

#include <string>
#include <string_view>

#include "http/http_server.h"

namespace pgq::worker::web {

inline constexpr std::string_view kCsrfCookie = "pgq_csrf";

/// 32 random bytes as 64 hex digits.
std::string NewCsrfToken();
/// True for 64 lower-case hex digits (what NewCsrfToken makes).
bool WellFormedToken(std::string_view token);
/// The value of cookie `name` in a Cookie header, or "".
std::string CookieValue(std::string_view cookie_header, std::string_view name);
/// The `host[:port]` part of an absolute http(s) URL, or "" when it is not one.
std::string UrlAuthority(std::string_view url);
/// Check (1) above.
bool SameOrigin(const HttpRequest& request);
/// Both checks, with the token the form carried.
bool CsrfAllowed(const HttpRequest& request, std::string_view form_token);
/// The Set-Cookie value that plants `token`.
std::string CsrfCookieHeader(std::string_view token);

}  // namespace pgq::worker::web
