#include "handlers/sql_statement.h"

#include <cctype>
#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

namespace pgq::worker {
namespace {

bool IsIdentChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) != 0 || c == '_' || c == '$' || u >= 0x80;
}

// Index just past the quoted section that starts at `i` (a literal or a
// quoted identifier): doubled quotes stay inside; with `backslash_escapes`
// (E'...') a backslash escapes the next character.
std::size_t SkipQuoted(std::string_view sql, std::size_t i, char quote, bool backslash_escapes) {
  const std::size_t n = sql.size();
  ++i;
  while (i < n) {
    if (backslash_escapes && sql[i] == '\\') {
      i += 2;
    } else if (sql[i] == quote) {
      if (i + 1 < n && sql[i + 1] == quote) {
        i += 2;
      } else {
        return i + 1;
      }
    } else {
      ++i;
    }
  }
  return n;
}

}  // namespace

SqlPlan PlanStatement(const std::string& sql) {
  // Positions of $1/$2 outside literals, quoted identifiers, comments and
  // dollar-quoted strings.
  std::vector<std::pair<std::size_t, std::size_t>> refs;  // (offset, length) of "$2"
  bool uses1 = false, uses2 = false, uses_other = false;
  const std::size_t n = sql.size();
  std::size_t i = 0;
  while (i < n) {
    const char c = sql[i];
    if (c == '\'') {
      // E'...' strings have backslash escapes.
      const bool escapes =
          i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') && (i < 2 || !IsIdentChar(sql[i - 2]));
      i = SkipQuoted(sql, i, '\'', escapes);
    } else if (c == '"') {
      i = SkipQuoted(sql, i, '"', false);
    } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
      while (i < n && sql[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
      int depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] == '/' && i + 1 < n && sql[i + 1] == '*') {
          ++depth;
          i += 2;
        } else if (sql[i] == '*' && i + 1 < n && sql[i + 1] == '/') {
          --depth;
          i += 2;
        } else {
          ++i;
        }
      }
    } else if (c == '$' && !(i > 0 && IsIdentChar(sql[i - 1]))) {
      std::size_t j = i + 1;
      if (j < n && std::isdigit(static_cast<unsigned char>(sql[j])) != 0) {
        while (j < n && std::isdigit(static_cast<unsigned char>(sql[j])) != 0) ++j;
        const std::string_view number(sql.data() + i + 1, j - i - 1);
        if (number == "1") {
          uses1 = true;
        } else if (number == "2") {
          uses2 = true;
          refs.emplace_back(i, j - i);
        } else {
          uses_other = true;
        }
        i = j;
        continue;
      }
      // Dollar quote: $$ or $tag$ ... $tag$.
      while (j < n && IsIdentChar(sql[j]) && sql[j] != '$' &&
             !(j == i + 1 && std::isdigit(static_cast<unsigned char>(sql[j])) != 0)) {
        ++j;
      }
      if (j < n && sql[j] == '$') {
        const std::string tag = sql.substr(i, j - i + 1);
        const auto end = sql.find(tag, j + 1);
        i = end == std::string::npos ? n : end + tag.size();
      } else {
        i = j;
      }
    } else if (IsIdentChar(c)) {
      while (i < n && IsIdentChar(sql[i])) ++i;  // a `$` inside a word is part of it
    } else {
      ++i;
    }
  }
  SqlPlan plan;
  plan.sql = sql;
  if (uses_other) {
    // $3 and beyond do not exist: bind both and let the server say so.
    plan.payload = plan.headers = true;
  } else if (uses2 && !uses1) {
    for (auto it = refs.rbegin(); it != refs.rend(); ++it) plan.sql.replace(it->first, 2, "$1");
    plan.headers = true;
  } else {
    plan.payload = uses1;
    plan.headers = uses2;
  }
  return plan;
}

}  // namespace pgq::worker
