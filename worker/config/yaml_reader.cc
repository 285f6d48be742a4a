#include "config/yaml_reader.h"

#include <algorithm>

#include "util/text.h"

namespace pgq::worker {
namespace {

// Optimal string alignment distance (Levenshtein plus adjacent swaps).
std::size_t EditDistance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

std::string UnknownKeyProblem(std::string_view key, const Keys& allowed) {
  const std::string lowered = AsciiLower(key);
  const std::size_t limit = key.size() <= 4 ? 1 : (key.size() <= 10 ? 2 : 3);
  std::string_view best;
  std::size_t best_distance = limit + 1;
  for (std::string_view candidate : allowed) {
    const std::size_t distance = EditDistance(lowered, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  std::string problem = "unknown key " + Quote(key);
  if (!best.empty()) return problem + " (did you mean " + std::string(best) + "?)";
  return problem + " (valid keys: " + Join(allowed) + ")";
}

}  // namespace

std::string Join(const Keys& keys, std::string_view separator) {
  std::string out;
  for (std::string_view key : keys) {
    if (!out.empty()) out += separator;
    out += key;
  }
  return out;
}

std::string JoinPath(const std::string& path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return path + "." + std::string(key);
}


std::string Quote(std::string_view text) {
  constexpr std::size_t kMaxShown = 60;
  std::string out = "\"";
  std::size_t shown = 0;
  for (char c : text) {
    if (shown++ == kMaxShown) {
      out += "...";
      break;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\x";
          out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xF];
          out += kHex[static_cast<unsigned char>(c) & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

bool Contains(const Keys& keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "null";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      break;
  }
  if (node.Tag() != "?") return "the string " + Quote(node.Scalar());
  return Quote(node.Scalar());
}

Mapping::Mapping(const Parser& parser, const Item& item, const Keys& allowed) : self_(item) {
  if (item.node.IsNull()) return;  // `key:` with nothing = empty mapping
  if (!item.node.IsMap()) parser.Fail(item, "expected a mapping; got " + Describe(item.node));
  for (auto it = item.node.begin(); it != item.node.end(); ++it) {
    const YAML::Node key_node = it->first;  // a copy: `it->` yields a temporary
    const YAML::Mark key_mark = key_node.Mark();
    if (!key_node.IsScalar()) {
      parser.Fail(key_mark, item.path, "keys must be strings; got " + Describe(key_node));
    }
    const std::string key = key_node.Scalar();
    const std::string path = JoinPath(item.path, key);
    for (const Entry& entry : entries_) {
      if (entry.key == key) parser.Fail(key_mark, path, "duplicate key " + Quote(key));
    }
    if (!allowed.empty() && !Contains(allowed, key)) {
      parser.Fail(key_mark, path, UnknownKeyProblem(key, allowed));
    }
    const YAML::Node value = it->second;
    // yaml-cpp places an empty value at the next token: point at the key.
    entries_.push_back(
        {key, key_mark, Item{value, value.IsNull() ? key_mark : value.Mark(), path}});
  }
}

std::map<std::string, std::string> Parser::StringMap(const Item& item) const {
  std::map<std::string, std::string> out;
  const Mapping mapping(*this, item, {});
  for (const auto& entry : mapping.entries()) {
    if (entry.key.empty()) Fail(entry.key_mark, item.path, "names must not be empty");
    out[entry.key] = String(entry.value);
  }
  return out;
}

}  // namespace pgq::worker
