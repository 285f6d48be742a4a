#pragma once
// The queue's statements as written in src/queries/sql/*.sql, embedded at
// build time (cmake/PgqEmbedSql.cmake). Object names are `{placeholders}`
// there; statements.cc and retention_queries.cc render them once per
// DBSettings.

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pgq/settings.h"
#include "sql/statement_template.h"

namespace pgq::detail {

struct NamedSql {
  std::string_view name;  ///< the file name without `.sql`
  std::string_view text;  ///< without the file's `--` comment lines
};

/// Every embedded statement, sorted by name (generated: embedded_sql.cc).
std::span<const NamedSql> SqlFiles() noexcept;

/// The statement `name`; throws LogicError when there is no such file.
std::string_view SqlFile(std::string_view name);

/// The object names of `s` under the placeholders the files use:
/// {queue_table}, {log_table}, {statistics_table}, {schedules_table},
/// {status_type}, the same names as quoted literals, {queue_table_literal}
/// and so on (for hashtext() and ::regclass), the trigger's {function} and
/// {trigger}, and the NOTIFY channel as {channel_literal}.
std::vector<std::pair<std::string_view, std::string>> ObjectNames(const DBSettings& s);

/// Statement `name` with the object names of `s` (and `more`) written in;
/// any other placeholders are left for StatementTemplate::Render per call.
StatementTemplate SqlTemplate(std::string_view name, const DBSettings& s,
                              std::vector<std::pair<std::string_view, std::string>> more = {});

/// Statement `name` fully rendered: a placeholder left without a value
/// throws LogicError (a file and its caller disagree).
std::string SqlStatement(std::string_view name, const DBSettings& s,
                         std::vector<std::pair<std::string_view, std::string>> more = {});

}  // namespace pgq::detail
