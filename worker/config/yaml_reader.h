#pragma once
// Reading the YAML document with positions: every value is an Item that
// knows its line/column and dotted key path, so each error reads
// "file:line:column: key.path: problem" (see ConfigError). The checks here
// are generic (types, ranges, enums, unknown keys); what the keys mean is
// in config_schema.cc.

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/secret_files.h"
#include "util/text.h"

namespace pgq::worker {

using Keys = std::vector<std::string_view>;

std::string Join(const Keys& keys, std::string_view separator = ", ");
std::string JoinPath(const std::string& path, std::string_view key);
/// `text` in double quotes with C-style escapes, cut after 60 characters.
std::string Quote(std::string_view text);
bool Contains(const Keys& keys, std::string_view key);
/// "null", "a list", "a mapping", "the string \"x\"" or "\"x\"" (plain).
std::string Describe(const YAML::Node& node);

/// A node together with where errors about it point and its dotted key path.
struct Item {
  YAML::Node node;
  YAML::Mark mark;
  std::string path;
};

class Parser;


// A YAML mapping whose keys have been checked (strings, no duplicates, all
// in `allowed` unless that is empty), in document order.
class Mapping {
 public:
  struct Entry {
    std::string key;
    YAML::Mark key_mark;
    Item value;
  };

  Mapping(const Parser& parser, const Item& item, const Keys& allowed);

  std::optional<Item> Find(std::string_view key) const {
    for (const Entry& entry : entries_) {
      if (entry.key == key) return entry.value;
    }
    return std::nullopt;
  }
  // Where an error about a missing key points: at the mapping, naming the key.
  Item Missing(std::string_view key) const {
    return {YAML::Node(), self_.mark, JoinPath(self_.path, key)};
  }
  const std::vector<Entry>& entries() const noexcept { return entries_; }
  const Item& self() const noexcept { return self_; }
  bool empty() const noexcept { return entries_.empty(); }

 private:
  Item self_;
  std::vector<Entry> entries_;
};

/// Fails with ConfigError at an item; converts and checks scalars.
class Parser {
 public:
  explicit Parser(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void Fail(const YAML::Mark& mark, const std::string& path,
                         const std::string& problem) const {
    const bool known = !mark.is_null() && mark.line >= 0;
    throw ConfigError(file_, known ? mark.line + 1 : 0, known ? mark.column + 1 : 0, path, problem);
  }
  [[noreturn]] void Fail(const Item& item, const std::string& problem) const {
    Fail(item.mark, item.path, problem);
  }

  // ---- scalars

  const std::string& Scalar(const Item& item, std::string_view expected) const {
    if (!item.node.IsScalar()) {
      Fail(item, "expected " + std::string(expected) + "; got " + Describe(item.node));
    }
    return item.node.Scalar();
  }
  // A scalar written plainly: numbers and booleans must not be quoted.
  const std::string& Plain(const Item& item, std::string_view expected) const {
    const std::string& text = Scalar(item, expected);
    if (item.node.Tag() != "?") {
      Fail(item, "expected " + std::string(expected) + "; got " + Describe(item.node));
    }
    return text;
  }

  std::string String(const Item& item) const { return Scalar(item, "a string"); }
  std::string NonEmptyString(const Item& item) const {
    std::string value = String(item);
    if (value.empty()) Fail(item, "must not be empty");
    return value;
  }

  std::int64_t Int(const Item& item) const {
    std::string_view text = Plain(item, "an integer");
    if (!text.empty() && text.front() == '+') text.remove_prefix(1);
    std::int64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error == std::errc::invalid_argument || end != text.data() + text.size()) {
      Fail(item, "expected an integer; got " + Describe(item.node));
    }
    if (error == std::errc::result_out_of_range) {
      Fail(item, "integer out of range; got " + Describe(item.node));
    }
    return value;
  }
  std::int64_t IntAtLeast(const Item& item, std::int64_t minimum, std::string_view why = {}) const {
    const std::int64_t value = Int(item);
    if (value < minimum) {
      std::string problem = "must be >= " + std::to_string(minimum);
      if (!why.empty()) problem += " (" + std::string(why) + ")";
      Fail(item, problem + "; got " + std::to_string(value));
    }
    return value;
  }
  std::int64_t IntBetween(const Item& item, std::int64_t low, std::int64_t high) const {
    const std::int64_t value = Int(item);
    if (value < low || value > high) {
      Fail(item, "must be between " + std::to_string(low) + " and " + std::to_string(high) +
                     "; got " + std::to_string(value));
    }
    return value;
  }

  double Number(const Item& item) const {
    const std::string& text = Plain(item, "a number");
    double value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
        !std::isfinite(value)) {
      Fail(item, "expected a number; got " + Describe(item.node));
    }
    return value;
  }

  bool Bool(const Item& item) const {
    const std::string& text = Plain(item, "true or false");
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
    Fail(item, "expected true or false; got " + Describe(item.node));
  }

  std::chrono::milliseconds Duration(const Item& item) const {
    if (!item.node.IsScalar()) {
      Fail(item, "expected a duration like 500ms, 30s, 5m; got " + Describe(item.node));
    }
    try {
      return ParseDuration(item.node.Scalar());
    } catch (const std::invalid_argument& error) {
      Fail(item, error.what());
    }
  }
  std::chrono::milliseconds PositiveDuration(const Item& item) const {
    const std::chrono::milliseconds value = Duration(item);
    if (value.count() <= 0) Fail(item, "must be greater than 0s");
    return value;
  }

  std::string Enum(const Item& item, const Keys& choices) const {
    const std::string value = Scalar(item, "one of " + Join(choices));
    if (!Contains(choices, value)) {
      Fail(item, "expected one of " + Join(choices) + "; got " + Describe(item.node));
    }
    return value;
  }

  std::vector<std::string> StringList(const Item& item) const {
    if (item.node.IsNull() || !item.node.IsSequence()) {
      Fail(item, "expected a list of strings; got " + Describe(item.node));
    }
    std::vector<std::string> out;
    std::size_t index = 0;
    for (const YAML::Node& element : item.node) {
      const Item child{element, element.IsNull() ? item.mark : element.Mark(),
                       item.path + "[" + std::to_string(index++) + "]"};
      out.push_back(String(child));
    }
    return out;
  }

  std::map<std::string, std::string> StringMap(const Item& item) const;

  // A path to a secret file: it must exist and be readable now. Returns the
  // content so the caller can check it; never shown anywhere.
  std::string SecretFile(const Item& item, std::string& content) const {
    std::string path = NonEmptyString(item);
    if (int error = ReadWholeFile(path, content); error != 0) {
      Fail(item, "cannot read " + path + ": " + ErrnoText(error));
    }
    return path;
  }

 private:
  std::string file_;
};

}  // namespace pgq::worker
