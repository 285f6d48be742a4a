// Schema install / upgrade / uninstall / verify against a real server, and
// the catalog shape PgQueuer 1.3 expects.

#include <gmock/gmock.h>

#include <future>
#include <thread>

#include "pg_fixture.h"
#include "pgq/error.h"

namespace pgq {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::PgTest;

class SchemaTest : public PgTest {
 protected:
  std::vector<std::string> Column(const std::string& sql, const Params& params = {}) {
    auto rows = admin().Fetch(sql, params);
    std::vector<std::string> out;
    for (std::size_t r = 0; r < rows.size(); ++r) out.push_back(rows.At(r, 0).value_or("NULL"));
    return out;
  }
  bool HasTableNow() {
    return Count("SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = $2",
                 {settings().schema, settings().queue_table}) == 1;
  }
  std::string Persistence(const std::string& table) {
    return Scalar(
        "SELECT c.relpersistence FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2",
        {settings().schema, table});
  }
};

TEST_F(SchemaTest, InstallCreatesPgQueuerObjects) {
  Install();
  Schema schema(settings());
  EXPECT_TRUE(schema.Verify(admin()).ok());
  EXPECT_TRUE(schema.VerifyForWorker(admin()).ok());

  // Enum labels in creation order.
  EXPECT_THAT(Column("SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
                     "JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = $1 AND "
                     "t.typname = 'pgqueuer_status' ORDER BY e.enumsortorder",
                     {settings().schema}),
              ElementsAre("queued", "picked", "successful", "exception", "canceled", "deleted",
                          "failed"));

  // Queue columns: name, type, nullability, default.
  EXPECT_THAT(
      Column("SELECT column_name || ' ' || udt_name || ' ' || is_nullable || ' ' || "
             "coalesce(column_default, '-') FROM information_schema.columns WHERE "
             "table_schema = $1 AND table_name = 'pgqueuer' ORDER BY ordinal_position",
             {settings().schema}),
      ElementsAre(::testing::StartsWith("id int8 NO nextval("), "priority int4 NO -",
                  "queue_manager_id uuid YES -", "created timestamptz NO now()",
                  "updated timestamptz NO now()", "heartbeat timestamptz NO now()",
                  "execute_after timestamptz NO now()", "status pgqueuer_status NO -",
                  "entrypoint text NO -", "dedupe_key text YES -", "payload bytea YES -",
                  "headers jsonb YES -", "attempts int4 NO 0"));

  EXPECT_THAT(
      Column("SELECT column_name || ' ' || udt_name || ' ' || is_nullable || ' ' || "
             "coalesce(column_default, '-') || ' ' || is_identity FROM information_schema.columns "
             "WHERE table_schema = $1 AND table_name = 'pgqueuer_log' ORDER BY ordinal_position",
             {settings().schema}),
      ElementsAre("id int8 NO - YES", "created timestamptz NO now() NO", "job_id int8 NO - NO",
                  "status pgqueuer_status NO - NO", "priority int4 NO - NO",
                  "entrypoint text NO - NO", "traceback jsonb YES - NO",
                  "aggregated bool YES false NO"));

  // Index definitions (names use the bare table name).
  const std::string s = settings().schema;
  EXPECT_THAT(
      Column("SELECT indexname || ': ' || regexp_replace(indexdef, '^.* USING ', '') FROM "
             "pg_indexes WHERE schemaname = $1 AND tablename = 'pgqueuer' ORDER BY indexname",
             {s}),
      ElementsAre("pgqueuer_ep_ea_idx: btree (entrypoint, execute_after) WHERE (status = "
                  "'queued'::" + s + ".pgqueuer_status)",
                  "pgqueuer_ep_prio_id_idx: btree (entrypoint, priority DESC, id) WHERE (status "
                  "= 'queued'::" + s + ".pgqueuer_status)",
                  "pgqueuer_pkey: btree (id)",
                  "pgqueuer_priority_id_id1_idx: btree (priority, id DESC) INCLUDE (id) WHERE "
                  "(status = 'queued'::" + s + ".pgqueuer_status)",
                  "pgqueuer_queue_manager_id_idx: btree (queue_manager_id) WHERE "
                  "(queue_manager_id IS NOT NULL)",
                  "pgqueuer_unique_dedupe_key: btree (dedupe_key) WHERE ((status = ANY "
                  "(ARRAY['queued'::" + s + ".pgqueuer_status, 'picked'::" + s +
                      ".pgqueuer_status])) AND (dedupe_key IS NOT NULL))",
                  "pgqueuer_updated_id_id1_idx: btree (updated, id DESC) INCLUDE (id) WHERE "
                  "(status = 'picked'::" + s + ".pgqueuer_status)"));
  EXPECT_THAT(Column("SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = "
                     "'pgqueuer_log' ORDER BY indexname",
                     {s}),
              ElementsAre("pgqueuer_log_created", "pgqueuer_log_job_id_status",
                          "pgqueuer_log_not_aggregated", "pgqueuer_log_pkey",
                          "pgqueuer_log_status"));
  EXPECT_EQ(Scalar("SELECT regexp_replace(indexdef, '^.* USING ', '') FROM pg_indexes WHERE "
                   "schemaname = $1 AND indexname = 'pgqueuer_statistics_unique_count'",
                   {s}),
            "btree (priority, date_trunc('sec'::text, (created AT TIME ZONE 'UTC'::text)), "
            "status, entrypoint)");
  EXPECT_EQ(Scalar("SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = "
                   "c.connamespace WHERE n.nspname = $1 AND c.conname = "
                   "'pgqueuer_schedules_expression_entrypoint_key'",
                   {s}),
            "1");

  // The trigger is statement level (tgtype bit 0 clear) and fires on
  // INSERT (4), DELETE (8), UPDATE (16) and TRUNCATE (32), AFTER.
  EXPECT_EQ(Scalar("SELECT t.tgtype FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN "
                   "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND "
                   "t.tgname = 'tg_pgqueuer_changed'",
                   {s}),
            "60");
}

TEST_F(SchemaTest, VerifyReportsMissingAndAbsent) {
  Schema schema(settings());
  auto missing = schema.Verify(admin(), Expect::kPresent);
  // The four tables, the status type, the function and the trigger.
  EXPECT_EQ(missing.differences.size(), 7u);
  EXPECT_TRUE(schema.Verify(admin(), Expect::kAbsent).ok());
  Install();
  auto present = schema.Verify(admin(), Expect::kAbsent);
  EXPECT_EQ(present.differences.size(), 6u);
  EXPECT_THAT(present.differences.front(), HasSubstr("still exists"));
  schema.Uninstall(admin());
  EXPECT_TRUE(schema.Verify(admin(), Expect::kAbsent).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                  "WHERE n.nspname = $1 AND t.typname = 'pgqueuer_status'",
                  {settings().schema}),
            0);
}

TEST_F(SchemaTest, InstallIsAtomicWhenAnObjectAlreadyExists) {
  admin().Execute("CREATE TABLE " + settings().SchedulesTable() + " (id int)");
  EXPECT_THROW(Install(), DatabaseError);
  // Nothing of the failed install is left behind.
  EXPECT_EQ(Count("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                  "WHERE n.nspname = $1 AND c.relname = 'pgqueuer'",
                  {settings().schema}),
            0);
}

TEST_F(SchemaTest, UpgradeIsIdempotentAndRestoresMissingPieces) {
  Install();
  Schema schema(settings());
  schema.Upgrade(admin());
  schema.Upgrade(admin());
  EXPECT_TRUE(schema.VerifyForWorker(admin()).ok());

  // Simulate an older database: dropped dequeue indexes, missing columns.
  admin().Execute("DROP INDEX " + settings().Qualify("pgqueuer_ep_prio_id_idx"));
  admin().Execute("DROP INDEX " + settings().Qualify("pgqueuer_log_job_id_status"));
  admin().Execute("ALTER TABLE " + settings().QueueTable() + " DROP COLUMN attempts");
  admin().Execute("ALTER TABLE " + settings().QueueTable() + " DROP COLUMN headers");
  auto before = schema.VerifyForWorker(admin());
  EXPECT_THAT(before.differences,
              ::testing::Contains(HasSubstr("pgqueuer_log_job_id_status")));
  EXPECT_THAT(before.differences, ::testing::Contains(HasSubstr(".attempts")));

  schema.Upgrade(admin());
  EXPECT_TRUE(schema.VerifyForWorker(admin()).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = "
                  "'pgqueuer_ep_prio_id_idx'",
                  {settings().schema}),
            1);
}

// Schema changes wait for each other on one advisory lock: two migrations
// queued behind a held lock both succeed once it is released, one installing
// and one upgrading, and an upgrade waits the same way.
TEST_F(SchemaTest, ConcurrentMigrationsWaitForEachOtherAndBothSucceed) {
  ConnectionDriver holder(Options());
  const Params key{settings().QueueTable()};
  holder.Fetch("SELECT pg_advisory_lock(hashtext('pgq.schema'), hashtext($1))", key);
  auto waiting = [&] {
    return Count("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND "
                 "classid::int = hashtext('pgq.schema') AND objid::int = hashtext($1)",
                 key);
  };
  auto migrate = [this] {
    ConnectionDriver db(Options());
    return Schema(settings()).Migrate(db);
  };
  auto first = std::async(std::launch::async, migrate);
  auto second = std::async(std::launch::async, migrate);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (waiting() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(waiting(), 2) << "both migrations should wait on the schema lock";
  EXPECT_FALSE(HasTableNow());  // nothing ran while the lock was held
  holder.Fetch("SELECT pg_advisory_unlock(hashtext('pgq.schema'), hashtext($1))", key);
  const auto a = first.get();
  const auto b = second.get();
  EXPECT_NE(a, b) << "one installs, the other upgrades";
  Schema schema(settings());
  EXPECT_TRUE(schema.Verify(admin()).ok());
  EXPECT_TRUE(schema.VerifyForWorker(admin()).ok());

  // Install and Upgrade take the same lock.
  holder.Fetch("SELECT pg_advisory_lock(hashtext('pgq.schema'), hashtext($1))", key);
  auto upgrade = std::async(std::launch::async, [this] {
    ConnectionDriver db(Options());
    Schema(settings()).Upgrade(db);
  });
  while (waiting() < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(waiting(), 1);
  holder.Fetch("SELECT pg_advisory_unlock(hashtext('pgq.schema'), hashtext($1))", key);
  upgrade.get();
  // The lock is released after each change (also after a failed one).
  EXPECT_THROW(schema.Install(admin(), false), DatabaseError);
  EXPECT_EQ(Count("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                  "classid::int = hashtext('pgq.schema') AND objid::int = hashtext($1)",
                  key),
            0);
}

TEST_F(SchemaTest, UpgradeWidensIntegerIds) {
  Install();
  admin().Execute("ALTER TABLE " + settings().QueueTable() + " ALTER COLUMN id TYPE INT");
  admin().Execute("ALTER SEQUENCE " + settings().Qualify("pgqueuer_id_seq") + " AS INT");
  auto no_widen = settings();
  no_widen.widen_id = false;
  Schema(no_widen).Upgrade(admin());
  const std::string type_sql =
      "SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND "
      "table_name = 'pgqueuer' AND column_name = 'id'";
  EXPECT_EQ(Scalar(type_sql, {settings().schema}), "integer");
  Schema(settings()).Upgrade(admin());
  EXPECT_EQ(Scalar(type_sql, {settings().schema}), "bigint");
  EXPECT_EQ(Scalar("SELECT data_type FROM information_schema.sequences WHERE sequence_schema = "
                   "$1 AND sequence_name = 'pgqueuer_id_seq'",
                   {settings().schema}),
            "bigint");
}

TEST_F(SchemaTest, DurabilityAtInstallAndInPlace) {
  auto volatile_settings = settings();
  volatile_settings.durability = Durability::kVolatile;
  Schema(volatile_settings).Install(admin(), false);
  for (const char* table :
       {"pgqueuer", "pgqueuer_log", "pgqueuer_statistics", "pgqueuer_schedules"}) {
    EXPECT_EQ(Persistence(table), "u") << table;
  }
  auto enqueue = ProducerQueries(admin(), settings());
  NewJob job;
  job.entrypoint = "keep";
  job.payload = "data";
  const auto id = enqueue.Enqueue(job);

  Schema(settings()).SetDurability(admin(), Durability::kBalanced);
  EXPECT_EQ(Persistence("pgqueuer"), "p");
  EXPECT_EQ(Persistence("pgqueuer_log"), "u");
  EXPECT_EQ(Persistence("pgqueuer_statistics"), "u");
  EXPECT_EQ(Persistence("pgqueuer_schedules"), "p");
  Schema(settings()).SetDurability(admin(), Durability::kDurable);
  for (const char* table :
       {"pgqueuer", "pgqueuer_log", "pgqueuer_statistics", "pgqueuer_schedules"}) {
    EXPECT_EQ(Persistence(table), "p") << table;
  }
  // No data lost by the rewrites.
  EXPECT_EQ(Scalar("SELECT convert_from(payload, 'UTF8') FROM " + settings().QueueTable() +
                   " WHERE id = $1",
                   {std::to_string(id)}),
            "data");
}

TEST_F(SchemaTest, AutovacPresetAndRollback) {
  Install();
  Schema schema(settings());
  schema.Autovac(admin());
  const std::string options_sql =
      "SELECT array_to_string(c.reloptions, ',') FROM pg_class c JOIN pg_namespace n ON "
      "n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2";
  EXPECT_THAT(Scalar(options_sql, {settings().schema, "pgqueuer"}),
              HasSubstr("autovacuum_vacuum_scale_factor=0.01"));
  EXPECT_THAT(Scalar(options_sql, {settings().schema, "pgqueuer"}), HasSubstr("fillfactor=70"));
  EXPECT_THAT(Scalar(options_sql, {settings().schema, "pgqueuer_log"}),
              HasSubstr("autovacuum_vacuum_threshold=1000000"));
  schema.Autovac(admin(), /*rollback=*/true);
  EXPECT_EQ(Scalar(options_sql, {settings().schema, "pgqueuer"}), "");
  EXPECT_EQ(Scalar(options_sql, {settings().schema, "pgqueuer_statistics"}), "");
}

TEST_F(SchemaTest, PrefixAndSchemaReachEveryName) {
  auto named = settings();
  named.schema = settings().schema + "_billing";
  named = [&] {
    auto s = DBSettings::WithPrefix("acme_");
    s.schema = named.schema;
    return s;
  }();
  Schema schema(named);
  schema.Install(admin(), /*create_schema=*/true);
  EXPECT_TRUE(schema.Verify(admin()).ok());
  for (const char* table :
       {"acme_pgqueuer", "acme_pgqueuer_log", "acme_pgqueuer_statistics", "acme_pgqueuer_schedules"}) {
    EXPECT_EQ(Count("SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = $2",
                    {named.schema, table}),
              1)
        << table;
  }
  EXPECT_EQ(Count("SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                  "WHERE n.nspname = $1 AND p.proname = 'acme_fn_pgqueuer_changed' AND "
                  "p.prosrc LIKE '%''acme_ch_pgqueuer''%'",
                  {named.schema}),
            1);
  admin().Execute("DROP SCHEMA " + named.schema + " CASCADE");
}

TEST_F(SchemaTest, InstallWithoutCreateSchemaNeedsTheSchema) {
  auto named = settings();
  named.schema = settings().schema + "_absent";
  EXPECT_THROW(Schema(named).Install(admin(), /*create_schema=*/false), DatabaseError);
}

}  // namespace
}  // namespace pgq
