#pragma once
// Enums whose values have fixed names (SQL labels, setting values) keep them
// in one table of (value, name) pairs; these look either side up.

#include <optional>
#include <string_view>
#include <utility>

namespace pgq::detail {

template <typename Enum, typename Table>
std::optional<std::string_view> NameOf(const Table& table, Enum value) noexcept {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return std::nullopt;
}

template <typename Enum, typename Table>
std::optional<Enum> ValueNamed(const Table& table, std::string_view name) noexcept {
  for (const auto& [v, n] : table) {
    if (n == name) return v;
  }
  return std::nullopt;
}

}  // namespace pgq::detail
