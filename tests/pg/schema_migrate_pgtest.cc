// The delta migration and the schema contract against a real server: a
// current schema gets no DDL at all (counted by an event trigger on the
// server), an older one exactly what it lacks, an invalid or stale index is
// rebuilt, a lock held by someone else is waited out with retries instead of
// queueing the fleet, and a newer PgQueuer schema is refused.

#include <gmock/gmock.h>

#include <chrono>
#include <future>
#include <iostream>
#include <mutex>

#include <pqxx/pqxx>

#include "pg_fixture.h"
#include "pgq/error.h"
#include "pgq/schema.h"

namespace pgq {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::PgTest;

class SchemaMigrateTest : public PgTest {
 protected:
  void TearDown() override {
    if (!event_trigger_.empty()) {
      admin().Execute("DROP EVENT TRIGGER IF EXISTS " + event_trigger_);
    }
    PgTest::TearDown();
  }

  // Counts every DDL command the session `pid` starts, seen by the server.
  void CountDdlOf(const std::string& pid) {
    event_trigger_ = "pgq_test_ddl_" + token_;
    const std::string log = settings().Qualify("ddl_seen");
    admin().Execute("CREATE TABLE " + log + " (tag text)");
    admin().Execute("CREATE FUNCTION " + settings().Qualify("count_ddl") +
                    "() RETURNS event_trigger LANGUAGE plpgsql AS $f$ BEGIN IF pg_backend_pid() = " +
                    pid + " THEN INSERT INTO " + log + " VALUES (tg_tag); END IF; END $f$");
    admin().Execute("CREATE EVENT TRIGGER " + event_trigger_ +
                    " ON ddl_command_start EXECUTE FUNCTION " + settings().Qualify("count_ddl") +
                    "()");
  }
  std::int64_t DdlSeen() { return Count("SELECT count(*) FROM " + settings().Qualify("ddl_seen")); }

  std::vector<std::string> Whats(const MigrationPlan& plan) {
    std::vector<std::string> out;
    for (const auto& step : plan.steps) out.push_back(step.what);
    return out;
  }
  std::string Q(const std::string& name) { return settings().Qualify(name); }

  std::string event_trigger_;
};

TEST_F(SchemaMigrateTest, ACurrentSchemaGetsNoDdlAtAll) {
  Install();
  ConnectionDriver db(Options());
  const std::string pid = db.Fetch("SELECT pg_backend_pid() AS pid").Text(0, "pid");
  CountDdlOf(pid);
  Schema schema(settings());
  EXPECT_TRUE(schema.Plan(db).current());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(schema.Migrate(db), MigrateOutcome::kCurrent);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(DdlSeen(), 0) << "a migration of a current schema must not run DDL";
  std::cout << "migrate on a current schema: "
            << std::chrono::duration_cast<std::chrono::microseconds>(took).count() / 1000.0
            << " ms, 0 DDL statements\n";

  // The counter works: PgQueuer's idempotent upgrade, on the same session,
  // is seen issuing its DDL.
  schema.Upgrade(db);
  EXPECT_GE(DdlSeen(), 20);
}

TEST_F(SchemaMigrateTest, AnOlderSchemaGetsExactlyWhatItLacks) {
  Install();
  Schema schema(settings());
  admin().Execute("DROP INDEX " + Q("pgqueuer_ep_ea_idx"));
  admin().Execute("ALTER TABLE " + settings().QueueTable() + " DROP COLUMN attempts");
  admin().Execute("ALTER TABLE " + settings().LogTable() + " DROP COLUMN traceback");
  admin().Execute("DROP TRIGGER " + settings().trigger + " ON " + settings().QueueTable());

  const auto plan = schema.Plan(admin());
  EXPECT_FALSE(plan.install);
  EXPECT_THAT(Whats(plan), ElementsAre("add column " + settings().QueueTable() + ".attempts",
                                       "add column " + settings().LogTable() + ".traceback",
                                       "create trigger " + settings().trigger,
                                       "create index " + Q("pgqueuer_ep_ea_idx") + " concurrently"));
  EXPECT_TRUE(plan.steps[3].concurrent);
  EXPECT_THAT(plan.steps[3].statements.front(), HasSubstr("CREATE INDEX CONCURRENTLY"));
  EXPECT_FALSE(schema.Verify(admin()).ok());

  EXPECT_EQ(schema.Migrate(admin()), MigrateOutcome::kUpgraded);
  const auto verified = schema.Verify(admin());
  EXPECT_THAT(verified.differences, IsEmpty());
  EXPECT_TRUE(schema.Plan(admin()).current());
  EXPECT_EQ(schema.Migrate(admin()), MigrateOutcome::kCurrent);
}

TEST_F(SchemaMigrateTest, AnInvalidOrStaleIndexIsRebuilt) {
  Install();
  Schema schema(settings());
  // What a failed CREATE INDEX CONCURRENTLY leaves behind.
  admin().Execute("UPDATE pg_index SET indisvalid = false WHERE indexrelid = '" +
                  Q("pgqueuer_ep_prio_id_idx") + "'::regclass");
  // An older definition of the log's worklist index.
  admin().Execute("DROP INDEX " + Q("pgqueuer_log_not_aggregated"));
  admin().Execute("CREATE INDEX pgqueuer_log_not_aggregated ON " + settings().LogTable() +
                  " (created) WHERE NOT aggregated");
  const auto report = schema.Verify(admin());
  EXPECT_THAT(report.differences, Contains(HasSubstr("invalid")));
  EXPECT_THAT(report.differences, Contains(HasSubstr("stale definition")));

  const auto plan = schema.Plan(admin());
  EXPECT_THAT(Whats(plan), Contains(HasSubstr("drop index " + Q("pgqueuer_ep_prio_id_idx"))));
  EXPECT_THAT(Whats(plan), Contains(HasSubstr("create index " + Q("pgqueuer_log_not_aggregated"))));
  schema.Migrate(admin());
  EXPECT_EQ(Count("SELECT count(*) FROM pg_index WHERE NOT indisvalid AND indrelid = '" +
                  settings().QueueTable() + "'::regclass"),
            0);
  EXPECT_THAT(Scalar("SELECT pg_get_indexdef('" + Q("pgqueuer_log_not_aggregated") +
                     "'::regclass)"),
              HasSubstr("((1)) WHERE (NOT aggregated)"));
  EXPECT_TRUE(schema.Plan(admin()).current());
}

// An ALTER TABLE that cannot get its lock gives up after lock_timeout and
// retries, so the fleet's statements never wait behind it for longer; it
// finishes once the lock holder is gone.
TEST_F(SchemaMigrateTest, ALockHeldElsewhereIsWaitedOutWithRetries) {
  Install();
  Schema schema(settings());
  admin().Execute("ALTER TABLE " + settings().QueueTable() + " DROP COLUMN attempts");
  // An open transaction that read the queue: ACCESS SHARE until it commits.
  pqxx::connection holder(dsn_);
  auto open = std::make_unique<pqxx::work>(holder);
  open->exec("SELECT count(*) FROM " + settings().QueueTable());

  std::mutex mu;
  std::vector<std::string> messages;
  std::promise<void> retried;
  bool told = false;
  MigrateOptions options;
  options.lock_timeout = std::chrono::milliseconds(100);
  options.backoff = std::chrono::milliseconds(50);
  options.backoff_max = std::chrono::milliseconds(100);
  options.attempts = 1000;
  options.progress = [&](const std::string& message) {
    std::lock_guard lock(mu);
    messages.push_back(message);
    if (message.find("retrying") != std::string::npos && !told) {
      told = true;
      retried.set_value();
    }
  };
  auto migration = std::async(std::launch::async, [&] {
    ConnectionDriver db(Options());
    return schema.Migrate(db, options);
  });
  ASSERT_EQ(retried.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  // While the migration retries, enqueues still go through.
  ConnectionDriver producer(Options());
  producer.Execute("INSERT INTO " + settings().QueueTable() +
                   " (priority, status, entrypoint) VALUES (0, 'queued', 'during')");
  open->commit();
  EXPECT_EQ(migration.get(), MigrateOutcome::kUpgraded);
  EXPECT_TRUE(schema.VerifyForWorker(admin()).ok());
  std::lock_guard lock(mu);
  EXPECT_THAT(messages, Contains(HasSubstr("lock not granted within 100 ms")));
  // lock_timeout is put back on the session afterwards.
}

TEST_F(SchemaMigrateTest, GivingUpAfterTheLastAttemptLeavesTheSchemaAsItWas) {
  Install();
  Schema schema(settings());
  admin().Execute("ALTER TABLE " + settings().QueueTable() + " DROP COLUMN attempts");
  pqxx::connection holder(dsn_);
  auto open = std::make_unique<pqxx::work>(holder);
  open->exec("SELECT count(*) FROM " + settings().QueueTable());
  MigrateOptions options;
  options.lock_timeout = std::chrono::milliseconds(50);
  options.backoff = std::chrono::milliseconds(10);
  options.attempts = 3;
  ConnectionDriver db(Options());
  try {
    schema.Migrate(db, options);
    ADD_FAILURE() << "the migration should give up";
  } catch (const Error& e) {
    EXPECT_EQ(e.sqlstate(), "55P03") << e.what();
  }
  open->commit();
  EXPECT_FALSE(schema.VerifyForWorker(admin()).ok());
  EXPECT_EQ(db.Fetch("SHOW lock_timeout").Text(0, "lock_timeout"), "0")
      << "the session's lock_timeout is restored";
}

TEST_F(SchemaMigrateTest, ANewerPgQueuerSchemaIsRefused) {
  for (const std::string added : {"slot", "cancel_requested"}) {
    SCOPED_TRACE(added);
    Install();
    Schema schema(settings());
    admin().Execute("ALTER TABLE " + settings().QueueTable() + " ADD COLUMN " + added +
                    (added == "slot" ? " INT" : " BOOLEAN NOT NULL DEFAULT FALSE"));
    if (added == "slot") {
      admin().Execute("CREATE UNIQUE INDEX pgqueuer_picked_slot_idx ON " +
                      settings().QueueTable() + " (entrypoint, slot) WHERE status = 'picked'");
    }
    const auto worker = schema.VerifyForWorker(admin());
    EXPECT_TRUE(worker.incompatible());
    ASSERT_EQ(worker.differences.size(), 1u);
    EXPECT_THAT(worker.differences[0], HasSubstr("column " + settings().QueueTable() + "." + added));
    EXPECT_THAT(worker.differences[0], HasSubstr("PgQueuer 1.3.x"));
    if (added == "slot") {
      EXPECT_THAT(worker.differences[0], HasSubstr("pgqueuer_picked_slot_idx"));
    }
    EXPECT_TRUE(schema.Verify(admin()).incompatible());
    try {
      schema.Migrate(admin());
      ADD_FAILURE() << "migrate must refuse";
    } catch (const SchemaIncompatibleError& e) {
      EXPECT_THAT(e.found(), Contains("column " + settings().QueueTable() + "." + added));
    }
    admin().Execute(Schema::Render(schema.UninstallStatements()));
  }
}

TEST_F(SchemaMigrateTest, VerifyListsObjectsItDoesNotKnowAndToleratesThem) {
  Install();
  Schema schema(settings());
  admin().Execute("CREATE INDEX my_own_idx ON " + settings().LogTable() + " (entrypoint)");
  admin().Execute("ALTER TABLE " + settings().StatisticsTable() + " ADD COLUMN note TEXT");
  const auto report = schema.Verify(admin());
  EXPECT_TRUE(report.ok());
  EXPECT_FALSE(report.incompatible());
  EXPECT_THAT(report.extras, Contains(HasSubstr("my_own_idx")));
  EXPECT_THAT(report.extras, Contains("column " + settings().StatisticsTable() + ".note"));
  EXPECT_TRUE(schema.Plan(admin()).current());
}

}  // namespace
}  // namespace pgq
