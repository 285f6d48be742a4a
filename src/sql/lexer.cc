#include "sql/lexer.h"

#include <algorithm>

namespace pgq::detail {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Letters, digits, `_`, `$` and non-ASCII bytes continue an identifier.
bool IsIdentChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' ||
         u >= 0x80;
}

bool IsPlaceholderChar(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

class Scanner {
 public:
  explicit Scanner(std::string_view sql) : sql_(sql) {}

  std::vector<Token> Run() {
    std::vector<Token> tokens;
    while (pos_ < sql_.size()) {
      const std::size_t start = pos_;
      const TokenKind kind = Next();
      tokens.push_back({kind, sql_.substr(start, pos_ - start), start});
    }
    return tokens;
  }

 private:
  char At(std::size_t i) const { return i < sql_.size() ? sql_[i] : '\0'; }

  // Consumes one token starting at pos_ and says what it was.
  TokenKind Next() {
    const char c = sql_[pos_];
    if (c == '\'') return Quoted('\'', /*backslash_escapes=*/false, TokenKind::kString);
    if ((c == 'E' || c == 'e') && At(pos_ + 1) == '\'') {
      ++pos_;
      return Quoted('\'', /*backslash_escapes=*/true, TokenKind::kString);
    }
    if (c == '"') return Quoted('"', false, TokenKind::kQuotedIdent);
    if (c == '-' && At(pos_ + 1) == '-') {
      while (pos_ < sql_.size() && sql_[pos_] != '\n') ++pos_;
      return TokenKind::kComment;
    }
    if (c == '/' && At(pos_ + 1) == '*') return BlockComment();
    if (c == '$') return Dollar();
    if (c == '{') {
      std::size_t j = pos_ + 1;
      while (j < sql_.size() && IsPlaceholderChar(sql_[j])) ++j;
      if (j > pos_ + 1 && At(j) == '}') {
        pos_ = j + 1;
        return TokenKind::kPlaceholder;
      }
    }
    if (IsIdentChar(c)) {
      while (pos_ < sql_.size() && IsIdentChar(sql_[pos_])) ++pos_;
      return TokenKind::kWord;
    }
    ++pos_;
    return TokenKind::kOther;
  }

  // pos_ is at the opening quote. A doubled quote stays inside; with
  // backslash escapes a backslash takes the next character along.
  TokenKind Quoted(char quote, bool backslash_escapes, TokenKind kind) {
    ++pos_;
    while (pos_ < sql_.size()) {
      const char c = sql_[pos_];
      if (backslash_escapes && c == '\\') {
        pos_ += 2;
      } else if (c == quote && At(pos_ + 1) == quote) {
        pos_ += 2;
      } else if (c == quote) {
        ++pos_;
        return kind;
      } else {
        ++pos_;
      }
    }
    pos_ = sql_.size();
    return kind;
  }

  TokenKind BlockComment() {
    int depth = 1;
    pos_ += 2;
    while (pos_ < sql_.size() && depth > 0) {
      if (sql_[pos_] == '/' && At(pos_ + 1) == '*') {
        ++depth;
        pos_ += 2;
      } else if (sql_[pos_] == '*' && At(pos_ + 1) == '/') {
        --depth;
        pos_ += 2;
      } else {
        ++pos_;
      }
    }
    pos_ = std::min(pos_, sql_.size());
    return TokenKind::kComment;
  }

  // pos_ is at a `$` that does not continue a word: a parameter, a dollar
  // quote, or a lone `$` with what follows it.
  TokenKind Dollar() {
    std::size_t j = pos_ + 1;
    if (IsDigit(At(j))) {
      while (IsDigit(At(j))) ++j;
      pos_ = j;
      return TokenKind::kParam;
    }
    while (j < sql_.size() && IsIdentChar(sql_[j]) && sql_[j] != '$') ++j;
    if (At(j) != '$') {
      pos_ = j;
      return TokenKind::kOther;
    }
    const std::string_view tag = sql_.substr(pos_, j - pos_ + 1);
    const auto end = sql_.find(tag, j + 1);
    pos_ = end == std::string_view::npos ? sql_.size() : end + tag.size();
    return TokenKind::kDollarString;
  }

  std::string_view sql_;
  std::size_t pos_ = 0;
};

}  // namespace

std::vector<Token> Lex(std::string_view sql) { return Scanner(sql).Run(); }

std::size_t ParamNumber(const Token& token) {
  const std::string_view digits = token.text.substr(1);
  if (digits.empty() || digits.front() == '0' || digits.size() > 9) return 0;
  std::size_t n = 0;
  for (char c : digits) n = n * 10 + static_cast<std::size_t>(c - '0');
  return n;
}

std::string_view PlaceholderName(const Token& token) {
  return token.text.substr(1, token.text.size() - 2);
}

std::string_view DollarBody(const Token& token) {
  const std::string_view text = token.text;
  const std::size_t tag = text.find('$', 1) + 1;
  if (text.size() < 2 * tag || text.substr(text.size() - tag) != text.substr(0, tag)) return {};
  return text.substr(tag, text.size() - 2 * tag);
}

}  // namespace pgq::detail
