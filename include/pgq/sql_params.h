#pragma once
/// @file
/// Binding values to a statement someone else wrote (a configured SQL
/// handler, a user's report query): which of $1..$n it uses, and bytes in
/// the text form a bytea parameter takes.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pgq {

/// How to bind a statement whose author may use any of $1..$available.
/// PostgreSQL refuses a bind with more parameters than the statement uses
/// and cannot type an unused one, so only the referenced ones are bound,
/// renumbered in order (a statement using only $2 gets $1). References in
/// quotes, comments and dollar quotes do not count. A reference beyond
/// `available` (or $0) binds all of them unchanged, so the server names the
/// error. Without references nothing is bound, and the text may go through
/// the simple query protocol (and hold several statements).
struct ParamPlan {
  std::string sql;                 ///< the statement to send
  std::vector<std::size_t> bound;  ///< 1-based numbers of the values to bind, in order
};
ParamPlan PlanParams(std::string_view sql, std::size_t available);

/// Bytes as PostgreSQL's bytea hex input (`\x0aff`), for binding raw bytes
/// (any byte, NUL included) as a text-form bytea parameter.
std::string ByteaHex(std::string_view bytes);

}  // namespace pgq
