// The pgq command line, run as a subprocess against the test database.

#include <fstream>

#include <gmock/gmock.h>
#include <nlohmann/json.hpp>

#include "pg_fixture.h"
#include "pgq/version.h"

namespace pgq {
namespace {

using ::testing::HasSubstr;
using testing::PgTest;
using testing::RunCommand;

class CliTest : public PgTest {
 protected:
  std::string Pgq(const std::string& args) {
    return std::string(PGQ_BINARY) + " --dsn '" + dsn_ + "' --schema " + settings().schema + " " +
           args;
  }
};

TEST_F(CliTest, SqlPrintsDeterministicallyWithoutConnecting) {
  const std::string cmd = std::string(PGQ_BINARY) +
                          " --dsn postgresql://nobody@127.0.0.1:1/none --prefix acme_ --schema "
                          "billing sql install";
  auto first = RunCommand(cmd);
  auto second = RunCommand(cmd);
  EXPECT_EQ(first.exit_code, 0) << first.output;
  EXPECT_EQ(first.output, second.output);
  EXPECT_THAT(first.output, HasSubstr("CREATE TABLE billing.acme_pgqueuer ("));
  EXPECT_THAT(first.output, HasSubstr("'acme_ch_pgqueuer'"));
  EXPECT_THAT(first.output, HasSubstr("CREATE TRIGGER acme_tg_pgqueuer_changed"));
  auto upgrade = RunCommand(std::string(PGQ_BINARY) + " sql upgrade --no-widen-id");
  EXPECT_EQ(upgrade.exit_code, 0);
  EXPECT_THAT(upgrade.output, ::testing::Not(HasSubstr("ALTER SEQUENCE")));
}

TEST_F(CliTest, SqlStatementsByNameAndAll) {
  const std::string pgq = std::string(PGQ_BINARY) + " --prefix acme_ --schema billing sql statements";
  auto worker = RunCommand(pgq);
  ASSERT_EQ(worker.exit_code, 0) << worker.output;
  EXPECT_THAT(worker.output, HasSubstr("-- claim\nWITH available AS ("));
  EXPECT_THAT(worker.output, HasSubstr("-- enqueue_raise\n"));
  EXPECT_THAT(worker.output, ::testing::Not(HasSubstr("-- prune_log_batch")));

  auto all = RunCommand(pgq + " --all");
  ASSERT_EQ(all.exit_code, 0) << all.output;
  for (const char* name : {"-- claim\n", "-- complete\n", "-- prune_log_batch\n",
                           "-- schema_trigger_function\n", "-- truncate\n"}) {
    EXPECT_THAT(all.output, HasSubstr(name));
  }
  EXPECT_THAT(all.output, HasSubstr("TRUNCATE {table};"));
  EXPECT_THAT(all.output, HasSubstr("DELETE FROM billing.acme_pgqueuer_log AS l"));

  auto picked = RunCommand(pgq + " heartbeat requeue");
  ASSERT_EQ(picked.exit_code, 0) << picked.output;
  EXPECT_EQ(picked.output.rfind("-- heartbeat\nUPDATE billing.acme_pgqueuer SET heartbeat", 0), 0u)
      << picked.output;
  EXPECT_THAT(picked.output, HasSubstr("-- requeue\n"));

  auto unknown = RunCommand(pgq + " no_such_statement");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.output, HasSubstr("no statement named \"no_such_statement\""));
}

TEST_F(CliTest, InstallVerifyQueueUninstall) {
  auto absent = RunCommand(Pgq("verify --expect present"));
  EXPECT_EQ(absent.exit_code, 1) << absent.output;
  ASSERT_EQ(RunCommand(Pgq("install")).exit_code, 0);
  auto present = RunCommand(Pgq("verify --expect present"));
  EXPECT_EQ(present.exit_code, 0) << present.output;
  EXPECT_EQ(RunCommand(Pgq("verify --expect absent")).exit_code, 1);

  auto queued = RunCommand(Pgq("queue greet hello --priority 3 --dedupe-key k"));
  EXPECT_EQ(queued.exit_code, 0) << queued.output;
  EXPECT_EQ(Scalar("SELECT convert_from(payload, 'UTF8') || ':' || priority FROM " +
                   settings().QueueTable()),
            "hello:3");
  auto duplicate = RunCommand(Pgq("queue greet again --dedupe-key k"));
  EXPECT_EQ(duplicate.exit_code, 1);
  EXPECT_THAT(duplicate.output, HasSubstr("k"));
  auto skipped = RunCommand(Pgq("queue greet again --dedupe-key k --on-conflict skip"));
  EXPECT_EQ(skipped.exit_code, 0) << skipped.output;
  EXPECT_EQ(Count("SELECT count(*) FROM " + settings().QueueTable()), 1);

  EXPECT_EQ(RunCommand(Pgq("upgrade")).exit_code, 0);
  EXPECT_EQ(RunCommand(Pgq("autovac")).exit_code, 0);
  EXPECT_EQ(RunCommand(Pgq("durability balanced")).exit_code, 0);
  EXPECT_EQ(RunCommand(Pgq("uninstall")).exit_code, 0);
  EXPECT_EQ(RunCommand(Pgq("verify --expect absent")).exit_code, 0);
}

TEST_F(CliTest, ProducerExampleEnqueuesThroughSyncDriver) {
  Install();
  auto result = RunCommand("PGQUEUER_DSN='" + dsn_ + "' PGQUEUER_SCHEMA=" + settings().schema +
                           " " + PGQ_PRODUCER_EXAMPLE + " 2500 demo.bulk");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(Count("SELECT count(*) FROM " + settings().QueueTable() +
                  " WHERE entrypoint = 'demo.bulk'"),
            2500);
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(RunCommand(std::string(PGQ_BINARY) + " nosuchcommand").exit_code, 2);
  auto bad = RunCommand(std::string(PGQ_BINARY) + " --prefix 1bad sql install");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.output, HasSubstr("PGQUEUER_PREFIX"));
  auto level = RunCommand(std::string(PGQ_BINARY) + " sql durability forever");
  EXPECT_EQ(level.exit_code, 2);
  EXPECT_THAT(level.output, HasSubstr("volatile"));
}

TEST_F(CliTest, VersionPrintsTheLibraryVersion) {
  // No subcommand needed, no connection made.
  auto version = RunCommand(std::string(PGQ_BINARY) + " --version");
  EXPECT_EQ(version.exit_code, 0) << version.output;
  EXPECT_EQ(version.output, std::string(Version()) + "\n");
}

// `pgq bench --strategy enqueue` counts only jobs whose ids came back: every
// one of them has its `queued` log row (the bench empties the queue table
// afterwards, the log keeps them), and --outstanding reaches the producer.
TEST_F(CliTest, EnqueueBenchCountsCommittedJobs) {
  Install();
  const std::string json = ::testing::TempDir() + "/enqueue-bench.json";
  auto run = RunCommand(Pgq("bench --strategy enqueue --producer batching --producers 3 "
                            "--outstanding 4 --max-batch 5 --time 0.5 --json " + json));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::ifstream in(json);
  const auto result = nlohmann::json::parse(in);
  const auto& batching = result.at("batching");
  const long jobs = batching.at("jobs").get<long>();
  EXPECT_GT(jobs, 0);
  EXPECT_EQ(batching.at("errors").get<long>(), 0);
  EXPECT_EQ(batching.at("outstanding").get<int>(), 4);
  EXPECT_EQ(batching.at("max_batch").get<int>(), 5);
  EXPECT_LE(batching.at("mean_batch").get<double>(), 5.0);
  EXPECT_GT(batching.at("process_cpu_us_per_job").get<double>(), 0.0);
  EXPECT_GT(batching.at("context_switches_per_job").get<double>(), 0.0);
  EXPECT_FALSE(result.contains("per_call"));
  EXPECT_GE(Count("SELECT count(*) FROM " + settings().LogTable() +
                  " WHERE status = 'queued' AND entrypoint = 'bench'"),
            jobs);
  EXPECT_EQ(Count("SELECT count(*) FROM " + settings().QueueTable()), 0);
}

}  // namespace
}  // namespace pgq
