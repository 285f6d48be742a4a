#pragma once
// Hiding secrets in what the configuration dump (Masked()) and errors show.

#include <string>
#include <string_view>

namespace pgq::worker {

inline constexpr std::string_view kMask = "****";

/// Names whose values are treated as secret: headers, environment
/// variables, URL query parameters, `--name=value` arguments.
bool IsSensitiveName(std::string_view name);

/// A URL with the userinfo password and sensitive query values replaced.
std::string MaskUrl(std::string_view url);

/// One argv element with an obvious secret cut: `--password=x`, or a header
/// line like `Authorization: Bearer x`.
std::string MaskArgument(std::string_view arg);

}  // namespace pgq::worker
