#include "queries/query_context.h"

#include "pgq/error.h"

namespace pgq::detail {
namespace {

DBSettings Validated(DBSettings settings) {
  settings.Validate();
  return settings;
}

}  // namespace

QueryContext::QueryContext(Executor& executor_in, Driver* driver_in, DBSettings settings_in)
    : executor(executor_in),
      driver_or_null(driver_in),
      settings(Validated(std::move(settings_in))),
      sql(settings) {}

Driver& QueryContext::driver() const {
  if (!driver_or_null) throw LogicError("this operation needs a Driver, not only an Executor");
  return *driver_or_null;
}

std::shared_ptr<const QueryContext> MakeQueryContext(Executor& executor, Driver* driver,
                                                     DBSettings settings) {
  return std::make_shared<const QueryContext>(executor, driver, std::move(settings));
}

}  // namespace pgq::detail
