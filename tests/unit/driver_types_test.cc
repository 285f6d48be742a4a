#include "pgq/driver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgq/error.h"
#include "pgq/queries.h"
#include "pgq/settings.h"

namespace pgq {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// ------------------------------------------- compile-time type restriction
//
// The enqueue-only SyncDriver is an Executor but not a Driver, so consumer
// Queries cannot be built on it while ProducerQueries can.
static_assert(!std::is_constructible_v<pgq::Queries, pgq::SyncDriver&, pgq::DBSettings>,
              "a SyncDriver must not be able to run consumer queries");
static_assert(std::is_constructible_v<pgq::ProducerQueries, pgq::SyncDriver&, pgq::DBSettings>,
              "a SyncDriver must be able to enqueue");
static_assert(!std::is_base_of_v<pgq::Driver, pgq::SyncDriver>,
              "SyncDriver must not be a full Driver");
static_assert(std::is_base_of_v<pgq::Executor, pgq::SyncDriver>);
static_assert(std::is_constructible_v<pgq::Queries, pgq::ConnectionDriver&, pgq::DBSettings>);
static_assert(std::is_base_of_v<pgq::Driver, pgq::ConnectionDriver>);

TEST(DriverTypesTest, SyncDriverIsEnqueueOnly) {
  // Mirrors the static_asserts above so the intent shows up in test output.
  EXPECT_FALSE((std::is_constructible_v<Queries, SyncDriver&, DBSettings>));
  EXPECT_TRUE((std::is_constructible_v<ProducerQueries, SyncDriver&, DBSettings>));
  EXPECT_FALSE((std::is_base_of_v<Driver, SyncDriver>));
  EXPECT_TRUE((std::is_base_of_v<Executor, SyncDriver>));
}

// ---------------------------------------------------------- RedactConninfo

// A connection string with a password comes back in libpq's key='value'
// form with password='****'; the secret and its fragments never survive.
void ExpectRedacted(const std::string& dsn, const std::vector<std::string>& secret_parts,
                    const std::vector<std::string>& kept) {
  const std::string redacted = RedactConninfo(dsn);
  EXPECT_THAT(redacted, HasSubstr("password='****'")) << dsn;
  for (const auto& part : secret_parts) EXPECT_THAT(redacted, Not(HasSubstr(part))) << dsn;
  for (const auto& part : kept) EXPECT_THAT(redacted, HasSubstr(part)) << dsn;
}

TEST(RedactConninfoTest, UriPassword) {
  ExpectRedacted("postgresql://u:secret@h/db", {"secret"}, {"user='u'", "host='h'", "dbname='db'"});
  ExpectRedacted("postgres://app:s3cr3t@db.example.com:5432/queue?sslmode=require", {"s3cr3t"},
                 {"host='db.example.com'", "port='5432'", "sslmode='require'"});
  ExpectRedacted("postgresql://u:se:cr:et@h/db", {"se:", "cr", ":et"}, {"user='u'"});
  ExpectRedacted("postgresql://:secret@h/db", {"secret"}, {"host='h'"});
}

TEST(RedactConninfoTest, UriQueryPassword) {
  ExpectRedacted("postgresql://u@h/db?password=secret", {"secret"}, {"user='u'"});
  ExpectRedacted("postgresql://u@h/db?sslmode=require&password=secret&application_name=x",
                 {"secret"}, {"application_name='x'", "sslmode='require'"});
  ExpectRedacted("postgresql://u:one@h/db?password=two", {"one", "two"}, {});
  // libpq percent-decodes query keys: this sets the password too.
  ExpectRedacted("postgresql://u@h/db?%70assword=secret", {"secret"}, {});
}

TEST(RedactConninfoTest, KeyValuePassword) {
  ExpectRedacted("host=h user=u password=secret dbname=d", {"secret"},
                 {"host='h'", "user='u'", "dbname='d'"});
  ExpectRedacted("password=secret host=h", {"secret"}, {"host='h'"});
  ExpectRedacted("host=h password='se cret' dbname=d", {"cret", "se "}, {"dbname='d'"});
  ExpectRedacted(R"(host=h password='se\'cret' user=u)", {"cret", "se\\"}, {"user='u'"});
  // An escaped blank in an unquoted value belongs to the password.
  ExpectRedacted(R"(host=h password=se\ cret user=u)", {"cret"}, {"user='u'"});
  ExpectRedacted("host=h password = secret user=u", {"secret"}, {"user='u'"});
}

TEST(RedactConninfoTest, NoPasswordUnchanged) {
  for (const char* dsn : {"", "host=h user=u dbname=d", "host=h passfile=/tmp/pgpass user=u",
                          "user=password host=h", "postgresql://u@h:5432/db?sslmode=require",
                          "postgresql://h/db", "postgresql:///db?host=/var/run/postgresql"}) {
    EXPECT_EQ(RedactConninfo(dsn), dsn);
  }
}

TEST(RedactConninfoTest, UnparseableInputStillHidesPassword) {
  const std::string redacted = RedactConninfo("host=h password=secret 'unterminated");
  EXPECT_THAT(redacted, Not(HasSubstr("secret")));
}

// ------------------------------------------------------ EnforceRequirements

ConnectionStateError EnforceError(const ConnectionState& state,
                                  const ConnectionRequirements& requirements = {}) {
  try {
    EnforceRequirements(state, requirements, "pool");
  } catch (const ConnectionStateError& error) {
    return error;
  }
  ADD_FAILURE() << "expected pgq::ConnectionStateError";
  return ConnectionStateError(ConnectionStateError::Kind::kInTransaction, "<none>");
}

TEST(EnforceRequirementsTest, AcceptsAutocommitReadCommitted) {
  EXPECT_NO_THROW(EnforceRequirements({false, "read committed"}, {}, "pool"));
  ConnectionRequirements serializable;
  serializable.isolation = "serializable";
  EXPECT_NO_THROW(EnforceRequirements({false, "serializable"}, serializable, "pool"));
}

TEST(EnforceRequirementsTest, RejectsOpenTransactionBlock) {
  const ConnectionStateError error = EnforceError({true, "read committed"});
  EXPECT_EQ(error.kind(), ConnectionStateError::Kind::kInTransaction);
  EXPECT_THAT(error.what(), HasSubstr("transaction block"));
  EXPECT_THAT(error.what(), HasSubstr("autocommit"));
  EXPECT_THAT(error.what(), HasSubstr("pool"));
  EXPECT_TRUE(error.PoisonsConnection());
  EXPECT_FALSE(error.IsRetryable());
}

TEST(EnforceRequirementsTest, RejectsOtherIsolationLevels) {
  for (const char* level : {"serializable", "repeatable read", "read uncommitted"}) {
    const ConnectionStateError error = EnforceError({false, level});
    EXPECT_EQ(error.kind(), ConnectionStateError::Kind::kIsolation) << level;
    EXPECT_THAT(error.what(), HasSubstr(std::string("\"") + level + "\""));
    EXPECT_THAT(error.what(), HasSubstr("\"read committed\""));
    EXPECT_THAT(error.what(), HasSubstr("pool"));
    EXPECT_THAT(error.what(), Not(HasSubstr("transaction block")));
    EXPECT_TRUE(error.PoisonsConnection());
  }
}

TEST(EnforceRequirementsTest, MessagesDifferByRule) {
  const std::string in_tx = EnforceError({true, "read committed"}).what();
  const std::string isolation = EnforceError({false, "serializable"}).what();
  EXPECT_NE(in_tx, isolation);
  EXPECT_THAT(in_tx, Not(HasSubstr("serializable")));
}

TEST(EnforceRequirementsTest, HonoursCustomRequirement) {
  ConnectionRequirements serializable;
  serializable.isolation = "serializable";
  const ConnectionStateError error = EnforceError({false, "read committed"}, serializable);
  EXPECT_EQ(error.kind(), ConnectionStateError::Kind::kIsolation);
  EXPECT_THAT(error.what(),
              HasSubstr("\"read committed\" but the queue requires \"serializable\""));
}

// -------------------------------------------------------------------- Rows

Rows SampleRows() {
  return Rows({"id", "name", "note"},
              {{Param("1"), Param("a"), std::nullopt}, {Param("-5"), Param("b"), Param("x")}});
}

TEST(RowsTest, Shape) {
  const Rows rows = SampleRows();
  EXPECT_EQ(rows.size(), 2u);
  EXPECT_FALSE(rows.empty());
  EXPECT_THAT(rows.columns(), ElementsAre("id", "name", "note"));
  const Rows none;
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.size(), 0u);
  EXPECT_TRUE(Rows({"id"}, {}).empty());
}

TEST(RowsTest, IndexAndAt) {
  const Rows rows = SampleRows();
  EXPECT_EQ(rows.Index("id"), 0u);
  EXPECT_EQ(rows.Index("name"), 1u);
  EXPECT_EQ(rows.Index("note"), 2u);
  EXPECT_EQ(rows.At(0, 1), Param("a"));
  EXPECT_EQ(rows.At(1, rows.Index("note")), Param("x"));
  EXPECT_EQ(rows.At(0, "note"), std::nullopt);
  EXPECT_EQ(rows.At(1, "id"), Param("-5"));
}

TEST(RowsTest, TextAndInt) {
  const Rows rows = SampleRows();
  EXPECT_EQ(rows.Text(0, "name"), "a");
  EXPECT_EQ(rows.Text(1, "note"), "x");
  EXPECT_EQ(rows.Int(0, "id"), 1);
  EXPECT_EQ(rows.Int(1, "id"), -5);
}

TEST(RowsTest, MissingColumnThrowsLogicErrorNamingIt) {
  const Rows rows = SampleRows();
  for (auto call : {+[](const Rows& r) { (void)r.Index("missing"); },
                    +[](const Rows& r) { (void)r.At(0, "missing"); },
                    +[](const Rows& r) { (void)r.Text(0, "missing"); },
                    +[](const Rows& r) { (void)r.Int(0, "missing"); }}) {
    try {
      call(rows);
      ADD_FAILURE() << "expected pgq::LogicError";
    } catch (const LogicError& error) {
      EXPECT_THAT(error.what(), HasSubstr("missing"));
    }
  }
  // Names match exactly (no case folding, no prefix match).
  EXPECT_THROW((void)rows.Index("ID"), LogicError);
  EXPECT_THROW((void)rows.Index("i"), LogicError);
}

TEST(RowsTest, NullCellThrowsFromTextAndInt) {
  const Rows rows = SampleRows();
  try {
    (void)rows.Text(0, "note");
    ADD_FAILURE() << "expected pgq::LogicError";
  } catch (const LogicError& error) {
    EXPECT_THAT(error.what(), HasSubstr("note"));
    EXPECT_THAT(error.what(), HasSubstr("NULL"));
  }
  EXPECT_THROW((void)rows.Int(0, "note"), LogicError);
}

TEST(RowsTest, NonIntegerAndOutOfRange) {
  const Rows rows = SampleRows();
  EXPECT_THROW((void)rows.Int(0, "name"), LogicError);
  EXPECT_THROW((void)rows.At(2, 0), std::out_of_range);
  EXPECT_THROW((void)rows.At(0, 3), std::out_of_range);
}

// --------------------------------------------------- CancellationEventJson

// Seconds since the epoch of "YYYY-MM-DDTHH:MM:SS.ffffffZ", or nullopt.
std::optional<std::int64_t> EpochSeconds(const std::string& iso) {
  std::tm tm{};
  int micros = 0;
  if (std::sscanf(iso.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%6dZ", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &micros) != 7) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm));
}

TEST(CancellationEventJsonTest, KeysInPgQueuerOrder) {
  const std::string text = CancellationEventJson("ch_pgqueuer", {1, 2, 3});
  const auto event = nlohmann::ordered_json::parse(text);
  std::vector<std::string> keys;
  for (const auto& item : event.items()) keys.push_back(item.key());
  EXPECT_THAT(keys, ElementsAre("channel", "sent_at", "type", "received_at", "ids"));
  // Compact: no blanks anywhere, starting with the channel.
  EXPECT_EQ(text.find(' '), std::string::npos) << text;
  EXPECT_EQ(text.rfind(R"({"channel":"ch_pgqueuer","sent_at":")", 0), 0u) << text;
}

TEST(CancellationEventJsonTest, Values) {
  const std::vector<JobId> ids = {7, 42, 9007199254740993};  // last one > 2^53
  const auto event = nlohmann::json::parse(CancellationEventJson("acme_ch_pgqueuer", ids));
  EXPECT_EQ(event.at("channel"), "acme_ch_pgqueuer");
  EXPECT_EQ(event.at("type"), "cancellation_event");
  ASSERT_TRUE(event.at("ids").is_array());
  EXPECT_EQ(event.at("ids").get<std::vector<JobId>>(), ids);
  EXPECT_TRUE(event.at("ids").at(2).is_number_integer());
}

TEST(CancellationEventJsonTest, EmptyIdsIsAnEmptyArray) {
  const auto event = nlohmann::json::parse(CancellationEventJson("ch_pgqueuer", {}));
  ASSERT_TRUE(event.at("ids").is_array());
  EXPECT_TRUE(event.at("ids").empty());
}

TEST(CancellationEventJsonTest, TimestampsAreAwareIsoWithMicroseconds) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const auto event = nlohmann::json::parse(CancellationEventJson("ch_pgqueuer", {1}));
  const std::regex iso(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$)");
  for (const char* key : {"sent_at", "received_at"}) {
    ASSERT_TRUE(event.at(key).is_string()) << key;
    const std::string value = event.at(key);
    EXPECT_EQ(value.back(), 'Z') << value;
    EXPECT_TRUE(std::regex_match(value, iso)) << key << " = " << value;
    // UTC wall time of "now", not local time.
    const auto seconds = EpochSeconds(value);
    ASSERT_TRUE(seconds.has_value()) << value;
    EXPECT_LE(std::abs(*seconds - now), 60) << value;
  }
}

// ------------------------------------------------------------- error types

TEST(ErrorTypesTest, DuplicateJobErrorKeepsKeys) {
  const DuplicateJobError error("duplicate dedupe keys", {"k1", "k2"});
  EXPECT_THAT(error.dedupe_keys(), ElementsAre("k1", "k2"));
  EXPECT_EQ(error.sqlstate(), "23505");
  EXPECT_STREQ(error.what(), "duplicate dedupe keys");
  EXPECT_FALSE(error.IsRetryable());
  EXPECT_FALSE(error.PoisonsConnection());
  EXPECT_TRUE((std::is_base_of_v<DatabaseError, DuplicateJobError>));
  EXPECT_THROW(throw DuplicateJobError("dup", {}), DatabaseError);
}

TEST(ErrorTypesTest, RetryAndPoisonFlags) {
  const PoolTimeoutError timeout("no free connection");
  EXPECT_TRUE(timeout.IsRetryable());
  EXPECT_FALSE(timeout.PoisonsConnection());
  EXPECT_TRUE(timeout.sqlstate().empty());

  const ConnectionError broken("server closed the connection");
  EXPECT_TRUE(broken.PoisonsConnection());
  EXPECT_TRUE(broken.IsRetryable());

  const ConnectionStateError state(ConnectionStateError::Kind::kIsolation, "wrong isolation");
  EXPECT_TRUE(state.PoisonsConnection());
  EXPECT_FALSE(state.IsRetryable());
  EXPECT_EQ(state.kind(), ConnectionStateError::Kind::kIsolation);

  const LogicError misuse("bad call");
  EXPECT_FALSE(misuse.IsRetryable());
  EXPECT_FALSE(misuse.PoisonsConnection());

  EXPECT_THROW(throw PoolTimeoutError("t"), RuntimeError);
  EXPECT_THROW(throw ConnectionError("c"), Error);
}

}  // namespace
}  // namespace pgq
