#include "sql/literals.h"
#include "sql/params.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "pgq/error.h"
#include "pgq/sql_params.h"

namespace pgq {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;

using detail::ArrayLiteral;
using detail::DecodeBytea;
using detail::FromEpochMicros;
using detail::IntervalLiteral;
using detail::ParseArray;
using detail::ParseInt64;
using detail::QuoteIdent;
using detail::QuoteLiteral;

using OptionalStrings = std::vector<std::optional<std::string>>;

// Every byte value 0..255 once, in order.
std::string AllBytes() {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  return bytes;
}

// Encodes bytes the way PostgreSQL prints bytea with bytea_output = 'escape':
// printable ASCII as itself, a backslash doubled, everything else as \ooo.
std::string EscapeFormat(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c <= 0x7e) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('\\');
      out.push_back(static_cast<char>('0' + ((c >> 6) & 7)));
      out.push_back(static_cast<char>('0' + ((c >> 3) & 7)));
      out.push_back(static_cast<char>('0' + (c & 7)));
    }
  }
  return out;
}

// ------------------------------------------------------------ ArrayLiteral

TEST(ArrayLiteralTest, EmptyVectorsGiveEmptyBraces) {
  EXPECT_EQ(ArrayLiteral(OptionalStrings{}), "{}");
  EXPECT_EQ(ArrayLiteral(std::vector<std::string>{}), "{}");
  EXPECT_EQ(ArrayLiteral(std::vector<std::int64_t>{}), "{}");
}

TEST(ArrayLiteralTest, QuotesAndEscapesEveryElement) {
  const OptionalStrings items = {
      "plain", "a\"b", "c\\d", "e,f", "{g}", "", std::nullopt, "NULL", "sp ace",
  };
  EXPECT_EQ(ArrayLiteral(items),
            R"({"plain","a\"b","c\\d","e,f","{g}","",NULL,"NULL","sp ace"})");
}

TEST(ArrayLiteralTest, StringOverloadQuotesLikeTheOptionalOne) {
  const std::vector<std::string> items = {"x\"y", "back\\slash", "", "NULL", "}{,"};
  EXPECT_EQ(ArrayLiteral(items), R"({"x\"y","back\\slash","","NULL","}{,"})");
  // Same text as the optional overload without NULLs.
  EXPECT_EQ(ArrayLiteral(items), ArrayLiteral(OptionalStrings(items.begin(), items.end())));
}

TEST(ArrayLiteralTest, OnlyNulls) {
  EXPECT_EQ(ArrayLiteral(OptionalStrings{std::nullopt, std::nullopt}), "{NULL,NULL}");
}

TEST(ArrayLiteralTest, Int64Elements) {
  const std::vector<std::int64_t> items = {1, -2, 0, std::numeric_limits<std::int64_t>::min(),
                                           std::numeric_limits<std::int64_t>::max()};
  EXPECT_EQ(ArrayLiteral(items), "{1,-2,0,-9223372036854775808,9223372036854775807}");
  EXPECT_EQ(ArrayLiteral(std::vector<std::int64_t>{42}), "{42}");
}

// -------------------------------------------------------------- ParseArray

TEST(ParseArrayTest, EmptyArray) { EXPECT_THAT(ParseArray("{}"), IsEmpty()); }

TEST(ParseArrayTest, ServerOutputWithQuotedUnquotedAndNull) {
  // As PostgreSQL prints a text[]: quotes only where needed.
  const auto parsed = ParseArray(R"({a,"b c",NULL,"NULL","x\"y","p\\q","",plain_2})");
  EXPECT_THAT(parsed, ElementsAre(Optional(std::string("a")), Optional(std::string("b c")),
                                  std::nullopt, Optional(std::string("NULL")),
                                  Optional(std::string("x\"y")), Optional(std::string("p\\q")),
                                  Optional(std::string("")), Optional(std::string("plain_2"))));
}

TEST(ParseArrayTest, SingleElements) {
  EXPECT_THAT(ParseArray("{a}"), ElementsAre(Optional(std::string("a"))));
  EXPECT_THAT(ParseArray("{NULL}"), ElementsAre(std::nullopt));
  EXPECT_THAT(ParseArray(R"({""})"), ElementsAre(Optional(std::string(""))));
  EXPECT_THAT(ParseArray(R"({"\\"})"), ElementsAre(Optional(std::string("\\"))));
}

TEST(ParseArrayTest, RejectsTextThatIsNotAnArray) {
  EXPECT_THROW(ParseArray(""), LogicError);
  EXPECT_THROW(ParseArray("{"), LogicError);
  EXPECT_THROW(ParseArray("a,b"), LogicError);
  EXPECT_THROW(ParseArray("[1,2]"), LogicError);
  EXPECT_THROW(ParseArray("{a,b"), LogicError);
}

TEST(ParseArrayTest, RoundTripsTrickyStrings) {
  const OptionalStrings items = {
      "",
      "\"",
      "\\",
      "\\\"",
      "a\"b\"c",
      "ends with backslash\\",
      "\"starts with quote",
      ",",
      ",,",
      "{",
      "}",
      "{}",
      "{a,b}",
      "NULL",
      "null",
      std::nullopt,
      " leading and trailing ",
      "tab\tnew\nline",
      "it's",
      "utf-8 \xc3\xa9\xe2\x82\xac",
      std::nullopt,
      "last",
  };
  EXPECT_EQ(ParseArray(ArrayLiteral(items)), items);
}

TEST(ParseArrayTest, RoundTripsEveryPrintableAsciiCharacterAlone) {
  OptionalStrings items;
  for (char c = 0x20; c < 0x7f; ++c) items.emplace_back(std::string(1, c));
  EXPECT_EQ(ParseArray(ArrayLiteral(items)), items);
  // And all of them in one element.
  std::string all;
  for (char c = 0x20; c < 0x7f; ++c) all.push_back(c);
  EXPECT_EQ(ParseArray(ArrayLiteral(OptionalStrings{all})), OptionalStrings{all});
}

TEST(ParseArrayTest, RoundTripsStringOverload) {
  const std::vector<std::string> items = {"a", "b,c", "\"d\"", "e\\f", ""};
  const auto parsed = ParseArray(ArrayLiteral(items));
  EXPECT_EQ(parsed, OptionalStrings(items.begin(), items.end()));
}

TEST(ParseArrayTest, ParsesInt64ArrayLiteral) {
  const std::vector<std::int64_t> ids = {7, -1, 9223372036854775807};
  const auto parsed = ParseArray(ArrayLiteral(ids));
  ASSERT_EQ(parsed.size(), ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(parsed[i].has_value());
    EXPECT_EQ(ParseInt64(*parsed[i]), ids[i]);
  }
}

// ------------------------------------------------------------------- bytea

TEST(ByteaTest, HexEncoding) {
  EXPECT_EQ(ByteaHex(""), "\\x");
  EXPECT_EQ(ByteaHex(std::string("\x0a\xff", 2)), "\\x0aff");
  EXPECT_EQ(ByteaHex(std::string("\0A", 2)), "\\x0041");
  EXPECT_EQ(ByteaHex("hi"), "\\x6869");
}

TEST(ByteaTest, HexOfAllByteValues) {
  const std::string hex = ByteaHex(AllBytes());
  ASSERT_EQ(hex.size(), 2u + 512u);
  EXPECT_EQ(hex.substr(0, 6), "\\x0001");
  EXPECT_EQ(hex.substr(hex.size() - 4), "feff");
  // Lower-case digits only.
  for (std::size_t i = 2; i < hex.size(); ++i) {
    const char c = hex[i];
    EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << "at " << i;
  }
}

TEST(ByteaTest, HexRoundTripsAllByteValues) {
  const std::string bytes = AllBytes();
  EXPECT_EQ(DecodeBytea(ByteaHex(bytes)), bytes);
  // Each value on its own as well.
  for (int i = 0; i < 256; ++i) {
    const std::string one(1, static_cast<char>(i));
    EXPECT_EQ(DecodeBytea(ByteaHex(one)), one) << "byte " << i;
  }
}

TEST(ByteaTest, DecodesEmptyAndUpperCaseHex) {
  EXPECT_EQ(DecodeBytea("\\x"), "");
  EXPECT_EQ(DecodeBytea("\\x0AFF"), std::string("\x0a\xff", 2));
  EXPECT_EQ(DecodeBytea("\\xDeAdBeEf"), std::string("\xde\xad\xbe\xef", 4));
}

TEST(ByteaTest, RejectsBadHexDigits) {
  EXPECT_THROW(DecodeBytea("\\xzz"), LogicError);
  EXPECT_THROW(DecodeBytea("\\x0g"), LogicError);
}

TEST(ByteaTest, DecodesEscapeFormat) {
  // a, backslash (doubled), b, \001.
  EXPECT_EQ(DecodeBytea("a\\\\b\\001"), std::string("a\\b\x01", 4));
  EXPECT_EQ(DecodeBytea("plain text"), "plain text");
  EXPECT_EQ(DecodeBytea(""), "");
  EXPECT_EQ(DecodeBytea("\\000"), std::string(1, '\0'));
  EXPECT_EQ(DecodeBytea("\\377\\\\"), std::string("\xff\\", 2));
  EXPECT_EQ(DecodeBytea("x\\012y"), "x\ny");
}

TEST(ByteaTest, EscapeFormatRoundTripsAllByteValues) {
  const std::string bytes = AllBytes();
  const std::string escaped = EscapeFormat(bytes);
  // Sanity of the helper: the NUL byte is written as \000.
  ASSERT_EQ(escaped.substr(0, 4), "\\000");
  EXPECT_EQ(DecodeBytea(escaped), bytes);
}

// ---------------------------------------------------------------- interval

TEST(IntervalLiteralTest, ZeroNegativeAndPositive) {
  using std::chrono::microseconds;
  EXPECT_EQ(IntervalLiteral(microseconds(0)), "0.000000 seconds");
  EXPECT_EQ(IntervalLiteral(microseconds(-1)), "-0.000001 seconds");
  EXPECT_EQ(IntervalLiteral(microseconds(-1500000)), "-1.500000 seconds");
  EXPECT_EQ(IntervalLiteral(std::chrono::seconds(30)), "30.000000 seconds");
  EXPECT_EQ(IntervalLiteral(std::chrono::milliseconds(-250)), "-0.250000 seconds");
}

// PostgreSQL 13 and 14 parse each number of an interval literal into a
// 32-bit int ("interval field value out of range" beyond it); PG 15 widened
// this. "N microseconds" would fail there for delays of ~35.8 minutes or more.
TEST(IntervalLiteralTest, NumbersFitPg14Int32Fields) {
  using std::chrono::hours;
  for (const std::chrono::microseconds value :
       {std::chrono::microseconds(hours(1)), std::chrono::microseconds(hours(-1)),
        std::chrono::microseconds(hours(24 * 30))}) {
    const std::string literal = IntervalLiteral(value);
    const std::regex number(R"(-?\d+)");
    for (std::sregex_iterator it(literal.begin(), literal.end(), number), end; it != end;
         ++it) {
      const long long field = std::stoll(it->str());
      EXPECT_LE(field, std::numeric_limits<std::int32_t>::max()) << literal;
      EXPECT_GE(field, std::numeric_limits<std::int32_t>::min()) << literal;
    }
  }
}

// --------------------------------------------------------------- integers

TEST(ParseInt64Test, AcceptsPlainDecimal) {
  EXPECT_EQ(ParseInt64("0"), 0);
  EXPECT_EQ(ParseInt64("42"), 42);
  EXPECT_EQ(ParseInt64("-42"), -42);
  EXPECT_EQ(ParseInt64("9223372036854775807"), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(ParseInt64("-9223372036854775808"), std::numeric_limits<std::int64_t>::min());
}

TEST(ParseInt64Test, RejectsJunk) {
  for (const char* junk : {"", " ", "abc", "12abc", "1.5", " 1", "1 ", "0x10", "-", "1e3",
                           "9223372036854775808", "-9223372036854775809", "t"}) {
    EXPECT_THROW(ParseInt64(junk), LogicError) << "input \"" << junk << "\"";
  }
}

TEST(ParseInt64Test, ErrorNamesTheInput) {
  try {
    ParseInt64("12abc");
    ADD_FAILURE() << "expected pgq::LogicError";
  } catch (const LogicError& error) {
    EXPECT_THAT(error.what(), ::testing::HasSubstr("12abc"));
  }
}

TEST(FromEpochMicrosTest, ConvertsMicrosecondsSinceEpoch) {
  using std::chrono::microseconds;
  using std::chrono::system_clock;
  EXPECT_EQ(FromEpochMicros("0"), system_clock::time_point{});
  EXPECT_EQ(FromEpochMicros("1700000000123456").time_since_epoch(),
            microseconds(1700000000123456));
  EXPECT_EQ(FromEpochMicros("-1").time_since_epoch(), microseconds(-1));
  // 2025-01-01T00:00:00Z.
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(
                FromEpochMicros("1735689600000000").time_since_epoch())
                .count(),
            1735689600);
}

TEST(FromEpochMicrosTest, RejectsJunk) {
  EXPECT_THROW(FromEpochMicros(""), LogicError);
  EXPECT_THROW(FromEpochMicros("2025-01-01"), LogicError);
  EXPECT_THROW(FromEpochMicros("1.5"), LogicError);
}

// ---------------------------------------------------------------- quoting

TEST(QuoteTest, IdentDoublesDoubleQuotes) {
  EXPECT_EQ(QuoteIdent("pgqueuer"), "\"pgqueuer\"");
  EXPECT_EQ(QuoteIdent("a\"b"), "\"a\"\"b\"");
  EXPECT_EQ(QuoteIdent("\""), "\"\"\"\"");
  EXPECT_EQ(QuoteIdent(""), "\"\"");
  // Single quotes are left alone in identifiers.
  EXPECT_EQ(QuoteIdent("it's"), "\"it's\"");
}

TEST(QuoteTest, LiteralDoublesSingleQuotes) {
  EXPECT_EQ(QuoteLiteral("ch_pgqueuer"), "'ch_pgqueuer'");
  EXPECT_EQ(QuoteLiteral("it's"), "'it''s'");
  EXPECT_EQ(QuoteLiteral("''"), "''''''");
  EXPECT_EQ(QuoteLiteral(""), "''");
  EXPECT_EQ(QuoteLiteral("a\"b"), "'a\"b'");
  // A backslash makes it an E'' literal with backslashes doubled, which reads
  // the same with standard_conforming_strings on or off.
  EXPECT_EQ(QuoteLiteral("a\\'c"), "E'a\\\\''c'");
}

TEST(QuoteTest, InlineParamsReplacesPlaceholdersOutsideQuotesOnce) {
  using detail::InlineParams;
  EXPECT_EQ(InlineParams("SELECT $1::text[], $2, $3", {"{a,b}", "it's", std::nullopt}),
            "SELECT '{a,b}'::text[], 'it''s', NULL");
  // A value that looks like a placeholder is not substituted again.
  EXPECT_EQ(InlineParams("SELECT $1, $2", {"$2", "x"}), "SELECT '$2', 'x'");
  // Quoted text, $10 and placeholders without a value stay as they are.
  EXPECT_EQ(InlineParams("SELECT '$1', \"a$1\", $10, $3", {"v", "w"}),
            "SELECT '$1', \"a$1\", $10, $3");
  EXPECT_EQ(InlineParams("SELECT 'it''s $1', $1", {"v"}), "SELECT 'it''s $1', 'v'");
}

}  // namespace
}  // namespace pgq
