#include "sql/params.h"

#include "pgq/sql_params.h"
#include "sql/lexer.h"
#include "sql/literals.h"

namespace pgq::detail {

std::string InlineParams(std::string_view sql,
                         const std::vector<std::optional<std::string>>& params) {
  std::string out;
  out.reserve(sql.size() + 128);
  for (const Token& token : Lex(sql)) {
    const std::size_t n = token.kind == TokenKind::kParam ? ParamNumber(token) : 0;
    if (n == 0 || n > params.size()) {
      out += token.text;
    } else {
      out += params[n - 1] ? QuoteLiteral(*params[n - 1]) : "NULL";
    }
  }
  return out;
}

}  // namespace pgq::detail

namespace pgq {

ParamPlan PlanParams(std::string_view sql, std::size_t available) {
  const std::vector<detail::Token> tokens = detail::Lex(sql);
  std::vector<bool> used(available + 1, false);
  bool out_of_range = false;
  for (const detail::Token& token : tokens) {
    if (token.kind != detail::TokenKind::kParam) continue;
    const std::size_t n = detail::ParamNumber(token);
    if (n == 0 || n > available) {
      out_of_range = true;
    } else {
      used[n] = true;
    }
  }
  ParamPlan plan;
  if (out_of_range) {
    plan.sql = sql;
    for (std::size_t n = 1; n <= available; ++n) plan.bound.push_back(n);
    return plan;
  }
  std::vector<std::size_t> renumbered(available + 1, 0);
  for (std::size_t n = 1; n <= available; ++n) {
    if (used[n]) {
      plan.bound.push_back(n);
      renumbered[n] = plan.bound.size();
    }
  }
  plan.sql.reserve(sql.size());
  for (const detail::Token& token : tokens) {
    if (token.kind == detail::TokenKind::kParam && renumbered[detail::ParamNumber(token)] != detail::ParamNumber(token)) {
      plan.sql += "$" + std::to_string(renumbered[detail::ParamNumber(token)]);
    } else {
      plan.sql += token.text;
    }
  }
  return plan;
}

}  // namespace pgq
