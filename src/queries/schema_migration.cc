// The delta migration: Schema::Plan turns the differences between the
// catalog and the schema contract into the few steps that close them, and
// Schema::Migrate runs them under lock discipline. On a current schema the
// plan is empty and nothing but the catalog query reaches the server.
//
// How each kind of step treats a busy queue:
// - columns, enum labels, the statistics retype, new tables: plain DDL, each
//   under lock_timeout, retried with back-off when the lock is not granted in
//   time (so the statement never waits in the lock queue in front of the
//   fleet's claims for longer than lock_timeout);
// - indexes on existing tables: CREATE INDEX CONCURRENTLY (no write lock);
//   an invalid index a failed build left is dropped concurrently and rebuilt;
// - the trigger function and the trigger: one short transaction.
#include <algorithm>
#include <string>
#include <thread>

#include "pgq/schema.h"
#include "queries/schema_diff.h"
#include "queries/schema_lock.h"
#include "queries/sql_files.h"
#include "sql/literals.h"

namespace pgq {
namespace {

using detail::SqlStatement;

// SQLSTATEs worth waiting out: lock_not_available (lock_timeout) and
// deadlock_detected.
bool LockContention(const Error& e) {
  return e.sqlstate() == "55P03" || e.sqlstate() == "40P01";
}

std::string LogKind(bool unlogged) { return unlogged ? "UNLOGGED TABLE" : "TABLE"; }

void AddTableSteps(const DBSettings& s, const detail::SchemaContract& contract,
                   const detail::SchemaDiff& diff, MigrationPlan& plan) {
  const auto policy = PolicyFor(s.durability);
  for (const auto& table : diff.missing_tables) {
    MigrationStep step{"create table " + s.Qualify(table), {}, false, ""};
    if (table == s.queue_table_log) {
      // A missing log table is created UNLOGGED, as PgQueuer's upgrade does.
      step.statements.push_back(SqlStatement(
          "schema_log_table", s, {{"table_kind", LogKind(true)}, {"if_not_exists", ""}}));
    } else if (table == s.statistics_table) {
      step.statements.push_back(SqlStatement(
          "schema_statistics_table", s, {{"table_kind", LogKind(policy.statistics_unlogged)}}));
    } else if (table == s.schedules_table) {
      step.statements.push_back(SqlStatement(
          "schema_schedules_table", s, {{"table_kind", LogKind(false)}, {"if_not_exists", ""}}));
    } else {
      continue;  // the queue table: a full install instead
    }
    // A new table is empty: its indexes are built in the same transaction.
    for (const auto& index : contract.indexes) {
      if (index.table == table && index.required && !index.statement.empty()) {
        step.statements.push_back(detail::IndexStatement(s, index, false, false));
      }
    }
    plan.steps.push_back(std::move(step));
  }
}

void AddColumnSteps(const DBSettings& s, const detail::SchemaDiff& diff, MigrationPlan& plan) {
  for (const auto& column : diff.missing_columns) {
    if (column.add_statement.empty()) continue;  // reported by Verify; not pgq's to add
    plan.steps.push_back({"add column " + s.Qualify(column.table) + "." + column.name,
                          {SqlStatement(column.add_statement, s, {{"if_not_exists", ""}})},
                          false,
                          ""});
  }
  for (const auto& label : diff.missing_labels) {
    plan.steps.push_back({"add job status '" + label + "' to " + s.StatusType(),
                          {SqlStatement("schema_add_status_label", s,
                                        {{"if_not_exists", ""},
                                         {"label_literal", detail::QuoteLiteral(label)}})},
                          true,
                          ""});
  }
  if (diff.statistics_retype) {
    plan.steps.push_back({"retype " + s.StatisticsTable() + ".status to " + s.StatusType() +
                              " (rewrites the table)",
                          {SqlStatement("schema_statistics_status_retype", s)},
                          false,
                          ""});
  }
  if (s.widen_id) {
    for (const auto& table : diff.narrow_ids) {
      plan.steps.push_back({"widen " + s.Qualify(table) + ".id to bigint (rewrites the table)",
                            {detail::WidenIdStatement(s, table)},
                            false,
                            ""});
    }
  }
}

void AddIndexSteps(const DBSettings& s, const detail::SchemaDiff& diff, MigrationPlan& plan) {
  const auto drop = [&s](const std::string& index) {
    return SqlStatement("schema_drop_index", s,
                        {{"concurrently", "CONCURRENTLY "}, {"qualified_index", s.Qualify(index)}});
  };
  for (const auto& rebuild : diff.rebuild_indexes) {
    plan.steps.push_back({"drop index " + s.Qualify(rebuild.index.name) + ": " + rebuild.reason,
                          {drop(rebuild.index.name)},
                          true,
                          ""});
  }
  auto build = diff.missing_indexes;
  for (const auto& rebuild : diff.rebuild_indexes) build.push_back(rebuild.index);
  for (const auto& index : build) {
    if (index.statement.empty() || !diff.HasTable(index.table)) continue;
    plan.steps.push_back({"create index " + s.Qualify(index.name) + " concurrently",
                          {detail::IndexStatement(s, index, true, false)},
                          true,
                          drop(index.name)});
  }
}

void AddTriggerSteps(const DBSettings& s, const detail::SchemaDiff& diff, MigrationPlan& plan) {
  if (!diff.function_missing && !diff.function_stale && !diff.trigger_missing &&
      !diff.trigger_stale) {
    return;
  }
  MigrationStep step{"", {}, false, ""};
  if (diff.function_missing || diff.function_stale) {
    step.what = std::string(diff.function_missing ? "create" : "replace") + " function " +
                s.FunctionName();
    step.statements.push_back(
        SqlStatement("schema_trigger_function", s, {{"create", "CREATE OR REPLACE"}}));
  }
  if (diff.trigger_missing || diff.trigger_stale) {
    step.what += std::string(step.what.empty() ? "" : ", ") +
                 (diff.trigger_missing ? "create" : "replace") + " trigger " + s.trigger;
    if (diff.trigger_stale) step.statements.push_back(SqlStatement("schema_drop_trigger", s));
    step.statements.push_back(SqlStatement("schema_trigger", s));
  }
  plan.steps.push_back(std::move(step));
}

void RunStep(Executor& session, const MigrationStep& step, const MigrateOptions& o) {
  auto backoff = o.backoff;
  for (int attempt = 1;; ++attempt) {
    try {
      // The invalid index a timed-out concurrent build left goes first; its
      // DROP ... CONCURRENTLY waits for locks too, and is retried the same way.
      if (attempt > 1 && !step.before_retry.empty()) session.Execute(step.before_retry);
      if (step.concurrent) {
        for (const auto& statement : step.statements) session.Execute(statement);
      } else {
        session.Execute(Schema::Render(step.statements));
      }
      return;
    } catch (const Error& e) {
      if (!LockContention(e) || attempt >= std::max(1, o.attempts)) throw;
      if (o.progress) {
        o.progress(step.what + ": " + (e.sqlstate() == "55P03" ? "lock not granted within "
                                                               : "deadlock; ") +
                   (e.sqlstate() == "55P03" ? std::to_string(o.lock_timeout.count()) + " ms"
                                            : std::string("")) +
                   ", retrying in " + std::to_string(backoff.count()) + " ms (attempt " +
                   std::to_string(attempt + 1) + " of " + std::to_string(o.attempts) + ")");
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, o.backoff_max);
    }
  }
}

}  // namespace

MigrationPlan Schema::Plan(Executor& db, bool create_schema) const {
  const auto& s = settings_;
  const auto contract = detail::ContractFor(s);
  const auto diff = detail::Compare(contract, detail::ReadCatalog(db, s), s);
  if (!diff.foreign.empty()) throw SchemaIncompatibleError(diff.foreign);
  MigrationPlan plan;
  plan.extras = diff.extras;
  if (!diff.HasTable(s.queue_table)) {
    plan.install = true;
    // CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the
    // schema exists, which a migration role owning only its schema lacks.
    plan.steps.push_back({"install the schema",
                          InstallStatements(create_schema && !diff.schema_present), false, ""});
    return plan;
  }
  // Short statements first, the long concurrent index builds last.
  AddTableSteps(s, contract, diff, plan);
  AddColumnSteps(s, diff, plan);
  AddTriggerSteps(s, diff, plan);
  AddIndexSteps(s, diff, plan);
  return plan;
}

MigrateOutcome Schema::Migrate(Executor& db, bool create_schema) const {
  MigrateOptions options;
  options.create_schema = create_schema;
  return Migrate(db, options);
}

MigrateOutcome Schema::Migrate(Executor& db, const MigrateOptions& options) const {
  auto outcome = MigrateOutcome::kCurrent;
  detail::WithSchemaLock(db, settings_, [&](Executor& session) {
    const MigrationPlan plan = Plan(session, options.create_schema);
    if (plan.current()) return;
    outcome = plan.install ? MigrateOutcome::kInstalled : MigrateOutcome::kUpgraded;
    const std::string set_timeout = SqlStatement("migration_lock_timeout", settings_);
    const std::string timeout = std::to_string(options.lock_timeout.count()) + "ms";
    const std::string previous = session.Fetch(set_timeout, {timeout}).Text(0, "previous");
    try {
      for (const auto& step : plan.steps) {
        if (options.progress) options.progress(step.what);
        RunStep(session, step, options);
      }
    } catch (...) {
      try {
        session.Fetch(set_timeout, {previous});
      } catch (...) {
      }
      throw;
    }
    session.Fetch(set_timeout, {previous});
  });
  return outcome;
}

}  // namespace pgq
