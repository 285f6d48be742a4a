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

template <typename ValueOf>
std::string StatementTemplate::Substitute(ValueOf value_of) const {
  std::string out;
  out.reserve(text_.size() + 256);
  std::size_t copied = 0;
  for (const Hole& hole : holes_) {
    const std::string* value = value_of(hole);
    if (value == nullptr) continue;
    out.append(text_, copied, hole.offset - copied);
    out += *value;
    copied = hole.offset + hole.length;
  }
  out.append(text_, copied, std::string::npos);
  return out;
}

namespace {

using Values = std::vector<std::pair<std::string_view, std::string>>;

const std::string* Find(const Values& values, std::string_view name) {
  const auto it = std::find_if(values.begin(), values.end(),
                               [&](const auto& v) { return v.first == name; });
  return it == values.end() ? nullptr : &it->second;
}

}  // namespace

std::string StatementTemplate::Render(const Values& values) const {
  for (const auto& [name, value] : values) {
    const bool used = std::any_of(holes_.begin(), holes_.end(),
                                  [&, &name = name](const Hole& h) { return h.name == name; });
    if (!used)
      throw LogicError("statement template has no placeholder {" + std::string(name) + "}");
  }
  return Substitute([&](const Hole& hole) {
    const std::string* value = Find(values, hole.name);
    if (value == nullptr) {
      throw LogicError("statement template placeholder {" + hole.name + "} has no value");
    }
    return value;
  });
}

StatementTemplate StatementTemplate::Fill(const Values& values) const {
  return StatementTemplate(Substitute([&](const Hole& hole) { return Find(values, hole.name); }));
}

std::vector<std::string> StatementTemplate::placeholders() const {
  std::vector<std::string> names;
  names.reserve(holes_.size());
  for (const Hole& hole : holes_) names.push_back(hole.name);
  return names;
}

}  // namespace pgq::detail
