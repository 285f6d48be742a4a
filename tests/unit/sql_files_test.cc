// The statements in src/queries/sql/*.sql: each file is compiled in as
// written (less its comment lines), object names fill every file, and what
// is left are exactly the values each caller writes in per call.

#include "queries/sql_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "pgq/error.h"
#include "queries/statements.h"
#include "support/test_util.h"

namespace pgq {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing_util::LogicErrorMessage;

const std::filesystem::path kSqlDir = std::filesystem::path(PGQ_SOURCE_DIR) / "src/queries/sql";

// A file as the build embeds it: comment lines and surrounding blank lines go.
std::string Embedded(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line, text;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t");
    if (first != std::string::npos && line.compare(first, 2, "--") == 0) continue;
    if (text.empty() && first == std::string::npos) continue;
    text += line + "\n";
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

DBSettings Qualified() {
  DBSettings s = DBSettings::WithPrefix("app_");
  s.schema = "jobs";
  return s;
}

TEST(SqlFilesTest, EveryFileIsEmbeddedAsWrittenWithoutItsComments) {
  std::set<std::string> on_disk;
  for (const auto& entry : std::filesystem::directory_iterator(kSqlDir)) {
    if (entry.path().extension() != ".sql") continue;
    const std::string name = entry.path().stem().string();
    on_disk.insert(name);
    const std::string text = Embedded(entry.path());
    EXPECT_EQ(detail::SqlFile(name), text) << name << ".sql: rebuild, the embedded copy is stale";
    EXPECT_THAT(text, Not(HasSubstr("\n--"))) << name;
  }
  std::set<std::string> embedded;
  for (const auto& file : detail::SqlFiles()) embedded.emplace(file.name);
  EXPECT_EQ(on_disk, embedded);
  EXPECT_GE(embedded.size(), 30u);
}

TEST(SqlFilesTest, NamesAreSortedAndAnUnknownNameIsALogicError) {
  const auto files = detail::SqlFiles();
  EXPECT_TRUE(std::is_sorted(files.begin(), files.end(),
                             [](const auto& a, const auto& b) { return a.name < b.name; }));
  EXPECT_THAT(LogicErrorMessage([] { detail::SqlFile("no_such_statement"); }),
              HasSubstr("src/queries/sql/no_such_statement.sql"));
}

TEST(SqlFilesTest, ObjectNamesFillEveryFileLeavingOnlyPerCallValues) {
  // What each caller writes in per call or per form; every other file is
  // complete once the object names are in.
  const std::map<std::string, std::set<std::string>> per_call = {
      {"claim", {"batch", "entrypoints", "heartbeat_timeout"}},
      {"analyze_queue", {"min_changes"}},
      {"aggregate", {"guard"}},
      {"list_failed", {"order"}},
      {"truncate", {"table"}},
      {"prune_log_batch",
       {"lock_timeout_ms", "statement_timeout_ms", "older_than", "after", "after_id", "batch",
        "dry_run"}},
      {"prune_held_batch",
       {"lock_timeout_ms", "statement_timeout_ms", "older_than", "after_id", "batch", "dry_run"}},
      {"reindex_index", {"index"}},
      {"prune_statistics_batch", {"lock_timeout_ms", "statement_timeout_ms", "older_than", "batch"}},
      {"prune_statistics_count", {"lock_timeout_ms", "statement_timeout_ms", "older_than"}},
      {"schema_queue_table", {"table_kind"}},
      {"schema_log_table", {"table_kind", "if_not_exists"}},
      {"schema_statistics_table", {"table_kind"}},
      {"schema_schedules_table", {"table_kind", "if_not_exists"}},
      {"schema_trigger_function", {"create"}},
      {"schema_index_queue_priority", {"index", "concurrently", "if_not_exists"}},
      {"schema_index_queue_updated", {"index", "concurrently", "if_not_exists"}},
      {"schema_index_queue_heartbeat", {"index", "concurrently", "if_not_exists"}},
      {"schema_index_queue_manager", {"index", "concurrently", "if_not_exists"}},
      {"schema_index_queue_ep_prio", {"index", "concurrently", "if_not_exists"}},
      {"schema_index_queue_ep_ea", {"index", "concurrently", "if_not_exists"}},
      {"schema_index_queue_dedupe", {"index", "concurrently", "if_not_exists"}},
      {"schema_index_log_not_aggregated", {"index", "concurrently", "if_not_exists"}},
      {"schema_index_log_created", {"index", "concurrently", "if_not_exists"}},
      {"schema_index_log_status", {"index", "concurrently", "if_not_exists"}},
      {"schema_index_log_job_id_status", {"index", "concurrently", "if_not_exists"}},
      {"schema_index_statistics_unique", {"index", "concurrently", "if_not_exists"}},
      {"schema_column_queue_updated", {"if_not_exists"}},
      {"schema_column_queue_heartbeat", {"if_not_exists"}},
      {"schema_column_queue_manager", {"if_not_exists"}},
      {"schema_column_queue_execute_after", {"if_not_exists"}},
      {"schema_column_queue_dedupe_key", {"if_not_exists"}},
      {"schema_column_queue_headers", {"if_not_exists"}},
      {"schema_column_queue_attempts", {"if_not_exists"}},
      {"schema_column_log_traceback", {"if_not_exists"}},
      {"schema_add_status_label", {"if_not_exists", "label_literal"}},
      {"schema_drop_index", {"concurrently", "qualified_index"}},
      {"schema_catalog", {"schema_expr"}},
      {"schema_widen_id", {"table", "table_literal", "schema_expr", "table_name_literal"}},
  };
  const DBSettings s = Qualified();
  for (const auto& file : detail::SqlFiles()) {
    const std::string name(file.name);
    const auto left = detail::SqlTemplate(name, s).placeholders();
    const std::set<std::string> names(left.begin(), left.end());
    const auto expected = per_call.find(name);
    EXPECT_EQ(names, expected == per_call.end() ? std::set<std::string>{} : expected->second)
        << name;
  }
}

TEST(SqlFilesTest, RenderedStatementsNameTheQualifiedObjects) {
  const detail::SqlText sql(Qualified());
  EXPECT_THAT(sql.complete, HasSubstr("DELETE FROM jobs.app_pgqueuer WHERE"));
  EXPECT_THAT(sql.complete, HasSubstr("::jobs.app_pgqueuer_status[]"));
  EXPECT_THAT(sql.enqueue_skip, HasSubstr("pg_get_serial_sequence('jobs.app_pgqueuer', 'id')"));
  EXPECT_THAT(sql.aggregate_locked,
              HasSubstr("pg_try_advisory_xact_lock(hashtext('jobs.app_pgqueuer_statistics'))"));
  EXPECT_THAT(sql.aggregate_unlocked, HasSubstr("SELECT TRUE AS won"));
  EXPECT_THAT(sql.list_failed_newest, HasSubstr("ORDER BY j.created DESC, j.id DESC"));
  EXPECT_THAT(sql.list_failed_oldest, HasSubstr("ORDER BY j.created ASC, j.id ASC"));
  EXPECT_EQ(sql.truncate_schedules, "TRUNCATE jobs.app_pgqueuer_schedules");
  EXPECT_THAT(sql.dequeue_ungated.text(), HasSubstr("LIMIT {batch}::bigint"));
  EXPECT_THAT(sql.dequeue_ungated.text(), HasSubstr("INSERT INTO jobs.app_pgqueuer_log "));
  EXPECT_THAT(detail::SqlStatement("schema_trigger", Qualified()),
              HasSubstr("CREATE TRIGGER app_tg_pgqueuer_changed\n"
                        "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON jobs.app_pgqueuer\n"
                        "EXECUTE FUNCTION jobs.app_fn_pgqueuer_changed();"));
}

TEST(SqlFilesTest, AStatementMissingAValueIsALogicError) {
  EXPECT_THAT(LogicErrorMessage([] { detail::SqlStatement("list_failed", Qualified()); }),
              HasSubstr("{order}"));
}

}  // namespace
}  // namespace pgq
