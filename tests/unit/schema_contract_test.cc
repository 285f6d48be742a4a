// The schema contract and the comparison with a catalog, without a server:
// a catalog holding exactly the contract differs in nothing, and each kind
// of difference (missing, stale, invalid, unknown, a newer PgQueuer's) lands
// where Verify, VerifyForWorker and the delta migration look for it.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "pgq/schema.h"
#include "queries/schema_contract.h"
#include "queries/schema_diff.h"

namespace pgq {
namespace {

using detail::CatalogRow;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const DBSettings kSettings = DBSettings::WithPrefix();

// What schema_catalog.sql returns for a schema that is exactly the contract.
std::vector<CatalogRow> CatalogOf(const detail::SchemaContract& c) {
  std::vector<CatalogRow> rows;
  for (const auto& table : c.tables) rows.push_back({"table", table, table, "p", true});
  for (const auto& column : c.columns) {
    rows.push_back({"column", column.table, column.name, column.types.front(), true});
  }
  for (const auto& label : c.status_labels) {
    rows.push_back({"enum_label", kSettings.queue_status_type, label, "", true});
  }
  for (const auto& index : c.indexes) {
    if (!index.required) continue;
    rows.push_back({"index", index.table, index.name,
                    "CREATE INDEX " + index.name + " ON x " + index.definition_suffix, true});
  }
  rows.push_back({"function", "", kSettings.function, c.function_body, true});
  rows.push_back({"trigger", kSettings.queue_table, kSettings.trigger, c.trigger_detail, true});
  return rows;
}

detail::SchemaDiff Diff(const std::vector<CatalogRow>& rows) {
  return detail::Compare(detail::ContractFor(kSettings), rows, kSettings);
}

TEST(SchemaContractTest, TheContractIsWhatInstallCreates) {
  const auto contract = detail::ContractFor(kSettings);
  const std::string install = Schema::Render(Schema(kSettings).InstallStatements());
  for (const auto& index : contract.indexes) {
    if (index.required && !index.statement.empty()) {
      EXPECT_THAT(install, HasSubstr(" " + index.name + " ON ")) << index.name;
    } else if (!index.statement.empty()) {
      EXPECT_THAT(install, ::testing::Not(HasSubstr(index.name))) << "optional: " << index.name;
    }
  }
  for (const auto& column : contract.columns) {
    EXPECT_THAT(install, HasSubstr("    " + column.name + " ")) << column.name;
  }
  EXPECT_THAT(contract.function_body, HasSubstr("table_changed_event"));
  EXPECT_EQ(contract.function_body.find("$pgq$"), std::string::npos);
  for (const auto& marker : contract.function_markers) {
    EXPECT_THAT(contract.function_body, HasSubstr(marker));
  }
}

// PgQueuer's install writes the same function with its own comments and
// layout: current as long as it notifies the configured channel; a function
// baked with another channel is stale.
TEST(SchemaContractTest, TheTriggerFunctionIsComparedByWhatItSends) {
  const auto contract = detail::ContractFor(kSettings);
  auto rows = CatalogOf(contract);
  auto& function = *std::find_if(rows.begin(), rows.end(),
                                 [](const CatalogRow& r) { return r.kind == "function"; });
  function.detail =
      "\n    DECLARE\n        to_emit BOOLEAN := false;  -- Flag\n    BEGIN\n"
      "        IF to_emit THEN\n            PERFORM pg_notify(\n                'ch_pgqueuer',\n"
      "                json_build_object('channel', 'ch_pgqueuer', 'type', "
      "'table_changed_event')::text);\n        END IF;\n        RETURN NULL;\n    END;\n    ";
  EXPECT_FALSE(Diff(rows).function_stale);
  function.detail.replace(function.detail.find("'ch_pgqueuer'"), 13, "'other'");
  function.detail.replace(function.detail.find("'ch_pgqueuer'"), 13, "'other'");
  EXPECT_TRUE(Diff(rows).function_stale);
}

TEST(SchemaContractTest, ACatalogHoldingTheContractDiffersInNothing) {
  const auto diff = Diff(CatalogOf(detail::ContractFor(kSettings)));
  EXPECT_THAT(diff.missing_tables, IsEmpty());
  EXPECT_THAT(diff.missing_columns, IsEmpty());
  EXPECT_THAT(diff.wrong_types, IsEmpty());
  EXPECT_THAT(diff.missing_labels, IsEmpty());
  EXPECT_THAT(diff.missing_indexes, IsEmpty());
  EXPECT_THAT(diff.rebuild_indexes, IsEmpty());
  EXPECT_FALSE(diff.function_missing || diff.function_stale || diff.trigger_missing ||
               diff.trigger_stale || diff.statistics_retype);
  EXPECT_THAT(diff.extras, IsEmpty());
  EXPECT_THAT(diff.foreign, IsEmpty());
}

TEST(SchemaContractTest, EachDifferenceLandsInItsPlace) {
  const auto contract = detail::ContractFor(kSettings);
  auto rows = CatalogOf(contract);
  std::erase_if(rows, [](const CatalogRow& r) {
    return (r.kind == "column" && r.name == "attempts") ||
           (r.kind == "index" && r.name == "pgqueuer_ep_ea_idx");
  });
  for (auto& r : rows) {
    if (r.kind == "index" && r.name == "pgqueuer_ep_prio_id_idx") r.valid = false;
    if (r.kind == "index" && r.name == "pgqueuer_log_not_aggregated") r.detail = "USING btree (created)";
    if (r.kind == "function") r.detail = "BEGIN RETURN NULL; END;";
    if (r.kind == "trigger") r.detail = "61 fn_pgqueuer_changed";
    if (r.kind == "column" && r.owner == "pgqueuer_statistics" && r.name == "status") {
      r.detail = "enum:pgqueuer_statistics_status";
    }
  }
  rows.push_back({"index", "pgqueuer_log", "my_idx", "CREATE INDEX my_idx ...", true});
  rows.push_back({"index", "pgqueuer", "pgqueuer_heartbeat_id_id1_idx", "...", true});
  const auto diff = Diff(rows);
  ASSERT_EQ(diff.missing_columns.size(), 1u);
  EXPECT_EQ(diff.missing_columns[0].name, "attempts");
  ASSERT_EQ(diff.missing_indexes.size(), 1u);
  EXPECT_EQ(diff.missing_indexes[0].name, "pgqueuer_ep_ea_idx");
  ASSERT_EQ(diff.rebuild_indexes.size(), 2u);
  EXPECT_TRUE(diff.function_stale);
  EXPECT_TRUE(diff.trigger_stale);
  EXPECT_TRUE(diff.statistics_retype);
  // Known (PgQueuer's upgrade makes it) is not extra; one of your own is.
  EXPECT_THAT(diff.extras, ElementsAre("index my_idx on pgqueuer_log"));
  EXPECT_THAT(diff.foreign, IsEmpty());
}

TEST(SchemaContractTest, ANewerPgQueuerSchemaIsForeign) {
  auto rows = CatalogOf(detail::ContractFor(kSettings));
  rows.push_back({"column", "pgqueuer", "slot", "integer", true});
  rows.push_back({"column", "pgqueuer", "cancel_requested", "boolean", true});
  rows.push_back({"index", "pgqueuer", "pgqueuer_picked_slot_idx", "...", true});
  rows.push_back({"enum_label", "pgqueuer_status", "cancelling", "", true});
  rows.push_back({"column", "pgqueuer_log", "note", "text", true});
  const auto diff = Diff(rows);
  EXPECT_THAT(diff.foreign, ElementsAre("column pgqueuer.cancel_requested", "column pgqueuer.slot",
                                        "job status 'cancelling' of pgqueuer_status",
                                        "index pgqueuer_picked_slot_idx on pgqueuer"));
  EXPECT_THAT(diff.extras, ElementsAre("column pgqueuer_log.note"));
  const std::string message = SchemaIncompatibleError::Message(diff.foreign);
  EXPECT_THAT(message, HasSubstr("found column pgqueuer.cancel_requested, column pgqueuer.slot"));
  EXPECT_THAT(message, HasSubstr("pgq speaks the PgQueuer 1.3.x schema"));
  EXPECT_EQ(SchemaIncompatibleError(diff.foreign).found(), diff.foreign);
}

TEST(SchemaContractTest, IndexStatementsBuildConcurrentlyOnlyWhenAsked) {
  const auto contract = detail::ContractFor(kSettings);
  const auto& ep_ea = *std::find_if(contract.indexes.begin(), contract.indexes.end(),
                                    [](const auto& i) { return i.name == "pgqueuer_ep_ea_idx"; });
  EXPECT_EQ(detail::IndexStatement(kSettings, ep_ea, true, false),
            "CREATE INDEX CONCURRENTLY pgqueuer_ep_ea_idx ON pgqueuer (entrypoint, execute_after) "
            "WHERE status = 'queued';");
  EXPECT_EQ(detail::IndexStatement(kSettings, ep_ea, false, true),
            "CREATE INDEX IF NOT EXISTS pgqueuer_ep_ea_idx ON pgqueuer (entrypoint, "
            "execute_after) WHERE status = 'queued';");
}

}  // namespace
}  // namespace pgq
