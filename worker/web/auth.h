#pragma once
// Who may use the console: HTTP Basic against credentials from secret
// files, compared in constant time.

#include <optional>
#include <string>
#include <string_view>

namespace pgq::worker::web {

struct BasicCredentials {
  std::string user;
  std::string password;
};

/// Compares without an early exit, so the time taken does not tell how
/// many leading bytes matched (the lengths may still differ in time).
bool ConstantTimeEquals(std::string_view a, std::string_view b) noexcept;

/// Standard base64 with padding; nullopt when malformed.
std::optional<std::string> DecodeBase64(std::string_view text);

/// The user name when `authorization` (the header's value) is
/// "Basic base64(user:password)" with exactly these credentials; nullopt
/// otherwise. The scheme name is case-insensitive.
std::optional<std::string> CheckBasicAuth(std::string_view authorization,
                                          const BasicCredentials& expected);

/// A credential file's content without one trailing newline (CRLF or LF).
std::string TrimCredential(std::string text);

}  // namespace pgq::worker::web
