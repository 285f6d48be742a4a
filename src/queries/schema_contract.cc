#include "queries/schema_contract.h"

#include "pgq/error.h"
#include "queries/sql_files.h"
#include "sql/literals.h"

namespace pgq::detail {
namespace {

const std::string kBigint = "bigint";
const std::string kInt = "integer";
const std::string kTime = "timestamp with time zone";
const std::string kText = "text";
const std::string kJson = "jsonb";

}  // namespace

SchemaContract ContractFor(const DBSettings& s) {
  const std::string& q = s.queue_table;
  const std::string& l = s.queue_table_log;
  const std::string& st = s.statistics_table;
  const std::string& sc = s.schedules_table;
  const std::string status = "enum:" + s.queue_status_type;
  SchemaContract c;
  c.tables = {q, l, st, sc};
  // Columns in table order; ids may still be int4 (widened only on request).
  c.columns = {
      {q, "id", {kBigint, kInt}, "", true},
      {q, "priority", {kInt}, "", true},
      {q, "queue_manager_id", {"uuid"}, "schema_column_queue_manager", true},
      {q, "created", {kTime}, "", true},
      {q, "updated", {kTime}, "schema_column_queue_updated", true},
      {q, "heartbeat", {kTime}, "schema_column_queue_heartbeat", true},
      {q, "execute_after", {kTime}, "schema_column_queue_execute_after", true},
      {q, "status", {status}, "", true},
      {q, "entrypoint", {kText}, "", true},
      {q, "dedupe_key", {kText}, "schema_column_queue_dedupe_key", true},
      {q, "payload", {"bytea"}, "", true},
      {q, "headers", {kJson}, "schema_column_queue_headers", true},
      {q, "attempts", {kInt}, "schema_column_queue_attempts", true},
      {l, "id", {kBigint}, "", true},
      {l, "created", {kTime}, "", true},
      {l, "job_id", {kBigint}, "", true},
      {l, "status", {status}, "", true},
      {l, "priority", {kInt}, "", true},
      {l, "entrypoint", {kText}, "", true},
      {l, "traceback", {kJson}, "schema_column_log_traceback", true},
      {l, "aggregated", {"boolean"}, "", true},
      {st, "id", {kBigint, kInt}, "", true},
      {st, "created", {kTime}, "", true},
      {st, "count", {kBigint}, "", true},
      {st, "priority", {kInt}, "", true},
      {st, "status", {status}, "", true},  // another enum: retyped by migrate
      {st, "entrypoint", {kText}, "", true},
      {sc, "id", {kBigint, kInt}, "", false},
      {sc, "expression", {kText}, "", false},
      {sc, "entrypoint", {kText}, "", false},
      {sc, "heartbeat", {kTime}, "", false},
      {sc, "created", {kTime}, "", false},
      {sc, "updated", {kTime}, "", false},
      {sc, "next_run", {kTime}, "", false},
      {sc, "last_run", {kTime}, "", false},
      {sc, "status", {status}, "", false},
  };
  c.status_labels = {"queued", "picked", "successful", "exception", "canceled", "deleted",
                     "failed"};
  c.indexes = {
      {q, q + "_pkey", "", true, false, ""},
      {q, q + "_priority_id_id1_idx", "schema_index_queue_priority", true, false, ""},
      {q, q + "_updated_id_id1_idx", "schema_index_queue_updated", true, false, ""},
      {q, q + "_heartbeat_id_id1_idx", "schema_index_queue_heartbeat", false, false, ""},
      {q, q + "_queue_manager_id_idx", "schema_index_queue_manager", true, false, ""},
      {q, q + "_ep_prio_id_idx", "schema_index_queue_ep_prio", true, false, ""},
      {q, q + "_ep_ea_idx", "schema_index_queue_ep_ea", true, false, ""},
      {q, q + "_unique_dedupe_key", "schema_index_queue_dedupe", true, false, ""},
      {l, l + "_pkey", "", true, false, ""},
      {l, l + "_not_aggregated", "schema_index_log_not_aggregated", true, false,
       "USING btree ((1)) WHERE (NOT aggregated)"},
      {l, l + "_created", "schema_index_log_created", true, false, ""},
      {l, l + "_status", "schema_index_log_status", true, false, ""},
      {l, l + "_job_id_status", "schema_index_log_job_id_status", true, true, ""},
      {st, st + "_pkey", "", true, false, ""},
      {st, st + "_unique_count", "schema_index_statistics_unique", true, false, ""},
      {sc, sc + "_pkey", "", true, false, ""},
      {sc, sc + "_expression_entrypoint_key", "", true, false, ""},
  };
  c.function_body = FunctionBody(SqlStatement("schema_trigger_function", s, {{"create", "CREATE"}}));
  c.function_markers = {"pg_notify(", QuoteLiteral(s.channel), "'table_changed_event'"};
  // AFTER, FOR EACH STATEMENT, INSERT (4) | DELETE (8) | UPDATE (16) | TRUNCATE (32).
  c.trigger_detail = "60 " + s.function;
  return c;
}

std::string IndexStatement(const DBSettings& s, const ExpectedIndex& index, bool concurrently,
                           bool if_not_exists) {
  if (index.statement.empty()) {
    throw LogicError("index " + index.name + " belongs to a constraint and has no statement");
  }
  return SqlStatement(index.statement, s,
                      {{"index", index.name},
                       {"concurrently", concurrently ? "CONCURRENTLY " : ""},
                       {"if_not_exists", if_not_exists ? "IF NOT EXISTS " : ""}});
}

std::string WidenIdStatement(const DBSettings& s, const std::string& table) {
  return SqlStatement("schema_widen_id", s,
                      {{"table", s.Qualify(table)},
                       {"table_literal", QuoteLiteral(s.Qualify(table))},
                       {"schema_expr", s.SchemaExpr()},
                       {"table_name_literal", QuoteLiteral(table)}});
}

std::string FunctionBody(const std::string& create_function_statement) {
  constexpr std::string_view kQuote = "$pgq$";
  const auto open = create_function_statement.find(kQuote);
  const auto close =
      open == std::string::npos ? open : create_function_statement.find(kQuote, open + 1);
  if (close == std::string::npos) throw LogicError("the trigger function has no $pgq$ body");
  const auto begin = open + kQuote.size();
  return create_function_statement.substr(begin, close - begin);
}

}  // namespace pgq::detail
