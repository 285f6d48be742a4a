#pragma once
// Statements with a few values written in as SQL text rather than bound:
// `{name}` placeholders, found by the lexer once when the template is built.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgq::detail {

class StatementTemplate {
 public:
  /// Placeholders in code count, and so do those in a dollar-quoted body
  /// (the code of a DO block or function); those in '...' literals, quoted
  /// identifiers and comments are text and stay as they are.
  explicit StatementTemplate(std::string text);

  /// The statement with every placeholder replaced by its value (SQL text,
  /// e.g. a quoted literal), in one pass: a value holding "{x}" stays as it
  /// is. Throws LogicError for a placeholder without a value or a value
  /// without a placeholder.
  std::string Render(const std::vector<std::pair<std::string_view, std::string>>& values) const;

  /// A template with the placeholders named in `values` filled in and every
  /// other one kept, for values known before the per-call ones (object
  /// names, once per DBSettings). Values without a placeholder are ignored.
  StatementTemplate Fill(const std::vector<std::pair<std::string_view, std::string>>& values) const;

  /// The names of the placeholders left, in text order (repeats included).
  std::vector<std::string> placeholders() const;

  /// The template as written, placeholders included.
  const std::string& text() const noexcept { return text_; }

 private:
  struct Hole {
    std::size_t offset = 0;  ///< of the `{`
    std::size_t length = 0;
    std::string name;
  };

  // Copies the text with the holes `value_of` gives a value for replaced.
  template <typename ValueOf>
  std::string Substitute(ValueOf value_of) const;

  std::string text_;
  std::vector<Hole> holes_;  // in text order
};

}  // namespace pgq::detail
