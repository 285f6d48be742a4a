#pragma once
// Positional parameters ($1, $2, ...) found with the lexer: written into a
// statement as literals, or planned for binding.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgq::detail {

/// `sql` with $1..$n (outside quotes, comments and dollar quotes) replaced
/// by the params as literals (NULL for nullopt), in one pass: a value
/// holding "$2" stays as it is. Numbers beyond the params stay unchanged.
std::string InlineParams(std::string_view sql,
                         const std::vector<std::optional<std::string>>& params);

/// How to bind a statement whose author may use any of $1..$available.
/// PostgreSQL refuses a bind with more parameters than the statement uses
/// and cannot type an unused one, so only the referenced ones are bound,
/// renumbered in order (a statement using only $2 gets $1). A reference
/// beyond `available` (or $0) binds all of them unchanged, so the server
/// names the error. Without references, nothing is bound and the text may
/// go through the simple query protocol (and hold several statements).
struct ParamPlan {
  std::string sql;                 ///< the statement to send
  std::vector<std::size_t> bound;  ///< 1-based numbers of the values to bind, in order
};
ParamPlan PlanParams(std::string_view sql, std::size_t available);

}  // namespace pgq::detail
