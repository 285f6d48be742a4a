#pragma once
/// @file
/// Install, upgrade, uninstall and verify the PgQueuer schema. The SQL is
/// available as text (deterministic, no connection needed) and can be run
/// through any Executor.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "pgq/driver.h"
#include "pgq/error.h"
#include "pgq/settings.h"

namespace pgq {

/// What Verify() found missing (or, for kAbsent, still present).
struct VerifyReport {
  std::vector<std::string> differences;
  /// Objects pgq does not know but tolerates (an index of your own, a
  /// PgQueuer index pgq never requires); informational.
  std::vector<std::string> extras;
  /// Objects of a newer PgQueuer schema (also listed in `differences`);
  /// non-empty means incompatible(), and a worker must not start.
  std::vector<std::string> foreign;
  bool ok() const noexcept { return differences.empty(); }
  bool incompatible() const noexcept { return !foreign.empty(); }
};

enum class Expect { kPresent, kAbsent };

/// What Schema::Migrate() did.
enum class MigrateOutcome { kInstalled, kUpgraded, kCurrent };

/// The PgQueuer schema versions pgq speaks ("PgQueuer 1.3.x").
std::string SpokenPgQueuerSchemas();

/// The database carries objects of a PgQueuer schema pgq does not speak
/// (a newer one: the `slot` column, `cancel_requested` ...). Running on it
/// would break the other side's guarantees, so pgq refuses.
class SchemaIncompatibleError : public LogicError {
 public:
  explicit SchemaIncompatibleError(std::vector<std::string> found);
  const std::vector<std::string>& found() const noexcept { return found_; }
  /// The one-line refusal: what was found and which schemas pgq speaks.
  static std::string Message(const std::vector<std::string>& found);

 private:
  std::vector<std::string> found_;
};

/// One change of a delta migration.
struct MigrationStep {
  std::string what;                     ///< "add column pgqueuer.attempts"
  std::vector<std::string> statements;  ///< sent together: one implicit transaction
  /// Runs outside any transaction (CREATE/DROP INDEX CONCURRENTLY, ALTER TYPE).
  bool concurrent = false;
  /// Sent before a retry (drops the invalid index a failed concurrent build left).
  std::string before_retry;
};

/// What `pgq migrate` would do to the database as it is now.
struct MigrationPlan {
  bool install = false;             ///< the queue table is absent: the full install
  std::vector<MigrationStep> steps; ///< empty: the schema is current
  std::vector<std::string> extras;  ///< tolerated unknown objects (informational)
  bool current() const noexcept { return steps.empty(); }
};

/// How Migrate() runs what it must: each statement under a lock_timeout,
/// retried with back-off when it times out waiting for its lock, so a
/// migration waits for a quiet moment instead of queueing the fleet behind it.
struct MigrateOptions {
  bool create_schema = true;
  std::chrono::milliseconds lock_timeout{3000};  ///< 0: wait as long as it takes
  int attempts = 20;                             ///< per step, including the first
  std::chrono::milliseconds backoff{200};        ///< doubled per retry up to backoff_max
  std::chrono::milliseconds backoff_max{5000};
  /// Told about each step before it runs and about each retry (may be empty).
  std::function<void(const std::string& message)> progress;
};

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
  /// Install when the queue table is absent; otherwise read the catalog and
  /// run only what is missing or stale (Plan()), under lock discipline
  /// (MigrateOptions); on a current schema no DDL at all (kCurrent). Decided
  /// under the lock: any number of concurrent Migrate calls all succeed.
  /// Throws SchemaIncompatibleError on a newer PgQueuer schema.
  MigrateOutcome Migrate(Executor& db, bool create_schema = true) const;
  MigrateOutcome Migrate(Executor& db, const MigrateOptions& options) const;
  /// What Migrate() would run now (reads the catalog only). Throws
  /// SchemaIncompatibleError on a newer PgQueuer schema.
  MigrationPlan Plan(Executor& db, bool create_schema = true) const;
  void SetDurability(Executor& db, Durability level) const;
  void Autovac(Executor& db, bool rollback = false) const;

  /// `pgq verify`: every object of the schema contract (tables, columns and
  /// their types, enum labels, indexes, the trigger function and trigger);
  /// unknown objects in `extras`, a newer PgQueuer schema's in `foreign`.
  /// With kAbsent: that the tables, function and trigger are gone.
  VerifyReport Verify(Executor& db, Expect expect = Expect::kPresent) const;
  /// What a worker needs before it may start (spec 1.10); empty when fine.
  /// A newer PgQueuer schema's objects are in `foreign` (and `differences`).
  VerifyReport VerifyForWorker(Executor& db) const;

  const DBSettings& settings() const noexcept { return settings_; }

 private:
  DBSettings settings_;
};

}  // namespace pgq
