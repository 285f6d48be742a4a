#pragma once
// The database's side of the schema contract (schema_contract.h): what the
// catalog holds (schema_catalog.sql), and how it differs from what pgq
// expects. Verify, VerifyForWorker and the delta migration all start here.

#include <string>
#include <vector>

#include "pgq/driver.h"
#include "pgq/settings.h"
#include "queries/schema_contract.h"

namespace pgq::detail {

struct CatalogRow {
  std::string kind;    ///< table, column, index, enum_label, function, trigger
  std::string owner;   ///< the table (or the enum) it belongs to
  std::string name;
  std::string detail;  ///< see schema_catalog.sql
  bool valid = true;
};

std::vector<CatalogRow> ReadCatalog(Executor& db, const DBSettings& s);

struct IndexRebuild {
  ExpectedIndex index;
  std::string reason;  ///< "invalid (a failed concurrent build)", "stale definition"
};

struct SchemaDiff {
  bool schema_present = false;                    ///< the PostgreSQL schema exists
  std::vector<std::string> missing_tables;        ///< bare names
  std::vector<ExpectedColumn> missing_columns;    ///< of tables that exist
  std::vector<std::string> wrong_types;           ///< "column t.c is x, expected y"
  bool statistics_retype = false;                 ///< statistics.status has another enum
  std::vector<std::string> narrow_ids;            ///< tables whose id is still integer
  std::vector<std::string> missing_labels;
  bool status_type_missing = false;               ///< no label at all: the enum is absent
  std::vector<ExpectedIndex> missing_indexes;     ///< of tables that exist
  std::vector<IndexRebuild> rebuild_indexes;
  bool function_missing = false;
  bool function_stale = false;
  bool trigger_missing = false;
  bool trigger_stale = false;
  std::vector<std::string> extras;   ///< unknown, tolerated
  std::vector<std::string> foreign;  ///< a newer PgQueuer schema's

  bool HasTable(const std::string& table) const;
};

SchemaDiff Compare(const SchemaContract& contract, const std::vector<CatalogRow>& catalog,
                   const DBSettings& s);

}  // namespace pgq::detail
