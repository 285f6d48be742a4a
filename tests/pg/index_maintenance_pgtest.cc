// Index health and the reindex remedy against a real server
// (pgq/index_maintenance.h): a log index left sparse by deletes is reported
// far above its estimate, REINDEX INDEX CONCURRENTLY shrinks it back, a dry
// run changes nothing, the fleet-wide lock makes a second process skip, and a
// rebuild that hits its lock_timeout leaves the index as it was and no
// invalid copy behind.

#include <gmock/gmock.h>

#include <set>

#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/transaction>

#include "pg_fixture.h"
#include "pgq/index_maintenance.h"

namespace pgq {
namespace {

using ::testing::HasSubstr;
using testing::QueriesPgTest;

class IndexMaintenanceTest : public QueriesPgTest {
 protected:
  std::string Log() { return settings().LogTable(); }
  std::string PrimaryKey() { return settings().queue_table_log + "_pkey"; }

  // 40,000 log rows, then all but every 100th deleted and vacuumed: the
  // primary key keeps its pages with a few entries each, as held jobs' rows
  // spread over the log leave it.
  void Bloat() {
    admin().Execute("INSERT INTO " + Log() +
                    " (job_id, status, priority, entrypoint, aggregated) SELECT i, 'successful', 0, "
                    "'bloat', TRUE FROM generate_series(1, 40000) AS i");
    admin().Execute("DELETE FROM " + Log() + " WHERE job_id % 100 <> 0");
    admin().Execute("VACUUM ANALYZE " + Log());
  }
  IndexSize Find(const std::vector<IndexSize>& all, const std::string& name) {
    for (const auto& index : all) {
      if (index.index == name) return index;
    }
    ADD_FAILURE() << "no index " << name;
    return {};
  }
  std::int64_t InvalidIndexes() {
    return Count("SELECT count(*) FROM pg_index WHERE indrelid = '" + Log() +
                 "'::regclass AND NOT indisvalid");
  }
  ReindexPolicy Policy() {
    ReindexPolicy policy;
    policy.min_bytes = 0;
    policy.min_ratio = 4;
    policy.lock_timeout = std::chrono::milliseconds(300);
    return policy;
  }
};

TEST_F(IndexMaintenanceTest, ReportsEveryIndexOfTheQueueAndLogTables) {
  IndexMaintenance maintenance(*driver_, settings());
  const auto all = maintenance.Indexes();
  std::set<std::string> tables;
  for (const auto& index : all) {
    tables.insert(index.table);
    EXPECT_GT(index.bytes, 0) << index.index;
    EXPECT_GT(index.estimated_bytes, 0) << index.index;
    EXPECT_THAT(index.qualified, HasSubstr(index.index));
  }
  EXPECT_EQ(tables, (std::set<std::string>{"queue", "log"}));
  EXPECT_EQ(Find(all, PrimaryKey()).table, "log");
  EXPECT_EQ(Find(all, settings().queue_table + "_pkey").table, "queue");
}

TEST_F(IndexMaintenanceTest, RebuildsTheBloatedIndexesConcurrently) {
  Bloat();
  IndexMaintenance maintenance(*driver_, settings());
  const auto bloated = Find(maintenance.Indexes(), PrimaryKey());
  EXPECT_EQ(bloated.entries, 400);
  EXPECT_GT(bloated.BloatRatio(), 10.0) << bloated.bytes << " vs " << bloated.estimated_bytes;

  auto dry = Policy();
  dry.dry_run = true;
  const auto planned = maintenance.ReindexBloated(dry);
  ASSERT_TRUE(planned.ran);
  std::set<std::string> chosen;
  for (const auto& r : planned.indexes) chosen.insert(r.before.index);
  EXPECT_TRUE(chosen.contains(PrimaryKey()));
  EXPECT_FALSE(chosen.contains(settings().queue_table + "_pkey"));  // not bloated
  EXPECT_EQ(Find(maintenance.Indexes(), PrimaryKey()).bytes, bloated.bytes);

  const auto own_lock_timeout = [&] {
    return driver_->Fetch("SHOW lock_timeout").Text(0, "lock_timeout");
  };
  const std::string lock_timeout = own_lock_timeout();
  const auto report = maintenance.ReindexBloated(Policy());
  ASSERT_TRUE(report.ran);
  ASSERT_EQ(report.indexes.size(), planned.indexes.size());
  for (const auto& r : report.indexes) {
    EXPECT_EQ(r.error, "") << r.before.index;
    EXPECT_LT(r.bytes_after, r.before.bytes) << r.before.index;
  }
  const auto rebuilt = Find(maintenance.Indexes(), PrimaryKey());
  EXPECT_LT(rebuilt.bytes * 10, bloated.bytes);
  EXPECT_LT(rebuilt.BloatRatio(), 2.0);
  EXPECT_EQ(InvalidIndexes(), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM " + Log()), 400);
  // The session's own settings are back as they were.
  EXPECT_EQ(own_lock_timeout(), lock_timeout);
  EXPECT_TRUE(maintenance.ReindexBloated(Policy()).indexes.empty());
}

TEST_F(IndexMaintenanceTest, SkipsWhileAnotherProcessHoldsTheReindexLock) {
  Bloat();
  pqxx::connection holder(dsn_);
  pqxx::nontransaction session(holder);
  session.exec("SELECT pg_advisory_lock(hashtext('" + Log() + "'), hashtext('pgq reindex'))");
  IndexMaintenance maintenance(*driver_, settings());
  const auto before = Find(maintenance.Indexes(), PrimaryKey()).bytes;
  const auto report = maintenance.ReindexBloated(Policy());
  EXPECT_FALSE(report.ran);
  EXPECT_TRUE(report.indexes.empty());
  EXPECT_EQ(Find(maintenance.Indexes(), PrimaryKey()).bytes, before);
}

TEST_F(IndexMaintenanceTest, ARebuildThatTimesOutLeavesTheIndexAndNoInvalidCopy) {
  Bloat();
  IndexMaintenance maintenance(*driver_, settings());
  const auto before = Find(maintenance.Indexes(), PrimaryKey());
  {
    // An open transaction that wrote to the log: REINDEX CONCURRENTLY must
    // wait for it after building its copy, and gives up at the lock_timeout.
    pqxx::connection writer(dsn_);
    pqxx::work tx(writer);
    tx.exec("INSERT INTO " + Log() +
            " (job_id, status, priority, entrypoint) VALUES (1, 'queued', 0, 'open')");
    const auto report = maintenance.ReindexBloated(Policy());
    ASSERT_TRUE(report.ran);
    ASSERT_FALSE(report.indexes.empty());
    for (const auto& r : report.indexes) {
      EXPECT_THAT(r.error, HasSubstr("lock timeout")) << r.before.index;
    }
    tx.abort();
  }
  // The index is untouched and valid; whatever invalid copy a failed rebuild
  // could not drop while the writer was open goes with the next run.
  EXPECT_EQ(Find(maintenance.Indexes(), PrimaryKey()).bytes, before.bytes);
  const auto next = maintenance.ReindexBloated(Policy());
  EXPECT_EQ(next.leftovers_error, "");
  EXPECT_EQ(InvalidIndexes(), 0);
  EXPECT_LT(Find(maintenance.Indexes(), PrimaryKey()).bytes, before.bytes);
}

TEST_F(IndexMaintenanceTest, PruneCommandReindexesBloatedIndexes) {
  Bloat();
  const std::string prune = std::string(PGQ_BINARY) + " --dsn '" + dsn_ + "' --schema " +
                            settings().schema + " prune --reindex-bloated --reindex-min-size 0";
  const auto dry = testing::RunCommand(prune + " --dry-run");
  EXPECT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_THAT(dry.output, HasSubstr("would reindex"));
  EXPECT_THAT(dry.output, HasSubstr(PrimaryKey()));
  const auto run = testing::RunCommand(prune);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("reindexed"));
  EXPECT_THAT(run.output, HasSubstr(PrimaryKey()));
  const auto again = testing::RunCommand(prune);
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_THAT(again.output, HasSubstr("no index of"));
}

}  // namespace
}  // namespace pgq
