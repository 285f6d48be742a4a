#include "pgq/queries.h"

#include "queries/query_context.h"

namespace pgq {

std::vector<std::pair<std::string, std::string>> WorkerStatements(const DBSettings& settings) {
  const detail::SqlText sql(settings);
  return {{"claim", sql.dequeue_ungated.text()},
          {"claim_gated", sql.dequeue},
          {"complete", sql.complete},
          {"enqueue", sql.enqueue_skip},
          {"enqueue_raise", sql.enqueue_raise}};
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
