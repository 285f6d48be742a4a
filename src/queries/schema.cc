#include "pgq/schema.h"

#include <map>
#include <set>

#include "pgq/error.h"
#include "queries/schema_contract.h"
#include "queries/schema_diff.h"
#include "queries/schema_lock.h"
#include "queries/sql_files.h"
#include "sql/literals.h"

namespace pgq {
namespace {

// The DDL is in sql/schema_*.sql; these fill in what varies per use.
std::string Function(const DBSettings& s, bool replace) {
  return detail::SqlStatement("schema_trigger_function", s,
                              {{"create", replace ? "CREATE OR REPLACE" : "CREATE"}});
}

std::string Trigger(const DBSettings& s) { return detail::SqlStatement("schema_trigger", s); }

std::string Logged(bool unlogged) { return unlogged ? "UNLOGGED TABLE" : "TABLE"; }

// The index statements of `table`, in the contract's order: the required
// ones install creates (a constraint's index comes with its table).
std::vector<std::string> IndexStatements(const DBSettings& s, const std::string& table,
                                         bool if_not_exists) {
  std::vector<std::string> out;
  for (const auto& index : detail::ContractFor(s).indexes) {
    if (index.table == table && index.required && !index.statement.empty()) {
      out.push_back(detail::IndexStatement(s, index, false, if_not_exists));
    }
  }
  return out;
}

// One contract index's statement by its name (for the upgrade's order).
std::string Index(const DBSettings& s, const std::string& name, bool if_not_exists = true) {
  for (const auto& index : detail::ContractFor(s).indexes) {
    if (index.name == name) return detail::IndexStatement(s, index, false, if_not_exists);
  }
  throw LogicError("no index " + name + " in the schema contract");
}

std::string AddColumn(const DBSettings& s, std::string_view file) {
  return detail::SqlStatement(file, s, {{"if_not_exists", "IF NOT EXISTS "}});
}

std::string AddLabel(const DBSettings& s, const std::string& label) {
  return detail::SqlStatement(
      "schema_add_status_label", s,
      {{"if_not_exists", "IF NOT EXISTS "}, {"label_literal", detail::QuoteLiteral(label)}});
}

std::string QueueTableDdl(const DBSettings& s, bool unlogged) {
  return detail::SqlStatement("schema_queue_table", s, {{"table_kind", Logged(unlogged)}});
}

std::string LogTableDdl(const DBSettings& s, bool unlogged, bool if_not_exists) {
  return detail::SqlStatement(
      "schema_log_table", s,
      {{"table_kind", Logged(unlogged)}, {"if_not_exists", if_not_exists ? "IF NOT EXISTS " : ""}});
}

std::string StatisticsTableDdl(const DBSettings& s, bool unlogged) {
  return detail::SqlStatement("schema_statistics_table", s, {{"table_kind", Logged(unlogged)}});
}

std::string SchedulesTableDdl(const DBSettings& s, bool unlogged, bool if_not_exists) {
  return detail::SqlStatement(
      "schema_schedules_table", s,
      {{"table_kind", Logged(unlogged)}, {"if_not_exists", if_not_exists ? "IF NOT EXISTS " : ""}});
}

}  // namespace

Schema::Schema(DBSettings settings) : settings_(std::move(settings)) { settings_.Validate(); }

std::vector<std::string> Schema::InstallStatements(bool create_schema) const {
  const auto& s = settings_;
  const auto policy = PolicyFor(s.durability);
  std::vector<std::string> out;
  if (create_schema && !s.schema.empty()) {
    out.push_back("CREATE SCHEMA IF NOT EXISTS " + s.schema + ";");
  }
  out.push_back(detail::SqlStatement("schema_status_type", s));
  const auto add = [&out](std::vector<std::string> statements) {
    for (auto& statement : statements) out.push_back(std::move(statement));
  };
  out.push_back(QueueTableDdl(s, policy.queue_unlogged));
  add(IndexStatements(s, s.queue_table, false));
  out.push_back(LogTableDdl(s, policy.log_unlogged, false));
  add(IndexStatements(s, s.queue_table_log, false));
  out.push_back(StatisticsTableDdl(s, policy.statistics_unlogged));
  add(IndexStatements(s, s.statistics_table, false));
  out.push_back(SchedulesTableDdl(s, policy.schedules_unlogged, false));
  add(IndexStatements(s, s.schedules_table, false));
  out.push_back(Function(s, false));
  out.push_back(Trigger(s));
  return out;
}

std::vector<std::string> Schema::UninstallStatements() const {
  const auto& s = settings_;
  return {
      "DROP TRIGGER IF EXISTS " + s.trigger + " ON " + s.QueueTable() + ";",
      "DROP FUNCTION IF EXISTS " + s.FunctionName() + ";",
      "DROP TABLE IF EXISTS " + s.QueueTable() + ";",
      "DROP TABLE IF EXISTS " + s.StatisticsTable() + ";",
      "DROP TABLE IF EXISTS " + s.SchedulesTable() + ";",
      "DROP TABLE IF EXISTS " + s.LogTable() + ";",
      "DROP TYPE IF EXISTS " + s.StatusType() + ";",
      "DROP TYPE IF EXISTS " + s.Qualify(s.statistics_table + "_status") + ";",
  };
}

// PgQueuer's upgrade, step for step: every statement idempotent, the
// sequence run in full every time (`pgq upgrade`). `pgq migrate` runs only
// what the catalog lacks instead (schema_migration.cc).
std::vector<std::string> Schema::UpgradeStatements() const {
  const auto& s = settings_;
  const std::string& t = s.queue_table;
  const std::string& l = s.queue_table_log;
  std::vector<std::string> out;
  out.push_back(AddColumn(s, "schema_column_queue_updated"));
  out.push_back(Index(s, t + "_updated_id_id1_idx"));
  out.push_back(Function(s, true));
  out.push_back(AddColumn(s, "schema_column_queue_heartbeat"));
  out.push_back(Index(s, t + "_heartbeat_id_id1_idx"));
  out.push_back(AddColumn(s, "schema_column_queue_manager"));
  out.push_back(Index(s, t + "_queue_manager_id_idx"));
  out.push_back(SchedulesTableDdl(s, false, true));
  out.push_back(AddColumn(s, "schema_column_queue_execute_after"));
  for (const char* label : {"successful", "exception", "canceled", "deleted"}) {
    out.push_back(AddLabel(s, label));
  }
  // Pre-0.27 statistics had their own enum; convert only when still needed
  // (the retype rewrites the table).
  out.push_back("DO $pgq$\nBEGIN\n    IF (SELECT udt_name FROM information_schema.columns\n"
                "        WHERE table_schema = " +
                s.SchemaExpr() + " AND table_name = " + detail::QuoteLiteral(s.statistics_table) +
                " AND column_name = 'status') IS DISTINCT FROM " +
                detail::QuoteLiteral(s.queue_status_type) + " THEN\n        " +
                detail::SqlStatement("schema_statistics_status_retype", s) + "\n    END IF;\nEND $pgq$;");
  // A missing log table is created UNLOGGED, as PgQueuer's upgrade does.
  out.push_back(LogTableDdl(s, true, true));
  out.push_back(Index(s, l + "_not_aggregated"));
  out.push_back(Index(s, l + "_created"));
  out.push_back(Index(s, l + "_status"));
  out.push_back(AddColumn(s, "schema_column_log_traceback"));
  out.push_back(AddColumn(s, "schema_column_queue_dedupe_key"));
  out.push_back(Index(s, t + "_unique_dedupe_key"));
  out.push_back(Index(s, l + "_job_id_status"));
  out.push_back(AddColumn(s, "schema_column_queue_headers"));
  out.push_back(AddColumn(s, "schema_column_queue_attempts"));
  out.push_back(AddLabel(s, "failed"));
  out.push_back(Index(s, t + "_ep_prio_id_idx"));  // the hot dequeue path
  out.push_back(Index(s, t + "_ep_ea_idx"));       // next deferred ETA
  out.push_back(detail::SqlStatement(
      "schema_drop_index", s,
      {{"concurrently", ""}, {"qualified_index", s.Qualify(l + "_not_aggregated")}}));
  out.push_back(Index(s, l + "_not_aggregated"));
  out.push_back(detail::SqlStatement("schema_drop_trigger", s));
  out.push_back(Trigger(s));
  if (s.widen_id) {
    for (const auto& table : {s.queue_table, s.statistics_table, s.schedules_table}) {
      out.push_back(detail::WidenIdStatement(s, table));
    }
  }
  return out;
}

std::vector<std::string> Schema::DurabilityStatements(Durability level) const {
  const auto p = PolicyFor(level);
  auto stmt = [](const std::string& table, bool unlogged) {
    return "ALTER TABLE " + table + " SET " + (unlogged ? "UNLOGGED" : "LOGGED") + ";";
  };
  const auto& s = settings_;
  return {stmt(s.QueueTable(), p.queue_unlogged), stmt(s.LogTable(), p.log_unlogged),
          stmt(s.StatisticsTable(), p.statistics_unlogged),
          stmt(s.SchedulesTable(), p.schedules_unlogged)};
}

std::vector<std::string> Schema::AutovacStatements(bool rollback) const {
  const auto& s = settings_;
  const std::string hot =
      "autovacuum_vacuum_scale_factor = 0.01,\n    autovacuum_vacuum_threshold = 1000,\n"
      "    autovacuum_analyze_scale_factor = 0.02,\n    autovacuum_analyze_threshold = 500,\n"
      "    autovacuum_vacuum_cost_limit = 10000,\n    autovacuum_vacuum_cost_delay = 0,\n"
      "    fillfactor = 70";
  const std::string cold =
      "autovacuum_vacuum_scale_factor = 0.95,\n    autovacuum_vacuum_threshold = 1000000,\n"
      "    autovacuum_analyze_scale_factor = 0.05,\n    autovacuum_analyze_threshold = 10000";
  const std::string hot_reset =
      "autovacuum_vacuum_scale_factor,\n    autovacuum_vacuum_threshold,\n"
      "    autovacuum_analyze_scale_factor,\n    autovacuum_analyze_threshold,\n"
      "    autovacuum_vacuum_cost_limit,\n    autovacuum_vacuum_cost_delay,\n    fillfactor";
  const std::string cold_reset =
      "autovacuum_vacuum_scale_factor,\n    autovacuum_vacuum_threshold,\n"
      "    autovacuum_analyze_scale_factor,\n    autovacuum_analyze_threshold";
  auto alter = [&](const std::string& table, const std::string& body) {
    return "ALTER TABLE " + table + (rollback ? " RESET (\n    " : " SET (\n    ") + body +
           "\n);";
  };
  return {alter(s.QueueTable(), rollback ? hot_reset : hot),
          alter(s.SchedulesTable(), rollback ? hot_reset : hot),
          alter(s.LogTable(), rollback ? cold_reset : cold),
          alter(s.StatisticsTable(), rollback ? cold_reset : cold)};
}

std::string Schema::Render(const std::vector<std::string>& statements) {
  std::string out;
  for (const auto& statement : statements) {
    out += statement;
    out += "\n\n";
  }
  if (!out.empty()) out.pop_back();
  return out;
}

namespace {
void RunAll(Executor& db, const std::vector<std::string>& statements) {
  for (const auto& statement : statements) db.Execute(statement);
}
}  // namespace

void Schema::Install(Executor& db, bool create_schema) const {
  // One multi-statement script: a simple query runs as one implicit
  // transaction, so a failed install leaves nothing half-created.
  detail::WithSchemaLock(db, settings_, [&](Executor& session) {
    session.Execute(Render(InstallStatements(create_schema)));
  });
}

void Schema::Uninstall(Executor& db) const { db.Execute(Render(UninstallStatements())); }

void Schema::Upgrade(Executor& db) const {
  detail::WithSchemaLock(db, settings_,
                         [&](Executor& session) { RunAll(session, UpgradeStatements()); });
}


void Schema::SetDurability(Executor& db, Durability level) const {
  RunAll(db, DurabilityStatements(level));
}

void Schema::Autovac(Executor& db, bool rollback) const {
  RunAll(db, AutovacStatements(rollback));
}

std::string SpokenPgQueuerSchemas() { return std::string(detail::kSpokenPgQueuerSchemas); }

std::string SchemaIncompatibleError::Message(const std::vector<std::string>& found) {
  std::string list;
  for (const auto& item : found) list += (list.empty() ? "" : ", ") + item;
  return "the database holds a PgQueuer schema pgq does not speak (found " + list +
         "; pgq speaks the " + SpokenPgQueuerSchemas() +
         " schema): refusing to run on it, since pgq would ignore what these objects enforce "
         "(a newer PgQueuer's slot-based concurrency limits, cancellation requests); use a pgq "
         "release that speaks this schema, or a database with a " +
         SpokenPgQueuerSchemas() + " schema";
}

SchemaIncompatibleError::SchemaIncompatibleError(std::vector<std::string> found)
    : LogicError(Message(found)), found_(std::move(found)) {}

VerifyReport Schema::Verify(Executor& db, Expect expect) const {
  const auto& s = settings_;
  const auto contract = detail::ContractFor(s);
  const auto diff = detail::Compare(contract, detail::ReadCatalog(db, s), s);
  VerifyReport report;
  auto& out = report.differences;
  if (expect == Expect::kAbsent) {
    for (const auto& table : contract.tables) {
      if (diff.HasTable(table)) out.push_back("table " + s.Qualify(table) + " still exists");
    }
    if (!diff.function_missing) out.push_back("function " + s.FunctionName() + " still exists");
    if (!diff.trigger_missing) out.push_back("trigger " + s.trigger + " still exists");
    return report;
  }
  for (const auto& table : diff.missing_tables) out.push_back("table " + s.Qualify(table) + " is missing");
  for (const auto& column : diff.missing_columns) {
    out.push_back("column " + s.Qualify(column.table) + "." + column.name + " is missing");
  }
  for (const auto& wrong : diff.wrong_types) out.push_back(wrong);
  if (diff.statistics_retype) {
    out.push_back("column " + s.StatisticsTable() + ".status is not of type " + s.StatusType());
  }
  if (diff.status_type_missing) {
    out.push_back("type " + s.StatusType() + " is missing");
  } else {
    for (const auto& label : diff.missing_labels) {
      out.push_back("enum label '" + label + "' of " + s.StatusType() + " is missing");
    }
  }
  for (const auto& index : diff.missing_indexes) {
    out.push_back("index " + s.Qualify(index.name) + " is missing");
  }
  for (const auto& rebuild : diff.rebuild_indexes) {
    out.push_back("index " + s.Qualify(rebuild.index.name) + " is " + rebuild.reason);
  }
  if (diff.function_missing) out.push_back("function " + s.FunctionName() + " is missing");
  if (diff.function_stale) out.push_back("function " + s.FunctionName() + " has a stale body");
  if (diff.trigger_missing) out.push_back("trigger " + s.trigger + " is missing");
  if (diff.trigger_stale) out.push_back("trigger " + s.trigger + " is stale");
  if (!diff.foreign.empty()) out.push_back(SchemaIncompatibleError::Message(diff.foreign));
  report.extras = diff.extras;
  report.foreign = diff.foreign;
  return report;
}

VerifyReport Schema::VerifyForWorker(Executor& db) const {
  const auto& s = settings_;
  const auto contract = detail::ContractFor(s);
  const auto diff = detail::Compare(contract, detail::ReadCatalog(db, s), s);
  VerifyReport report;
  if (!diff.foreign.empty()) {
    // Not waited out: a newer PgQueuer schema does not become 1.3 by itself.
    report.foreign = diff.foreign;
    report.differences.push_back(SchemaIncompatibleError::Message(diff.foreign));
    return report;
  }
  auto need = [&](const std::string& what) {
    report.differences.push_back(what + " is missing (run `pgq migrate`)");
  };
  for (const auto& table : {s.queue_table, s.statistics_table, s.queue_table_log}) {
    if (!diff.HasTable(table)) need("table " + s.Qualify(table));
  }
  for (const auto& column : diff.missing_columns) {
    if (column.worker_needs) need("column " + s.Qualify(column.table) + "." + column.name);
  }
  for (const auto& index : diff.missing_indexes) {
    if (index.worker_needs) need("index " + index.name);
  }
  if (diff.status_type_missing) {
    need("type " + s.StatusType());
  } else {
    for (const auto& label : diff.missing_labels) {
      need("enum label '" + label + "' of " + s.StatusType());
    }
  }
  return report;
}

}  // namespace pgq
