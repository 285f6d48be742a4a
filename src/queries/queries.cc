#include "pgq/queries.h"

#include "queries/query_context.h"
#include "queries/sql_files.h"

namespace pgq {

std::vector<std::pair<std::string, std::string>> WorkerStatements(const DBSettings& settings) {
  settings.Validate();
  std::vector<std::pair<std::string, std::string>> out;
  for (const char* name : {"claim", "claim_gated", "complete", "enqueue", "enqueue_raise"}) {
    out.emplace_back(name, detail::SqlTemplate(name, settings).text());
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> AllStatements(const DBSettings& settings) {
  settings.Validate();
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& file : detail::SqlFiles()) {
    out.emplace_back(file.name, detail::SqlTemplate(file.name, settings).text());
  }
  return out;
}

Queries::Queries(Driver& driver, DBSettings settings)
    : Queries(driver, detail::MakeQueryContext(driver, &driver, std::move(settings))) {}

Queries::Queries(Driver& driver, std::shared_ptr<const detail::QueryContext> context)
    : ProducerQueries(context),
      JobQueries(context),
      ScheduleQueries(context),
      AdminQueries(context),
      driver_(driver) {}

}  // namespace pgq
