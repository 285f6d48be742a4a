#pragma once
// The options every subcommand shares (--dsn, --prefix, --schema) and what
// the commands derive from them: settings, DSN and a connection.

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "pgq/driver.h"
#include "pgq/settings.h"

namespace pgq::cli {

/// What a subcommand's callback leaves for Main to run after parsing (so
/// parse errors never half-run a command).
using Action = std::function<int()>;

/// Owns the global flags; commands read them once parsing is done.
class GlobalOptions {
 public:
  /// Adds --dsn, --prefix and --schema to `app`.
  void Register(CLI::App& app);

  /// The settings from the environment, --prefix/--schema winning.
  DBSettings Settings() const;
  /// --dsn, else $PGQUEUER_DSN, else $PGDSN, else "" (libpq's PG* variables).
  std::string Dsn() const;
  std::unique_ptr<ConnectionDriver> Connect() const;

 private:
  std::string dsn_;
  std::optional<std::string> prefix_;
  std::optional<std::string> schema_;
};

}  // namespace pgq::cli
