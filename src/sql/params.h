#pragma once
// Positional parameters ($1, $2, ...) found with the lexer: written into a
// statement as literals (here), or planned for binding (PlanParams,
// public in pgq/sql_params.h).

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

// PlanParams (binding only the $n a statement uses) is public:
// pgq/sql_params.h.

}  // namespace pgq::detail
