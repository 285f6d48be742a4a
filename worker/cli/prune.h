#pragma once
// `pgq prune`: one retention run from the command line or a Kubernetes
// CronJob (see docs/operations.md#what-pgq-prunes).

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "pgq/driver.h"
#include "pgq/settings.h"

namespace CLI {
class App;
}

namespace pgq::cli {

/// Exit code when another process held the prune lock and nothing was done.
inline constexpr int kExitPruneLocked = 3;

/// What `pgq prune` needs from the global options: where to connect and
/// which queue objects to prune, resolved when the command runs.
struct PruneTarget {
  std::function<ConnectionOptions()> connection;
  std::function<DBSettings()> settings;
};

/// Registers `pgq prune` on `app`; when it is chosen, `action` is set to run it.
void AddPruneCommand(CLI::App& app, std::function<int()>& action, PruneTarget target);

}  // namespace pgq::cli
