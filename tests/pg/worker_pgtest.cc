// `pgq run` end to end: a child process from a YAML file and secret files,
// probed over real sockets.

#include <gmock/gmock.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <optional>
#include <sstream>
#include <fstream>
#include <thread>

#include "pg_fixture.h"
#include "worker_process.h"

namespace pgq {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::FreePort;
using testing::HttpGet;
using testing::PgTest;
using testing::WorkerProcess;
using namespace std::chrono_literals;
using testing::WaitUntil;

constexpr const char* kMarker = "S3cr3t-Marker-42";

class WorkerTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    char tmpl[] = "/tmp/pgq-secrets-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    secrets_ = tmpl;
    port_ = FreePort();
  }
  void TearDown() override {
    if (!secrets_.empty()) std::system(("rm -rf '" + secrets_ + "'").c_str());
    PgTest::TearDown();
  }

  // The DSN with the marker password (trust auth ignores it) in a secret file.
  std::string SecretDsnFile(const std::string& dsn) {
    std::string with_password = dsn;
    const auto at = with_password.find('@');
    with_password.insert(at, std::string(":") + kMarker);
    const std::string path = secrets_ + "/dsn";
    std::ofstream(path) << with_password << "\n";
    return path;
  }

  std::string Config(const std::string& entrypoints, const std::string& dsn,
                     const std::string& extra_queue = "") {
    return "database:\n  dsn_file: " + SecretDsnFile(dsn) +
           "\npool:\n  min_size: 2\n  max_size: 4\n  health_check_interval: 2s\n"
           "queue:\n  schema: " + settings().schema + "\n  channel: " + settings().channel +
           "\n  batch_size: 10\n  dequeue_timeout: 5s\n" + extra_queue +
           "entrypoints:\n" + entrypoints + "http:\n  address: 127.0.0.1\n  port: " +
           std::to_string(port_) +
           "\nlogging:\n  level: info\n  format: json\nshutdown:\n  grace_period: 10s\n";
  }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  bool Ready() { return HttpGet(Url("/readyz")).status == 200; }
  void Enqueue(const std::string& entrypoint, int n) {
    std::vector<NewJob> jobs(static_cast<std::size_t>(n));
    for (auto& job : jobs) job.entrypoint = entrypoint;
    ProducerQueries(admin(), settings()).Enqueue(jobs);
  }
  std::int64_t LogRows(const std::string& status) {
    return Count("SELECT count(*) FROM " + settings().LogTable() + " WHERE status = '" + status + "'");
  }

  // promtool must accept a live exposition.
  void ExpectPromtoolAccepts(const std::string& scrape) {
    const std::string file = secrets_ + "/metrics.txt";
    std::ofstream(file) << scrape;
    const auto promtool =
        testing::RunCommand("command -v promtool >/dev/null && promtool check metrics < " + file);
    if (promtool.exit_code == 1 && promtool.output.empty()) {
      ADD_FAILURE() << "promtool is not installed (ci/deps installs Debian's prometheus package)";
    } else {
      EXPECT_EQ(promtool.exit_code, 0) << promtool.output;
    }
  }

  std::string secrets_;
  int port_ = 0;
};

TEST_F(WorkerTest, ServesProbesMetricsAndJobsThenDrainsOnSigterm) {
  Install();
  Enqueue("w.noop", 50);
  WorkerProcess worker(PGQ_BINARY, Config("  w.noop:\n    handler: {type: noop}\n"
                                          "  w.fail:\n    handler: {type: fail, message: nope}\n",
                                          dsn_));
  ASSERT_TRUE(WaitUntil([&] { return Ready(); })) << worker.Output();
  ASSERT_TRUE(WaitUntil([&] { return LogRows("successful") == 50; })) << worker.Output();
  Enqueue("w.fail", 2);
  ASSERT_TRUE(WaitUntil([&] { return LogRows("exception") == 2; })) << worker.Output();

  EXPECT_EQ(HttpGet(Url("/livez")).status, 200);
  const auto ready = HttpGet(Url("/readyz"));
  EXPECT_EQ(ready.status, 200);
  EXPECT_THAT(ready.body, HasSubstr("\"status\":\"ready\""));
  const auto metrics = HttpGet(Url("/metrics"));
  ASSERT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body,
              HasSubstr("pgq_jobs_total{entrypoint=\"w.noop\",outcome=\"successful\"} 50"));
  EXPECT_THAT(metrics.body,
              HasSubstr("pgq_jobs_total{entrypoint=\"w.fail\",outcome=\"exception\"} 2"));
  for (const char* name :
       {"pgq_pool_connections{state=\"active\"}", "pgq_pool_connections_max 4",
        "pgq_pool_acquire_seconds_bucket", "pgq_pool_usage_seconds_count",
        "pgq_pool_connections_created_total", "pgq_driver_autocommit_ok 1",
        "pgq_listener_up{endpoint=\"pool\"} 1", "pgq_job_duration_seconds_bucket",
        "pgq_job_wait_seconds_count", "pgq_driver_reconnects_total{endpoint=\"pool\"} 0",
        "pgq_dequeue_seconds_count", "pgq_build_info{version=", "pgq_notifications_total{type="}) {
    EXPECT_THAT(metrics.body, HasSubstr(name));
  }
  EXPECT_EQ(HttpGet(Url("/nope")).status, 404);

  ExpectPromtoolAccepts(metrics.body);

  worker.Signal(SIGTERM);
  EXPECT_EQ(worker.Wait(), 0) << worker.Output();
  EXPECT_EQ(Count("SELECT count(*) FROM " + settings().QueueTable() + " WHERE status = 'picked'"), 0);
  const auto output = worker.Output();
  EXPECT_THAT(output, Not(HasSubstr(kMarker)));
  EXPECT_THAT(output, HasSubstr("draining"));
  EXPECT_THAT(output, HasSubstr("worker stopped cleanly"));
}

// The value of the series `series` (name and labels exactly as exposed), or
// nullopt when the scrape has no such line.
std::optional<double> Sample(const std::string& scrape, const std::string& series) {
  std::istringstream lines(scrape);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

TEST_F(WorkerTest, MetricsStartAtZeroForConfiguredNamesAndCountScheduleRuns) {
  Install();
  const auto started = std::chrono::system_clock::now();
  WorkerProcess worker(
      PGQ_BINARY,
      Config("  m.idle:\n    handler: {type: noop}\n"
             "  m.other:\n    handler: {type: fail, message: nope}\n",
             dsn_) +
          "schedules:\n"
          "  m.yearly:\n    cron: '0 0 1 1 *'\n    handler: {type: noop}\n"
          "  m.tick:\n    cron: '* * * * * *'\n    handler: {type: noop}\n"
          "  m.broken:\n    cron: '* * * * * *'\n    handler: {type: fail, message: nope}\n");
  ASSERT_TRUE(WaitUntil([&] { return Ready(); })) << worker.Output();

  // Before any job: every configured entrypoint has its series, at 0.
  const auto idle = HttpGet(Url("/metrics"));
  ASSERT_EQ(idle.status, 200);
  for (const std::string e : {"m.idle", "m.other"}) {
    const std::string ep = "entrypoint=\"" + e + "\"";
    for (const char* outcome : {"successful", "exception", "canceled", "failed", "retried"}) {
      EXPECT_EQ(Sample(idle.body, "pgq_jobs_total{" + ep + ",outcome=\"" + outcome + "\"}"), 0.0)
          << e << " " << outcome;
    }
    EXPECT_EQ(Sample(idle.body, "pgq_jobs_claimed_total{" + ep + "}"), 0.0) << e;
    EXPECT_EQ(Sample(idle.body, "pgq_jobs_in_flight{" + ep + "}"), 0.0) << e;
    EXPECT_EQ(Sample(idle.body, "pgq_job_duration_seconds_count{" + ep + "}"), 0.0) << e;
    EXPECT_EQ(Sample(idle.body, "pgq_job_wait_seconds_count{" + ep + "}"), 0.0) << e;
    EXPECT_EQ(Sample(idle.body, "pgq_queue_lag_seconds{" + ep + "}"), 0.0) << e;
    EXPECT_EQ(Sample(idle.body, "pgq_queue_depth{" + ep + ",status=\"queued\"}"), 0.0) << e;
  }
  // The yearly schedule has not run: its runs and last success are 0.
  for (const char* outcome : {"successful", "exception"}) {
    EXPECT_EQ(Sample(idle.body, std::string("pgq_schedule_runs_total{outcome=\"") + outcome +
                                    "\",schedule=\"m.yearly\"}"),
              0.0);
  }
  EXPECT_EQ(Sample(idle.body, "pgq_schedule_last_success_timestamp_seconds{schedule=\"m.yearly\"}"),
            0.0);
  EXPECT_EQ(Sample(idle.body, "pgq_schedule_duration_seconds_count{schedule=\"m.yearly\"}"), 0.0);

  // After the schedules ran: runs by outcome, durations, last success, and the
  // database's next run (the yearly one: next 1 January, 00:00 UTC).
  std::string scrape;
  auto value = [&](const std::string& series) { return Sample(scrape, series).value_or(-1); };
  ASSERT_TRUE(WaitUntil([&] {
    scrape = HttpGet(Url("/metrics")).body;
    return value("pgq_schedule_runs_total{outcome=\"successful\",schedule=\"m.tick\"}") >= 1 &&
           value("pgq_schedule_runs_total{outcome=\"exception\",schedule=\"m.broken\"}") >= 1 &&
           value("pgq_schedule_next_run_timestamp_seconds{schedule=\"m.yearly\"}") > 0;
  })) << scrape << worker.Output();
  const auto now = std::chrono::system_clock::now();
  const auto epoch = [](std::chrono::system_clock::time_point t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
  };
  const double last_success =
      value("pgq_schedule_last_success_timestamp_seconds{schedule=\"m.tick\"}");
  EXPECT_GE(last_success, std::floor(epoch(started)));
  EXPECT_LE(last_success, epoch(now) + 1);
  EXPECT_GE(value("pgq_schedule_duration_seconds_count{schedule=\"m.tick\"}"), 1);
  EXPECT_EQ(value("pgq_schedule_runs_total{outcome=\"exception\",schedule=\"m.tick\"}"), 0);
  EXPECT_EQ(value("pgq_schedule_runs_total{outcome=\"successful\",schedule=\"m.broken\"}"), 0);
  EXPECT_EQ(value("pgq_schedule_last_success_timestamp_seconds{schedule=\"m.broken\"}"), 0);
  EXPECT_GT(value("pgq_schedule_next_run_timestamp_seconds{schedule=\"m.tick\"}"), 0);
  const std::time_t now_t = std::chrono::system_clock::to_time_t(now);
  std::tm next_new_year{};
  ::gmtime_r(&now_t, &next_new_year);
  next_new_year = std::tm{.tm_mday = 1, .tm_year = next_new_year.tm_year + 1};
  // The database computes next_run as NOW() + the delay to the cron time, so
  // it may miss the second by the clocks' difference; it is never a day off.
  EXPECT_NEAR(value("pgq_schedule_next_run_timestamp_seconds{schedule=\"m.yearly\"}"),
              static_cast<double>(::timegm(&next_new_year)), 1.0);
  // The schedules table says the same about the yearly schedule.
  EXPECT_NEAR(Count("SELECT EXTRACT(EPOCH FROM next_run)::bigint FROM " +
                  settings().SchedulesTable() + " WHERE entrypoint = 'm.yearly'"),
              static_cast<std::int64_t>(::timegm(&next_new_year)), 1);

  ExpectPromtoolAccepts(scrape);

  worker.Signal(SIGTERM);
  EXPECT_EQ(worker.Wait(), 0) << worker.Output();
}

TEST_F(WorkerTest, SigtermFinishesInFlightJobsAndReturnsTheRest) {
  Install();
  Enqueue("w.sleep", 40);
  WorkerProcess worker(PGQ_BINARY,
                       Config("  w.sleep:\n    handler: {type: sleep, duration: 300ms}\n", dsn_));
  ASSERT_TRUE(WaitUntil([&] { return LogRows("successful") >= 2; })) << worker.Output();
  worker.Signal(SIGTERM);
  // Readiness drops at once while in-flight jobs finish.
  EXPECT_EQ(worker.Wait(), 0) << worker.Output();
  EXPECT_EQ(Count("SELECT count(*) FROM " + settings().QueueTable() + " WHERE status = 'picked'"), 0);
  EXPECT_EQ(LogRows("successful") +
                Count("SELECT count(*) FROM " + settings().QueueTable() +
                      " WHERE status = 'queued' AND queue_manager_id IS NULL"),
            40);
  EXPECT_THAT(worker.Output(), Not(HasSubstr(kMarker)));
}

TEST_F(WorkerTest, ReadyzReportsConnectionLeftInTransactionThenRecovers) {
  Install();
  WorkerProcess worker(PGQ_BINARY,
                       Config("  w.begin:\n    handler: {type: sql, statement: BEGIN}\n", dsn_));
  ASSERT_TRUE(WaitUntil([&] { return Ready(); })) << worker.Output();
  Enqueue("w.begin", 1);
  testing::CommandResult last;
  ASSERT_TRUE(WaitUntil([&] {
    const auto r = HttpGet(Url("/readyz"));
    return r.status == 503 && r.body.find("transaction block") != std::string::npos;
  })) << worker.Output();
  EXPECT_THAT(HttpGet(Url("/metrics")).body,
              HasSubstr("pgq_driver_errors_total{endpoint=\"pool\","
                        "kind=\"state_in_transaction\"} 1"));
  // The connection was discarded; after the check interval it is ready again.
  EXPECT_TRUE(WaitUntil([&] { return Ready(); })) << HttpGet(Url("/readyz")).body;
  EXPECT_EQ(HttpGet(Url("/livez")).status, 200);
  worker.Signal(SIGTERM);
  EXPECT_EQ(worker.Wait(), 0);
  EXPECT_THAT(worker.Output(), Not(HasSubstr(kMarker)));
}

// Runs the worker against a database of its own, which the test can alter.
class WorkerOwnDatabaseTest : public WorkerTest {
 protected:
  void SetUp() override {
    WorkerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    const auto slash = dsn_.rfind("/postgres");
    ASSERT_NE(slash, std::string::npos);
    database_ = "pgq_w_" + token_;
    admin().Execute("CREATE DATABASE " + database_);
    db_dsn_ = dsn_;
    db_dsn_.replace(slash, std::string("/postgres").size(), "/" + database_);
    ConnectionDriver db(ConnectionOptions::FromDsn(db_dsn_));
    db.Execute("CREATE SCHEMA " + settings().schema);
    Schema(settings()).Install(db, false);
  }
  void TearDown() override {
    if (!database_.empty()) {
      admin().Execute("ALTER DATABASE " + database_ + " ALLOW_CONNECTIONS true");
      admin().Execute("DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
    }
    WorkerTest::TearDown();
  }
  std::string database_, db_dsn_;
};

TEST_F(WorkerOwnDatabaseTest, ReadyzReportsSerializableDefaultIsolation) {
  WorkerProcess worker(PGQ_BINARY, Config("  w.noop:\n    handler: {type: noop}\n", db_dsn_));
  ASSERT_TRUE(WaitUntil([&] { return Ready(); })) << worker.Output();
  admin().Execute("ALTER DATABASE " + database_ +
                  " SET default_transaction_isolation = 'serializable'");
  ASSERT_TRUE(WaitUntil([&] {
    const auto r = HttpGet(Url("/readyz"));
    return r.status == 503 && r.body.find("serializable") != std::string::npos;
  })) << HttpGet(Url("/readyz")).body;
  EXPECT_THAT(HttpGet(Url("/metrics")).body, HasSubstr("pgq_driver_isolation_ok 0"));
  admin().Execute("ALTER DATABASE " + database_ + " RESET default_transaction_isolation");
  EXPECT_TRUE(WaitUntil([&] { return Ready(); })) << HttpGet(Url("/readyz")).body;
  worker.Signal(SIGTERM);
  EXPECT_EQ(worker.Wait(), 0);
}

TEST_F(WorkerOwnDatabaseTest, ReadyzReportsListenerDownThenRecovers) {
  WorkerProcess worker(PGQ_BINARY, Config("  w.noop:\n    handler: {type: noop}\n", db_dsn_));
  ASSERT_TRUE(WaitUntil([&] { return Ready(); })) << worker.Output();
  // Nobody may open new connections; then the LISTEN connection is killed
  // and cannot come back.
  admin().Execute("ALTER DATABASE " + database_ + " ALLOW_CONNECTIONS false");
  const auto killed = Count(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND "
      "query LIKE 'LISTEN %'",
      {database_});
  ASSERT_EQ(killed, 1);
  ASSERT_TRUE(WaitUntil([&] {
    const auto r = HttpGet(Url("/readyz"));
    return r.status == 503 && r.body.find("\"name\":\"listener\",\"ok\":false") != std::string::npos;
  })) << HttpGet(Url("/readyz")).body;
  EXPECT_EQ(HttpGet(Url("/livez")).status, 200);  // liveness never depends on the database
  admin().Execute("ALTER DATABASE " + database_ + " ALLOW_CONNECTIONS true");
  EXPECT_TRUE(WaitUntil([&] { return Ready(); }, 60s)) << HttpGet(Url("/readyz")).body;
  worker.Signal(SIGTERM);
  EXPECT_EQ(worker.Wait(), 0);
}

// A first install: the worker starts before its schema exists. It stays
// alive and not ready, naming the missing schema (logged once), and starts
// consuming as soon as `pgq migrate` (the migration Job's command, with the
// worker's own configuration file) has installed it.
TEST_F(WorkerTest, WaitsForAMissingSchemaThenConsumesAfterMigrate) {
  WorkerProcess worker(PGQ_BINARY, Config("  w.noop:\n    handler: {type: noop}\n", dsn_));
  ASSERT_TRUE(WaitUntil([&] {
    const auto r = HttpGet(Url("/readyz"));
    return r.status == 503 && r.body.find("\"name\":\"schema\",\"ok\":false") != std::string::npos;
  })) << worker.Output();
  EXPECT_THAT(HttpGet(Url("/readyz")).body, HasSubstr("is missing"));
  EXPECT_EQ(HttpGet(Url("/livez")).status, 200);
  EXPECT_TRUE(worker.Running());

  const auto migrate = testing::RunCommand(std::string(PGQ_BINARY) + " migrate --config '" +
                                           worker.dir() + "/config.yaml' 2>&1");
  ASSERT_EQ(migrate.exit_code, 0) << migrate.output;
  EXPECT_THAT(migrate.output, HasSubstr("installed the pgq schema"));
  EXPECT_THAT(migrate.output, Not(HasSubstr(kMarker)));
  ASSERT_TRUE(WaitUntil([&] { return Ready(); })) << HttpGet(Url("/readyz")).body;
  Enqueue("w.noop", 5);
  ASSERT_TRUE(WaitUntil([&] { return LogRows("successful") == 5; })) << worker.Output();

  // A second run finds the schema current and changes nothing; --plan agrees.
  const auto again = testing::RunCommand(std::string(PGQ_BINARY) + " migrate --config '" +
                                         worker.dir() + "/config.yaml' 2>&1");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_THAT(again.output, HasSubstr("schema is current ("));
  EXPECT_THAT(again.output, HasSubstr("no DDL run"));
  const auto plan = testing::RunCommand(std::string(PGQ_BINARY) + " migrate --plan --config '" +
                                        worker.dir() + "/config.yaml' 2>&1");
  EXPECT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_THAT(plan.output, HasSubstr("migrate would run no DDL"));

  worker.Signal(SIGTERM);
  EXPECT_EQ(worker.Wait(), 0) << worker.Output();
  const auto output = worker.Output();
  std::size_t logged = 0;
  for (auto at = output.find("not consuming until"); at != std::string::npos;
       at = output.find("not consuming until", at + 1)) {
    ++logged;
  }
  EXPECT_EQ(logged, 1u) << output;
  EXPECT_THAT(output, HasSubstr("the queue schema verifies; starting to consume"));
}

// A database carrying a newer PgQueuer schema (the `slot` column of its
// fleet-wide concurrency limits): `pgq migrate` and `pgq run` refuse it with
// exit 2 and one message naming what was found and the schema pgq speaks.
TEST_F(WorkerTest, ANewerPgQueuerSchemaMakesRunAndMigrateExitTwo) {
  Install();
  admin().Execute("ALTER TABLE " + settings().QueueTable() + " ADD COLUMN slot INT");
  WorkerProcess worker(PGQ_BINARY, Config("  w.noop:\n    handler: {type: noop}\n", dsn_));
  EXPECT_EQ(worker.Wait(), 2) << worker.Output();
  EXPECT_THAT(worker.Output(), HasSubstr("column " + settings().QueueTable() + ".slot"));
  EXPECT_THAT(worker.Output(), HasSubstr("pgq speaks the PgQueuer 1.3.x schema"));
  const auto migrate = testing::RunCommand(std::string(PGQ_BINARY) + " migrate --config '" +
                                           worker.dir() + "/config.yaml' 2>&1");
  EXPECT_EQ(migrate.exit_code, 2) << migrate.output;
  EXPECT_THAT(migrate.output, HasSubstr("column " + settings().QueueTable() + ".slot"));
  EXPECT_THAT(migrate.output, HasSubstr("PgQueuer 1.3.x"));
  EXPECT_THAT(migrate.output, Not(HasSubstr(kMarker)));
}

// The same schema change under a running worker (a PgQueuer 2.x install
// migrating the shared database): the once-a-minute schema check turns
// /readyz to 503 with the same message, so the rollout and alerts see it.
TEST_F(WorkerTest, ANewerPgQueuerSchemaUnderARunningWorkerMakesItNotReady) {
  Install();
  WorkerProcess worker(PGQ_BINARY, Config("  w.noop:\n    handler: {type: noop}\n", dsn_));
  ASSERT_TRUE(WaitUntil([&] { return Ready(); })) << worker.Output();
  admin().Execute("ALTER TABLE " + settings().QueueTable() + " ADD COLUMN cancel_requested BOOLEAN");
  testing::HttpResult last;
  EXPECT_TRUE(WaitUntil(
      [&] {
        last = HttpGet(Url("/readyz"));
        return last.status == 503 &&
               last.body.find("cancel_requested") != std::string::npos;
      },
      90s))
      << last.status << " " << last.body << worker.Output();
  EXPECT_THAT(last.body, HasSubstr("pgq speaks the PgQueuer 1.3.x schema"));
  EXPECT_EQ(HttpGet(Url("/livez")).status, 200);
  worker.Signal(SIGTERM);
  EXPECT_EQ(worker.Wait(), 0) << worker.Output();
}

// A database that refuses connections at start: alive, not ready with the
// reason, and consuming once it accepts them.
TEST_F(WorkerOwnDatabaseTest, WaitsForADatabaseThatRefusesConnectionsAtStart) {
  admin().Execute("ALTER DATABASE " + database_ + " ALLOW_CONNECTIONS false");
  WorkerProcess worker(PGQ_BINARY, Config("  w.noop:\n    handler: {type: noop}\n", db_dsn_));
  ASSERT_TRUE(WaitUntil([&] {
    const auto r = HttpGet(Url("/readyz"));
    return r.status == 503 && r.body.find("\"name\":\"database\",\"ok\":false") != std::string::npos;
  })) << worker.Output();
  EXPECT_EQ(HttpGet(Url("/livez")).status, 200);
  admin().Execute("ALTER DATABASE " + database_ + " ALLOW_CONNECTIONS true");
  EXPECT_TRUE(WaitUntil([&] { return Ready(); }, 60s)) << HttpGet(Url("/readyz")).body;
  worker.Signal(SIGTERM);
  EXPECT_EQ(worker.Wait(), 0) << worker.Output();
}

TEST_F(WorkerTest, ConfigurationErrorExitsTwoBeforeConnecting) {
  // The DSN points at a port nobody listens on: an attempt to connect would
  // show up as a connection error instead of the configuration error.
  const std::string yaml =
      "database:\n  dsn_file: " + SecretDsnFile("postgresql://nobody@127.0.0.1:1/none") +
      "\nqueue:\n  batch_size: ten\nentrypoints:\n  w:\n    handler: {type: noop}\n";
  WorkerProcess worker(PGQ_BINARY, yaml);
  EXPECT_EQ(worker.Wait(), 2);
  const auto output = worker.Output();
  EXPECT_THAT(output, HasSubstr("config.yaml:4:"));
  EXPECT_THAT(output, HasSubstr("queue.batch_size"));
  EXPECT_THAT(output, Not(HasSubstr("connect")));
  EXPECT_THAT(output, Not(HasSubstr(kMarker)));
}

TEST_F(WorkerTest, MissingSecretFileExitsTwoNamingTheKey) {
  const std::string yaml = "database:\n  password_file: " + secrets_ +
                           "/absent\nentrypoints:\n  w:\n    handler: {type: noop}\n";
  WorkerProcess worker(PGQ_BINARY, yaml);
  EXPECT_EQ(worker.Wait(), 2);
  EXPECT_THAT(worker.Output(), HasSubstr("database.password_file"));
}

}  // namespace
}  // namespace pgq
