#pragma once
// One SQL lexer for every statement scanner: parameter inlining, statement
// templates and the `sql` handler's parameter planner all ask it where code
// ends and quoted text or comments begin, so they agree on every quoting
// form PostgreSQL has.

#include <cstddef>
#include <string_view>
#include <vector>

namespace pgq::detail {

enum class TokenKind {
  kString,        ///< '...' ('' inside), or E'...' with backslash escapes
  kQuotedIdent,   ///< "..." ("" inside)
  kDollarString,  ///< $$...$$ or $tag$...$tag$
  kComment,       ///< -- to the end of the line, or /* */ (nested)
  kParam,         ///< $1, $2, ...: a positional parameter
  kPlaceholder,   ///< {name}: a statement-template placeholder
  kWord,          ///< keyword, identifier or number (a `$` inside is part of it)
  kOther,         ///< one character of anything else (space, punctuation)
};

struct Token {
  TokenKind kind = TokenKind::kOther;
  std::string_view text;  ///< a view into the lexed statement
  std::size_t offset = 0;
};

/// Splits `sql` into tokens that cover it exactly, in order. Unterminated
/// quotes, dollar quotes and comments run to the end.
std::vector<Token> Lex(std::string_view sql);

/// The number of a kParam token ("$12" -> 12); 0 for a leading zero or a
/// number too large to be a parameter.
std::size_t ParamNumber(const Token& token);

/// The name of a kPlaceholder token ("{batch}" -> "batch").
std::string_view PlaceholderName(const Token& token);

/// The text between the tags of a kDollarString token (empty if unterminated).
std::string_view DollarBody(const Token& token);

}  // namespace pgq::detail
