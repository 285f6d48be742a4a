// libpqxx exceptions become pgq errors at one boundary: which ones say "this
// server cannot take the queue's writes" (discard the connection) and which
// say "the statement's outcome is unknown".

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <pqxx/except>

#include <string>

#include "driver/pg_errors.h"
#include "pgq/error.h"

namespace pgq::detail {
namespace {

using ::testing::HasSubstr;

template <typename E>
void Throw(const E& e, bool statement = false) {
  try {
    throw e;
  } catch (...) {
    if (statement) RethrowStatementAsPgq("ctx");
    RethrowAsPgq("ctx");
  }
}

pqxx::sql_error Sql(const std::string& message, const char* state) {
  return pqxx::sql_error(message, "SELECT", state);
}

TEST(PgErrorsTest, ReadOnlyServerErrorsDiscardTheConnection) {
  for (const auto& [message, state] : std::vector<std::pair<std::string, const char*>>{
           {"ERROR:  cannot execute INSERT in a read-only transaction", "25006"},
           {"ERROR:  cannot execute LISTEN during recovery", "25006"},
           {"FATAL:  terminating connection due to administrator command", "57P01"},
           {"FATAL:  terminating connection due to crash of another server process", "57P02"},
           {"FATAL:  the database system is starting up", "57P03"},
           {"ERROR:  canceling statement due to conflict with recovery", "40001"},
           {"ERROR:  canceling statement due to conflict with recovery", "40P01"},
           {"FATAL:  terminating connection due to conflict with recovery", "57P04"},
       }) {
    try {
      Throw(Sql(message, state));
      ADD_FAILURE() << "nothing thrown for " << state;
    } catch (const ReadOnlyError& e) {
      EXPECT_EQ(e.sqlstate(), state);
      EXPECT_TRUE(e.PoisonsConnection());
      EXPECT_TRUE(e.IsRetryable());
      EXPECT_THAT(e.what(), HasSubstr(std::string("(SQLSTATE ") + state + ")"));
    } catch (const std::exception& e) {
      ADD_FAILURE() << state << " became: " << e.what();
    }
  }
}

TEST(PgErrorsTest, OtherSqlErrorsKeepTheirMeaning) {
  try {
    Throw(Sql("ERROR:  could not serialize access due to concurrent update", "40001"));
  } catch (const ReadOnlyError&) {
    ADD_FAILURE() << "a serialization failure is not a read-only server";
  } catch (const DatabaseError& e) {
    EXPECT_TRUE(e.IsRetryable());
    EXPECT_FALSE(e.PoisonsConnection());
  }
  EXPECT_THROW(Throw(Sql("ERROR:  duplicate key value", "23505")), DatabaseError);
}

TEST(PgErrorsTest, ConnectFailuresOnAReadOnlyServerAreReadOnly) {
  EXPECT_THROW(Throw(pqxx::broken_connection(
                   "connection to server at \"127.0.0.1\", port 5433 failed: session is "
                   "read-only")),
               ReadOnlyError);
  EXPECT_THROW(Throw(pqxx::broken_connection(
                   "connection to server at \"db\", port 5432 failed: FATAL:  the database "
                   "system is in recovery mode")),
               ReadOnlyError);
  try {
    Throw(pqxx::broken_connection("could not connect: Connection refused"));
  } catch (const ReadOnlyError&) {
    ADD_FAILURE() << "a refused connection is not a read-only server";
  } catch (const ConnectionError& e) {
    EXPECT_THAT(e.what(), HasSubstr("Connection refused"));
  }
}

TEST(PgErrorsTest, AConnectionLostUnderAStatementIsInDoubt) {
  try {
    Throw(pqxx::broken_connection("server closed the connection unexpectedly"), true);
    ADD_FAILURE() << "nothing thrown";
  } catch (const InDoubtError& e) {
    EXPECT_FALSE(e.IsRetryable());
    EXPECT_TRUE(e.PoisonsConnection());
    EXPECT_THAT(e.what(), HasSubstr("in doubt"));
  }
  // Still a ConnectionError for code that only asks whether to reconnect.
  EXPECT_THROW(Throw(pqxx::broken_connection("server closed the connection unexpectedly"), true),
               ConnectionError);
  // Not a statement (connecting): plainly a connection error.
  try {
    Throw(pqxx::broken_connection("server closed the connection unexpectedly"));
  } catch (const InDoubtError&) {
    ADD_FAILURE() << "a failed connect is not in doubt";
  } catch (const ConnectionError&) {
  }
  EXPECT_THROW(Throw(pqxx::in_doubt_error("COMMIT outcome unknown")), InDoubtError);
}

}  // namespace
}  // namespace pgq::detail
