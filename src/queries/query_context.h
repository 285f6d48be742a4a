#pragma once
// What the query classes of one Queries share: where statements run, the
// names they use and the statement texts rendered for those names.

#include <memory>

#include "pgq/driver.h"
#include "pgq/settings.h"
#include "queries/statements.h"

namespace pgq::detail {

struct QueryContext {
  /// Validates the settings and renders the statements once.
  QueryContext(Executor& executor_in, Driver* driver_in, DBSettings settings_in);

  /// The driver of a consumer; LogicError on a producer-only context.
  Driver& driver() const;

  Executor& executor;
  Driver* const driver_or_null;  ///< null when built on a bare Executor
  const DBSettings settings;
  const SqlText sql;
};

std::shared_ptr<const QueryContext> MakeQueryContext(Executor& executor, Driver* driver,
                                                     DBSettings settings);

}  // namespace pgq::detail
