// The SQL lexer and the statement templates built on it.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "pgq/error.h"
#include "sql/lexer.h"
#include "sql/statement_template.h"

namespace pgq {
namespace {

using detail::Lex;
using detail::StatementTemplate;
using detail::TokenKind;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// (kind, text) of every token that is not a single space.
std::vector<std::pair<TokenKind, std::string>> Kinds(std::string_view sql) {
  std::vector<std::pair<TokenKind, std::string>> out;
  for (const auto& token : Lex(sql)) {
    if (token.kind == TokenKind::kOther && token.text == " ") continue;
    out.emplace_back(token.kind, std::string(token.text));
  }
  return out;
}

using P = std::pair<TokenKind, std::string>;

TEST(SqlLexerTest, TokensCoverTheTextExactly) {
  const std::string sql = "SELECT 'a''b', E'\\'', \"x\"\"y\", $q$ $1 $q$ -- c\n/* d */ $2";
  std::string joined;
  std::size_t offset = 0;
  for (const auto& token : Lex(sql)) {
    EXPECT_EQ(token.offset, offset);
    offset += token.text.size();
    joined += token.text;
  }
  EXPECT_EQ(joined, sql);
  EXPECT_THAT(Lex(""), IsEmpty());
}

TEST(SqlLexerTest, SingleQuotesKeepDoubledQuotesInside) {
  EXPECT_THAT(Kinds("'it''s' x"),
              ElementsAre(P{TokenKind::kString, "'it''s'"}, P{TokenKind::kWord, "x"}));
  // A backslash is an ordinary character in a standard string.
  EXPECT_THAT(Kinds("'a\\' b"),
              ElementsAre(P{TokenKind::kString, "'a\\'"}, P{TokenKind::kWord, "b"}));
}

TEST(SqlLexerTest, EscapeStringsHaveBackslashEscapes) {
  EXPECT_THAT(Kinds("E'a\\'b' $1"),
              ElementsAre(P{TokenKind::kString, "E'a\\'b'"}, P{TokenKind::kParam, "$1"}));
  EXPECT_THAT(Kinds("e'\\\\' $1"),
              ElementsAre(P{TokenKind::kString, "e'\\\\'"}, P{TokenKind::kParam, "$1"}));
  // A word that ends in E is not an escape-string prefix.
  EXPECT_THAT(Kinds("fooE'\\' $1"),
              ElementsAre(P{TokenKind::kWord, "fooE"}, P{TokenKind::kString, "'\\'"},
                          P{TokenKind::kParam, "$1"}));
}

TEST(SqlLexerTest, DollarQuotesWithAndWithoutTags) {
  EXPECT_THAT(Kinds("$$ it's $1 $$ $2"), ElementsAre(P{TokenKind::kDollarString, "$$ it's $1 $$"},
                                                     P{TokenKind::kParam, "$2"}));
  EXPECT_THAT(Kinds("$fn$ $$ $x$ $fn$"),
              ElementsAre(P{TokenKind::kDollarString, "$fn$ $$ $x$ $fn$"}));
  EXPECT_THAT(Kinds("$tag$ never closed $1"),
              ElementsAre(P{TokenKind::kDollarString, "$tag$ never closed $1"}));
  const auto tokens = Lex("$fn$body$fn$");
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(detail::DollarBody(tokens[0]), "body");
}

TEST(SqlLexerTest, LineAndNestedBlockComments) {
  EXPECT_THAT(Kinds("a -- $1 'x\nb"),
              ElementsAre(P{TokenKind::kWord, "a"}, P{TokenKind::kComment, "-- $1 'x"},
                          P{TokenKind::kOther, "\n"}, P{TokenKind::kWord, "b"}));
  EXPECT_THAT(
      Kinds("/* a /* $1 */ still */ $2"),
      ElementsAre(P{TokenKind::kComment, "/* a /* $1 */ still */"}, P{TokenKind::kParam, "$2"}));
  EXPECT_THAT(Kinds("/* open"), ElementsAre(P{TokenKind::kComment, "/* open"}));
}

TEST(SqlLexerTest, QuotedIdentifiers) {
  EXPECT_THAT(Kinds("\"a\"\"$1\" $1"),
              ElementsAre(P{TokenKind::kQuotedIdent, "\"a\"\"$1\""}, P{TokenKind::kParam, "$1"}));
}

TEST(SqlLexerTest, ParametersWordsAndPlaceholders) {
  EXPECT_THAT(
      Kinds("$12 foo$1 {batch}::bigint {} {a-b}"),
      ElementsAre(P{TokenKind::kParam, "$12"}, P{TokenKind::kWord, "foo$1"},
                  P{TokenKind::kPlaceholder, "{batch}"}, P{TokenKind::kOther, ":"},
                  P{TokenKind::kOther, ":"}, P{TokenKind::kWord, "bigint"},
                  P{TokenKind::kOther, "{"}, P{TokenKind::kOther, "}"}, P{TokenKind::kOther, "{"},
                  P{TokenKind::kWord, "a"}, P{TokenKind::kOther, "-"}, P{TokenKind::kWord, "b"},
                  P{TokenKind::kOther, "}"}));
  const auto tokens = Lex("$7 $07 $0");
  EXPECT_EQ(detail::ParamNumber(tokens[0]), 7u);
  EXPECT_EQ(detail::ParamNumber(tokens[2]), 0u);  // leading zero
  EXPECT_EQ(detail::ParamNumber(tokens[4]), 0u);
}

// ------------------------------------------------------- statement templates

TEST(StatementTemplateTest, ReplacesPlaceholdersInOnePass) {
  const StatementTemplate t("SELECT {a}::int, {b}, {a}");
  EXPECT_EQ(t.Render({{"a", "1"}, {"b", "'{a}'"}}), "SELECT 1::int, '{a}', 1");
  EXPECT_EQ(t.text(), "SELECT {a}::int, {b}, {a}");
}

TEST(StatementTemplateTest, QuotedAndCommentedPlaceholdersStay) {
  const StatementTemplate t("SELECT '{a}', \"{a}\", {a} -- {a}\n/* {a} */");
  EXPECT_EQ(t.Render({{"a", "1"}}), "SELECT '{a}', \"{a}\", 1 -- {a}\n/* {a} */");
}

TEST(StatementTemplateTest, DollarQuotedBodiesAreCode) {
  const StatementTemplate t("DO $x$ BEGIN PERFORM greatest({n}, 2), '{n}'; END $x$");
  EXPECT_EQ(t.Render({{"n", "5"}}), "DO $x$ BEGIN PERFORM greatest(5, 2), '{n}'; END $x$");
}

TEST(StatementTemplateTest, MissingOrUnusedNamesAreLogicErrors) {
  const StatementTemplate t("SELECT {a}, {b}");
  try {
    t.Render({{"a", "1"}});
    ADD_FAILURE() << "no exception";
  } catch (const LogicError& e) {
    EXPECT_THAT(e.what(), HasSubstr("{b}"));
  }
  try {
    t.Render({{"a", "1"}, {"b", "2"}, {"c", "3"}});
    ADD_FAILURE() << "no exception";
  } catch (const LogicError& e) {
    EXPECT_THAT(e.what(), HasSubstr("{c}"));
  }
  EXPECT_EQ(StatementTemplate("SELECT 1").Render({}), "SELECT 1");
}

TEST(StatementTemplateTest, FillKeepsThePlaceholdersItHasNoValueFor) {
  const StatementTemplate t("SELECT {a}, {b}, '{a}', {a}");
  const StatementTemplate filled = t.Fill({{"a", "x.\"{b}\""}, {"unused", "1"}});
  EXPECT_EQ(filled.text(), "SELECT x.\"{b}\", {b}, '{a}', x.\"{b}\"");
  // A value's text is never a placeholder: only the template's own {b} is.
  EXPECT_THAT(filled.placeholders(), ElementsAre("b"));
  EXPECT_EQ(filled.Render({{"b", "2"}}), "SELECT x.\"{b}\", 2, '{a}', x.\"{b}\"");
  EXPECT_THAT(t.placeholders(), ElementsAre("a", "b", "a"));
}

}  // namespace
}  // namespace pgq
