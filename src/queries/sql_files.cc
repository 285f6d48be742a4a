#include "queries/sql_files.h"

#include <algorithm>

#include "pgq/error.h"
#include "sql/literals.h"

namespace pgq::detail {

std::string_view SqlFile(std::string_view name) {
  const auto files = SqlFiles();
  const auto it = std::lower_bound(files.begin(), files.end(), name,
                                   [](const NamedSql& f, std::string_view n) { return f.name < n; });
  if (it == files.end() || it->name != name) {
    throw LogicError("no statement file src/queries/sql/" + std::string(name) + ".sql");
  }
  return it->text;
}

std::vector<std::pair<std::string_view, std::string>> ObjectNames(const DBSettings& s) {
  return {{"queue_table", s.QueueTable()},
          {"log_table", s.LogTable()},
          {"statistics_table", s.StatisticsTable()},
          {"schedules_table", s.SchedulesTable()},
          {"status_type", s.StatusType()},
          {"queue_table_literal", QuoteLiteral(s.QueueTable())},
          {"log_table_literal", QuoteLiteral(s.LogTable())},
          {"statistics_table_literal", QuoteLiteral(s.StatisticsTable())},
          {"schedules_table_literal", QuoteLiteral(s.SchedulesTable())},
          {"function", s.FunctionName()},
          {"trigger", s.trigger},
          {"channel_literal", QuoteLiteral(s.channel)}};
}

StatementTemplate SqlTemplate(std::string_view name, const DBSettings& s,
                              std::vector<std::pair<std::string_view, std::string>> more) {
  auto values = ObjectNames(s);
  values.insert(values.end(), std::make_move_iterator(more.begin()),
                std::make_move_iterator(more.end()));
  return StatementTemplate(std::string(SqlFile(name))).Fill(values);
}

std::string SqlStatement(std::string_view name, const DBSettings& s,
                         std::vector<std::pair<std::string_view, std::string>> more) {
  const StatementTemplate statement = SqlTemplate(name, s, std::move(more));
  if (!statement.placeholders().empty()) {
    throw LogicError("statement " + std::string(name) + " has no value for {" +
                     statement.placeholders().front() + "}");
  }
  return statement.text();
}

}  // namespace pgq::detail
