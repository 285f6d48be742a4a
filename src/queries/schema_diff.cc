#include "queries/schema_diff.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "queries/sql_files.h"
#include "sql/literals.h"

namespace pgq::detail {
namespace {

bool Contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// PgQueuer's later schemas name their slot index so; pgq never creates one.
constexpr std::string_view kSlotIndexSuffix = "_picked_slot_idx";

}  // namespace

std::vector<CatalogRow> ReadCatalog(Executor& db, const DBSettings& s) {
  const std::vector<std::string> tables = {s.queue_table, s.queue_table_log, s.statistics_table,
                                           s.schedules_table};
  const std::string sql = SqlStatement("schema_catalog", s, {{"schema_expr", s.SchemaExpr()}});
  const Rows rows = db.Fetch(sql, {ArrayLiteral(tables), s.queue_status_type, s.function});
  std::vector<CatalogRow> out;
  out.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out.push_back({rows.Text(i, "kind"), rows.Text(i, "owner"), rows.Text(i, "name"),
                   rows.Text(i, "detail"), rows.Text(i, "valid") == "t"});
  }
  return out;
}

bool SchemaDiff::HasTable(const std::string& table) const {
  return !Contains(missing_tables, table);
}

SchemaDiff Compare(const SchemaContract& contract, const std::vector<CatalogRow>& catalog,
                   const DBSettings& s) {
  SchemaDiff diff;
  std::set<std::string> tables;
  std::map<std::pair<std::string, std::string>, std::string> columns;
  std::map<std::string, const CatalogRow*> indexes;
  std::vector<std::string> labels;
  const CatalogRow* function = nullptr;
  std::vector<const CatalogRow*> triggers;
  for (const auto& row : catalog) {
    if (row.kind == "schema") diff.schema_present = true;
    if (row.kind == "table") tables.insert(row.name);
    if (row.kind == "column") columns[{row.owner, row.name}] = row.detail;
    if (row.kind == "index") indexes[row.name] = &row;
    if (row.kind == "enum_label") labels.push_back(row.name);
    if (row.kind == "function") function = &row;
    if (row.kind == "trigger") triggers.push_back(&row);
  }
  for (const auto& table : contract.tables) {
    if (!tables.contains(table)) diff.missing_tables.push_back(table);
  }

  std::set<std::pair<std::string, std::string>> known_columns;
  for (const auto& column : contract.columns) {
    known_columns.insert({column.table, column.name});
    if (!tables.contains(column.table)) continue;
    const auto found = columns.find({column.table, column.name});
    if (found == columns.end()) {
      diff.missing_columns.push_back(column);
      continue;
    }
    const std::string& type = found->second;
    if (column.name == "id" && type == "integer") diff.narrow_ids.push_back(column.table);
    if (Contains(column.types, type)) continue;
    if (column.table == s.statistics_table && column.name == "status" &&
        type.starts_with("enum:")) {
      diff.statistics_retype = true;
    } else {
      diff.wrong_types.push_back("column " + s.Qualify(column.table) + "." + column.name +
                                 " is " + type + ", pgq expects " + column.types.front());
    }
  }
  for (const auto& [key, type] : columns) {
    if (known_columns.contains(key)) continue;
    const std::string what = "column " + s.Qualify(key.first) + "." + key.second;
    if (key.first == s.queue_table) {
      diff.foreign.push_back(what);
    } else {
      diff.extras.push_back(what);
    }
  }

  for (const auto& label : contract.status_labels) {
    if (!Contains(labels, label)) diff.missing_labels.push_back(label);
  }
  for (const auto& label : labels) {
    if (!Contains(contract.status_labels, label)) {
      diff.foreign.push_back("job status '" + label + "' of " + s.StatusType());
    }
  }

  std::set<std::string> known_indexes;
  for (const auto& index : contract.indexes) {
    known_indexes.insert(index.name);
    if (!tables.contains(index.table)) continue;
    const auto found = indexes.find(index.name);
    if (found == indexes.end()) {
      if (index.required) diff.missing_indexes.push_back(index);
      continue;
    }
    if (index.statement.empty()) continue;  // a constraint's: its table's own
    if (!found->second->valid) {
      diff.rebuild_indexes.push_back({index, "invalid (left by a failed concurrent build)"});
    } else if (!index.definition_suffix.empty() &&
               !EndsWith(found->second->detail, index.definition_suffix)) {
      diff.rebuild_indexes.push_back({index, "stale definition"});
    }
  }
  for (const auto& [name, row] : indexes) {
    if (known_indexes.contains(name)) continue;
    const std::string what = "index " + s.Qualify(name) + " on " + s.Qualify(row->owner);
    if (EndsWith(name, std::string(kSlotIndexSuffix))) {
      diff.foreign.push_back(what);
    } else {
      diff.extras.push_back(what);
    }
  }

  diff.function_missing = function == nullptr;
  diff.function_stale =
      function != nullptr &&
      std::any_of(contract.function_markers.begin(), contract.function_markers.end(),
                  [function](const std::string& marker) {
                    return function->detail.find(marker) == std::string::npos;
                  });
  const CatalogRow* trigger = nullptr;
  for (const auto* row : triggers) {
    if (row->owner == s.queue_table && row->name == s.trigger) {
      trigger = row;
    } else {
      diff.extras.push_back("trigger " + row->name + " on " + s.Qualify(row->owner));
    }
  }
  diff.trigger_missing = trigger == nullptr;
  diff.trigger_stale =
      trigger != nullptr && (trigger->detail != contract.trigger_detail || !trigger->valid);
  diff.status_type_missing = labels.empty();
  return diff;
}

}  // namespace pgq::detail
