#include "pgq/schema.h"

#include <map>
#include <set>

#include "pgq/error.h"
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

// Index names carry the bare table name (never the schema).
struct IndexDef {
  std::string name;
  std::string sql;  // CREATE [UNIQUE] INDEX {guard}{name} ON ...
};

std::vector<IndexDef> QueueIndexes(const DBSettings& s, bool if_not_exists) {
  const std::string g = if_not_exists ? "IF NOT EXISTS " : "";
  const std::string q = s.QueueTable();
  const std::string t = s.queue_table;
  return {
      {t + "_priority_id_id1_idx", "CREATE INDEX " + g + t + "_priority_id_id1_idx ON " + q +
                                       " (priority ASC, id DESC) INCLUDE (id) WHERE status = "
                                       "'queued';"},
      {t + "_updated_id_id1_idx", "CREATE INDEX " + g + t + "_updated_id_id1_idx ON " + q +
                                      " (updated ASC, id DESC) INCLUDE (id) WHERE status = "
                                      "'picked';"},
      {t + "_queue_manager_id_idx", "CREATE INDEX " + g + t + "_queue_manager_id_idx ON " + q +
                                        " (queue_manager_id) WHERE queue_manager_id IS NOT NULL;"},
      {t + "_ep_prio_id_idx", "CREATE INDEX " + g + t + "_ep_prio_id_idx ON " + q +
                                  " (entrypoint, priority DESC, id ASC) WHERE status = 'queued';"},
      {t + "_ep_ea_idx", "CREATE INDEX " + g + t + "_ep_ea_idx ON " + q +
                             " (entrypoint, execute_after) WHERE status = 'queued';"},
      {t + "_unique_dedupe_key",
       "CREATE UNIQUE INDEX " + g + t + "_unique_dedupe_key ON " + q +
           " (dedupe_key) WHERE ((status IN ('queued', 'picked') AND dedupe_key IS NOT NULL));"},
  };
}

std::vector<std::string> LogIndexes(const DBSettings& s, bool if_not_exists) {
  const std::string g = if_not_exists ? "IF NOT EXISTS " : "";
  const std::string l = s.LogTable();
  const std::string t = s.queue_table_log;
  return {
      "CREATE INDEX " + g + t + "_not_aggregated ON " + l + " ((1)) WHERE NOT aggregated;",
      "CREATE INDEX " + g + t + "_created ON " + l + " (created);",
      "CREATE INDEX " + g + t + "_status ON " + l + " (status);",
      "CREATE INDEX " + g + t + "_job_id_status ON " + l + " (job_id, created DESC);",
  };
}

std::string StatisticsUniqueIndex(const DBSettings& s, bool if_not_exists) {
  return "CREATE UNIQUE INDEX " + std::string(if_not_exists ? "IF NOT EXISTS " : "") +
         s.statistics_table + "_unique_count ON " + s.StatisticsTable() +
         " (\n    priority,\n    DATE_TRUNC('sec', created AT TIME ZONE 'UTC'),\n    status,\n"
         "    entrypoint\n);";
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

std::string WidenId(const DBSettings& s, const std::string& table) {
  const std::string qualified = s.Qualify(table);
  return "DO $pgq$\nBEGIN\n"
         "    IF (SELECT data_type FROM information_schema.columns\n"
         "        WHERE table_schema = " +
         s.SchemaExpr() + " AND table_name = " + detail::QuoteLiteral(table) +
         " AND column_name = 'id') = 'integer' THEN\n"
         "        ALTER TABLE " +
         qualified +
         " ALTER COLUMN id TYPE BIGINT;\n"
         "    END IF;\n"
         "    IF pg_get_serial_sequence(" +
         detail::QuoteLiteral(qualified) +
         ", 'id') IS NOT NULL THEN\n"
         "        EXECUTE format('ALTER SEQUENCE %s AS BIGINT', pg_get_serial_sequence(" +
         detail::QuoteLiteral(qualified) +
         ", 'id'));\n"
         "    END IF;\n"
         "END $pgq$;";
}

std::string Exists(const std::string& sql) { return "SELECT EXISTS (" + sql + ") AS present"; }

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
  out.push_back(QueueTableDdl(s, policy.queue_unlogged));
  for (const auto& index : QueueIndexes(s, false)) out.push_back(index.sql);
  out.push_back(LogTableDdl(s, policy.log_unlogged, false));
  for (auto& index : LogIndexes(s, false)) out.push_back(std::move(index));
  out.push_back(StatisticsTableDdl(s, policy.statistics_unlogged));
  out.push_back(StatisticsUniqueIndex(s, false));
  out.push_back(SchedulesTableDdl(s, policy.schedules_unlogged, false));
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

std::vector<std::string> Schema::UpgradeStatements() const {
  const auto& s = settings_;
  const std::string q = s.QueueTable();
  const std::string t = s.queue_table;
  const std::string status = s.StatusType();
  std::vector<std::string> out;
  out.push_back("ALTER TABLE " + q +
                " ADD COLUMN IF NOT EXISTS updated TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT "
                "NOW();");
  out.push_back("CREATE INDEX IF NOT EXISTS " + t + "_updated_id_id1_idx ON " + q +
                " (updated ASC, id DESC) INCLUDE (id) WHERE status = 'picked';");
  out.push_back(Function(s, true));
  out.push_back("ALTER TABLE " + q +
                " ADD COLUMN IF NOT EXISTS heartbeat TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT "
                "NOW();");
  out.push_back("CREATE INDEX IF NOT EXISTS " + t + "_heartbeat_id_id1_idx ON " + q +
                " (heartbeat ASC, id DESC) INCLUDE (id) WHERE status = 'picked';");
  out.push_back("ALTER TABLE " + q + " ADD COLUMN IF NOT EXISTS queue_manager_id UUID;");
  out.push_back("CREATE INDEX IF NOT EXISTS " + t + "_queue_manager_id_idx ON " + q +
                " (queue_manager_id) WHERE queue_manager_id IS NOT NULL;");
  out.push_back(SchedulesTableDdl(s, false, true));
  out.push_back("ALTER TABLE " + q +
                " ADD COLUMN IF NOT EXISTS execute_after TIMESTAMP WITH TIME ZONE NOT NULL "
                "DEFAULT NOW();");
  for (const char* label : {"successful", "exception", "canceled", "deleted"}) {
    out.push_back("ALTER TYPE " + status + " ADD VALUE IF NOT EXISTS '" + label + "';");
  }
  // Pre-0.27 statistics had their own enum; convert only when still needed
  // (the retype rewrites the table).
  out.push_back("DO $pgq$\nBEGIN\n    IF (SELECT udt_name FROM information_schema.columns\n"
                "        WHERE table_schema = " +
                s.SchemaExpr() + " AND table_name = " + detail::QuoteLiteral(s.statistics_table) +
                " AND column_name = 'status') IS DISTINCT FROM " +
                detail::QuoteLiteral(s.queue_status_type) + " THEN\n        ALTER TABLE " +
                s.StatisticsTable() + " ALTER COLUMN status TYPE " + status +
                " USING status::TEXT::" + status + ";\n    END IF;\nEND $pgq$;");
  // A missing log table is created UNLOGGED, as PgQueuer's upgrade does.
  out.push_back(LogTableDdl(s, true, true));
  auto log_indexes = LogIndexes(s, true);
  out.push_back(log_indexes[0]);
  out.push_back(log_indexes[1]);
  out.push_back(log_indexes[2]);
  out.push_back("ALTER TABLE " + s.LogTable() +
                " ADD COLUMN IF NOT EXISTS traceback JSONB DEFAULT NULL;");
  out.push_back("ALTER TABLE " + q + " ADD COLUMN IF NOT EXISTS dedupe_key TEXT DEFAULT NULL;");
  out.push_back(QueueIndexes(s, true)[5].sql);
  out.push_back(log_indexes[3]);
  out.push_back("ALTER TABLE " + q + " ADD COLUMN IF NOT EXISTS headers JSONB;");
  out.push_back("ALTER TABLE " + q + " ADD COLUMN IF NOT EXISTS attempts INT NOT NULL DEFAULT 0;");
  out.push_back("ALTER TYPE " + status + " ADD VALUE IF NOT EXISTS 'failed';");
  const auto queue_indexes = QueueIndexes(s, true);
  out.push_back(queue_indexes[3].sql);  // ep_prio_id_idx: the hot dequeue path
  out.push_back(queue_indexes[4].sql);  // ep_ea_idx: next deferred ETA
  out.push_back("DROP INDEX IF EXISTS " + s.Qualify(s.queue_table_log + "_not_aggregated") + ";");
  out.push_back(log_indexes[0]);
  out.push_back("DROP TRIGGER IF EXISTS " + s.trigger + " ON " + q + ";");
  out.push_back(Trigger(s));
  if (s.widen_id) {
    for (const auto& table : {s.queue_table, s.statistics_table, s.schedules_table}) {
      out.push_back(WidenId(s, table));
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

namespace {

bool Probe(Executor& db, const std::string& sql, const Params& params) {
  return db.Fetch(sql, params).Text(0, "present") == "t";
}

bool HasTable(Executor& db, const DBSettings& s, const std::string& table) {
  return Probe(db,
               Exists("SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                      "WHERE n.nspname = " +
                      s.SchemaExpr() + " AND c.relname = $1 AND c.relkind IN ('r', 'p')"),
               {table});
}

bool HasColumn(Executor& db, const DBSettings& s, const std::string& table,
               const std::string& column) {
  return Probe(db,
               Exists("SELECT 1 FROM information_schema.columns WHERE table_schema = " +
                      s.SchemaExpr() + " AND table_name = $1 AND column_name = $2"),
               {table, column});
}

bool HasIndex(Executor& db, const DBSettings& s, const std::string& table,
              const std::string& index) {
  return Probe(db,
               Exists("SELECT 1 FROM pg_indexes WHERE schemaname = " + s.SchemaExpr() +
                      " AND tablename = $1 AND indexname = $2"),
               {table, index});
}

bool HasFunction(Executor& db, const DBSettings& s, const std::string& name) {
  return Probe(db,
               Exists("SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                      "WHERE n.nspname = " +
                      s.SchemaExpr() + " AND p.proname = $1"),
               {name});
}

bool HasTrigger(Executor& db, const DBSettings& s, const std::string& name) {
  return Probe(db,
               Exists("SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = " +
                      s.SchemaExpr() + " AND t.tgname = $1"),
               {name});
}

bool HasEnumLabel(Executor& db, const DBSettings& s, const std::string& label) {
  return Probe(db,
               Exists("SELECT 1 FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
                      "JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = " +
                      s.SchemaExpr() + " AND t.typname = $1 AND e.enumlabel = $2"),
               {s.queue_status_type, label});
}

}  // namespace

MigrateOutcome Schema::Migrate(Executor& db, bool create_schema) const {
  auto outcome = MigrateOutcome::kUpgraded;
  detail::WithSchemaLock(db, settings_, [&](Executor& session) {
    if (HasTable(session, settings_, settings_.queue_table)) {
      RunAll(session, UpgradeStatements());
    } else {
      session.Execute(Render(InstallStatements(create_schema)));
      outcome = MigrateOutcome::kInstalled;
    }
  });
  return outcome;
}

VerifyReport Schema::Verify(Executor& db, Expect expect) const {
  const auto& s = settings_;
  VerifyReport report;
  const bool want = expect == Expect::kPresent;
  auto check = [&](bool present, const std::string& what) {
    if (present != want) report.differences.push_back(what + (want ? " is missing" : " still exists"));
  };
  for (const auto& table :
       {s.queue_table, s.queue_table_log, s.statistics_table, s.schedules_table}) {
    check(HasTable(db, s, table), "table " + s.Qualify(table));
  }
  check(HasFunction(db, s, s.function), "function " + s.FunctionName());
  check(HasTrigger(db, s, s.trigger), "trigger " + s.trigger);
  return report;
}

VerifyReport Schema::VerifyForWorker(Executor& db) const {
  const auto& s = settings_;
  VerifyReport report;
  auto need = [&](bool present, const std::string& what) {
    if (!present) report.differences.push_back(what + " is missing (run `pgq upgrade`)");
  };
  const bool queue = HasTable(db, s, s.queue_table);
  need(queue, "table " + s.QueueTable());
  need(HasTable(db, s, s.statistics_table), "table " + s.StatisticsTable());
  const bool log = HasTable(db, s, s.queue_table_log);
  need(log, "table " + s.LogTable());
  if (queue) {
    for (const char* column :
         {"updated", "heartbeat", "queue_manager_id", "execute_after", "headers", "attempts"}) {
      need(HasColumn(db, s, s.queue_table, column),
           "column " + s.QueueTable() + "." + column);
    }
  }
  if (log) {
    need(HasColumn(db, s, s.queue_table_log, "traceback"), "column " + s.LogTable() + ".traceback");
    need(HasIndex(db, s, s.queue_table_log, s.queue_table_log + "_job_id_status"),
         "index " + s.queue_table_log + "_job_id_status");
  }
  for (const char* label : {"canceled", "failed"}) {
    need(HasEnumLabel(db, s, label),
         std::string("enum label '") + label + "' of " + s.StatusType());
  }
  return report;
}

}  // namespace pgq
