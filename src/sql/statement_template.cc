#include "sql/statement_template.h"

#include <algorithm>

#include "pgq/error.h"
#include "sql/lexer.h"

namespace pgq::detail {
namespace {

// Adds the placeholders of `sql` (which starts at `base` in the template).
void FindHoles(std::string_view sql, std::size_t base, std::vector<std::string>& names,
               std::vector<std::pair<std::size_t, std::size_t>>& spans) {
  for (const Token& token : Lex(sql)) {
    if (token.kind == TokenKind::kPlaceholder) {
      names.emplace_back(PlaceholderName(token));
      spans.emplace_back(base + token.offset, token.text.size());
    } else if (token.kind == TokenKind::kDollarString) {
      const std::string_view body = DollarBody(token);
      if (!body.empty()) {
        FindHoles(body, base + static_cast<std::size_t>(body.data() - sql.data()), names, spans);
      }
    }
  }
}

}  // namespace

StatementTemplate::StatementTemplate(std::string text) : text_(std::move(text)) {
  std::vector<std::string> names;
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  FindHoles(text_, 0, names, spans);
  for (std::size_t i = 0; i < names.size(); ++i) {
    holes_.push_back({spans[i].first, spans[i].second, std::move(names[i])});
  }
}

std::string StatementTemplate::Render(
    const std::vector<std::pair<std::string_view, std::string>>& values) const {
  const auto find = [&](std::string_view name) {
    return std::find_if(values.begin(), values.end(),
                        [&](const auto& v) { return v.first == name; });
  };
  for (const auto& [name, value] : values) {
    const bool used = std::any_of(holes_.begin(), holes_.end(),
                                  [&, &name = name](const Hole& h) { return h.name == name; });
    if (!used)
      throw LogicError("statement template has no placeholder {" + std::string(name) + "}");
  }
  std::string out;
  out.reserve(text_.size() + 256);
  std::size_t copied = 0;
  for (const Hole& hole : holes_) {
    const auto value = find(hole.name);
    if (value == values.end()) {
      throw LogicError("statement template placeholder {" + hole.name + "} has no value");
    }
    out.append(text_, copied, hole.offset - copied);
    out += value->second;
    copied = hole.offset + hole.length;
  }
  out.append(text_, copied, std::string::npos);
  return out;
}

}  // namespace pgq::detail
