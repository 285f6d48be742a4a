#pragma once
// Fixture for tests against the throwaway PostgreSQL that ci/test starts.
// Each test gets its own schema and channel, so tests can run in parallel.

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pgq/driver.h"
#include "pgq/queries.h"
#include "pgq/schema.h"
#include "pgq/settings.h"

namespace pgq::testing {

/// PGQ_TEST_DSN, or empty.
std::string TestDsn();
/// A random lower-case token for object names.
std::string RandomToken();
/// Polls `condition` every 10 ms until it holds or `timeout` passes; whether
/// it held. Tests assert on the outcome instead of sleeping.
bool WaitUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds timeout = std::chrono::seconds(30));

class PgTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  /// Options for a new connection to the test database.
  ConnectionOptions Options() const;
  /// Settings for this test: schema pgq_test_<token>, channel <token>_ch.
  const DBSettings& settings() const { return settings_; }
  /// Installs the schema for settings().
  void Install();
  /// A driver for admin statements (own connection).
  ConnectionDriver& admin() { return *admin_; }
  /// Single scalar (first column of first row) as text; "" for NULL.
  std::string Scalar(const std::string& sql, const Params& params = {});
  std::int64_t Count(const std::string& sql, const Params& params = {});
  /// A queue table whose planner statistics are behind: autovacuum off for
  /// it, `jobs` jobs of `entrypoint` enqueued, and their inserts visible in
  /// pg_stat_user_tables (waited for, up to 20 s). Returns false on timeout.
  bool FillWithoutStatistics(const std::string& entrypoint, int jobs);
  /// pg_stat_user_tables.analyze_count of the queue table (manual ANALYZEs).
  std::int64_t QueueAnalyzeCount();

  std::string dsn_;
  std::string token_;
  DBSettings settings_;
  std::unique_ptr<ConnectionDriver> admin_;
};

/// A PgTest with the schema installed and Queries on a connection of its own.
class QueriesPgTest : public PgTest {
 protected:
  void SetUp() override;
  Queries& q() { return *queries_; }
  /// A fresh worker id, as a runtime would generate it.
  std::string Worker() { return Scalar("SELECT gen_random_uuid()::text"); }

  std::unique_ptr<ConnectionDriver> driver_;
  std::unique_ptr<Queries> queries_;
};

/// Collects notifications; Wait* block until a condition holds or time out.
class NotificationLog {
 public:
  NotificationCallback Callback();
  /// Waits until a notification with exactly this payload arrived; returns
  /// everything received before it (and removes those and the marker).
  std::vector<Notification> UntilPayload(const std::string& payload,
                                         std::chrono::seconds timeout = std::chrono::seconds(10));
  bool WaitFor(const std::function<bool(const std::vector<Notification>&)>& predicate,
               std::chrono::seconds timeout = std::chrono::seconds(10));
  std::vector<Notification> Snapshot();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Notification> received_;
};

/// Runs a shell command, returning its exit code and combined output.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult RunCommand(const std::string& command);

}  // namespace pgq::testing
