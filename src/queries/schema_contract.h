#pragma once
// The schema contract: the one declared list of the objects pgq expects of a
// PgQueuer 1.3.x schema (tables, columns with their types, enum labels,
// indexes, the trigger function and the trigger), what `pgq install` creates
// from it, what `pgq verify` and a starting worker check against it, and what
// `pgq migrate` adds when something is missing or stale. Objects of a newer
// PgQueuer schema (the `slot` column and its `*_picked_slot_idx`,
// `cancel_requested`, any other column pgq does not know on the queue table,
// an unknown job status) make the schema incompatible: pgq refuses it.

#include <string_view>
#include <string>
#include <vector>

#include "pgq/settings.h"

namespace pgq::detail {

/// The PgQueuer schema versions pgq speaks, for messages and docs.
inline constexpr std::string_view kSpokenPgQueuerSchemas = "PgQueuer 1.3.x";

struct ExpectedColumn {
  std::string table;                ///< bare table name
  std::string name;
  std::vector<std::string> types;   ///< accepted, as the catalog query prints them
  std::string add_statement;        ///< schema_column_* file that adds it; empty: not addable
  bool worker_needs = true;         ///< a worker refuses to start without it
};

struct ExpectedIndex {
  std::string table;       ///< bare table name
  std::string name;        ///< bare index name
  std::string statement;   ///< schema_index_* file; empty for a constraint's index
  bool required = true;    ///< false: known (PgQueuer creates it sometimes), never required
  bool worker_needs = false;
  /// Non-empty: pg_get_indexdef must end with this, else the index is stale.
  std::string definition_suffix;
};

struct SchemaContract {
  std::vector<std::string> tables;  ///< queue, log, statistics, schedules (bare)
  std::vector<ExpectedColumn> columns;
  std::vector<std::string> status_labels;  ///< in PgQueuer's order
  std::vector<ExpectedIndex> indexes;
  std::string function_body;  ///< the trigger function's prosrc as pgq writes it
  /// What a current trigger function's body must contain: the channel and the
  /// event type it sends. Bodies are compared by these, not byte for byte,
  /// since PgQueuer's own install writes the same function with other
  /// comments and layout.
  std::vector<std::string> function_markers;
  std::string trigger_detail; ///< tgtype and function name, as the catalog query prints them
};

/// The contract for the object names of `s`.
SchemaContract ContractFor(const DBSettings& s);

/// `index`'s CREATE statement: {concurrently} and {if_not_exists} as given.
std::string IndexStatement(const DBSettings& s, const ExpectedIndex& index, bool concurrently,
                           bool if_not_exists);

/// schema_widen_id.sql for table `table` (bare name).
std::string WidenIdStatement(const DBSettings& s, const std::string& table);

/// The trigger function's body (between the dollar quotes) as rendered for `s`.
std::string FunctionBody(const std::string& create_function_statement);

}  // namespace pgq::detail
