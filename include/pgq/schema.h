#pragma once
/// @file
/// Install, upgrade, uninstall and verify the PgQueuer schema. The SQL is
/// available as text (deterministic, no connection needed) and can be run
/// through any Executor.

#include <string>
#include <vector>

#include "pgq/driver.h"
#include "pgq/settings.h"

namespace pgq {

/// What Verify() found missing (or, for kAbsent, still present).
struct VerifyReport {
  std::vector<std::string> differences;
  bool ok() const noexcept { return differences.empty(); }
};

enum class Expect { kPresent, kAbsent };

/// What Schema::Migrate() did.
enum class MigrateOutcome { kInstalled, kUpgraded };

class Schema {
 public:
  explicit Schema(DBSettings settings);

  /// The full install script, statements separated by blank lines.
  std::vector<std::string> InstallStatements(bool create_schema = true) const;
  std::vector<std::string> UninstallStatements() const;
  /// Idempotent statements; each must run on its own, outside a transaction.
  std::vector<std::string> UpgradeStatements() const;
  std::vector<std::string> DurabilityStatements(Durability level) const;
  std::vector<std::string> AutovacStatements(bool rollback = false) const;

  /// Joins statements as printed by `pgq sql` (one per paragraph).
  static std::string Render(const std::vector<std::string>& statements);

  /// Install, Upgrade and Migrate hold a session-level advisory lock (one
  /// per queue table) while they run, so two of them started at once run one
  /// after the other. Through a PoolDriver they lease one connection for the
  /// lock and the statements; on any other Executor, `db` must be one
  /// session (ConnectionDriver, SyncDriver, a Lease's connection).
  void Install(Executor& db, bool create_schema = true) const;
  void Uninstall(Executor& db) const;
  void Upgrade(Executor& db) const;
  /// Install when the queue table is absent, Upgrade otherwise, decided
  /// under the lock: any number of concurrent Migrate calls all succeed.
  MigrateOutcome Migrate(Executor& db, bool create_schema = true) const;
  void SetDurability(Executor& db, Durability level) const;
  void Autovac(Executor& db, bool rollback = false) const;

  /// `pgq verify`: the four tables, the trigger function and the trigger.
  VerifyReport Verify(Executor& db, Expect expect = Expect::kPresent) const;
  /// What a worker needs before it may start (spec 1.10); empty when fine.
  VerifyReport VerifyForWorker(Executor& db) const;

  const DBSettings& settings() const noexcept { return settings_; }

 private:
  DBSettings settings_;
};

}  // namespace pgq
