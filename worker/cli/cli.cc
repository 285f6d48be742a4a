#include "cli/cli.h"

#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "pgq/driver.h"
#include "pgq/error.h"
#include "pgq/queries.h"
#include "pgq/schema.h"
#include "pgq/settings.h"
#include "cli/bench.h"
#include "cli/prune.h"
#include "config/config.h"
#include "run.h"
#include <csignal>
#include <ctime>
#include <iomanip>
#include <thread>

namespace pgq::cli {
namespace {

struct Globals {
  std::string dsn;
  std::optional<std::string> prefix;
  std::optional<std::string> schema;
};

DBSettings SettingsFrom(const Globals& g) {
  // Flags override the environment, as PgQueuer's --prefix/--schema do.
  auto lookup = [&](const char* name) -> std::optional<std::string> {
    const std::string key(name);
    if (key == "PGQUEUER_PREFIX" && g.prefix) return g.prefix;
    if (key == "PGQUEUER_SCHEMA" && g.schema) return g.schema;
    if (const char* value = std::getenv(name)) return std::string(value);
    return std::nullopt;
  };
  return DBSettings::FromEnv(lookup);
}

std::string DsnFrom(const Globals& g) {
  if (!g.dsn.empty()) return g.dsn;
  if (const char* dsn = std::getenv("PGQUEUER_DSN")) return dsn;
  if (const char* dsn = std::getenv("PGDSN")) return dsn;
  return "";  // libpq falls back to PGHOST, PGPORT, PGUSER, ...
}

std::unique_ptr<ConnectionDriver> Connect(const Globals& g) {
  return std::make_unique<ConnectionDriver>(ConnectionOptions::FromDsn(DsnFrom(g)));
}

std::string FormatTime(Clock::time_point t) {
  const std::time_t secs = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

// Blocks SIGINT/SIGTERM and returns once one arrives or `timeout` passes;
// true when a signal arrived.
bool WaitForSignal(std::chrono::milliseconds timeout) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  timespec ts{static_cast<time_t>(timeout.count() / 1000),
              static_cast<long>((timeout.count() % 1000) * 1000000)};
  return sigtimedwait(&signals, nullptr, &ts) > 0;
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"pgq: PgQueuer-compatible PostgreSQL job queue (schema, producer and admin tools)"};
  app.require_subcommand(1);
  Globals g;
  app.add_option("--dsn", g.dsn,
                 "libpq connection string or URI (default: $PGQUEUER_DSN, $PGDSN, then PG* "
                 "variables)");
  app.add_option("--prefix", g.prefix, "object-name prefix (default: $PGQUEUER_PREFIX)");
  app.add_option("--schema", g.schema, "PostgreSQL schema of the objects (default: $PGQUEUER_SCHEMA)");

  std::function<int()> action;

  // install
  auto* install = app.add_subcommand("install", "create the queue tables, enum, function and trigger");
  std::string install_durability = "durable";
  bool no_create_schema = false;
  install->add_option("--durability", install_durability, "volatile | balanced | durable")
      ->capture_default_str();
  install->add_flag("--no-create-schema", no_create_schema,
                    "do not CREATE SCHEMA (the schema must exist)");
  install->callback([&] {
    action = [&] {
      auto settings = SettingsFrom(g);
      settings.durability = ParseDurability(install_durability);
      Schema schema(settings);
      auto db = Connect(g);
      schema.Install(*db, !no_create_schema);
      std::cerr << "installed pgq schema (" << schema.settings().QueueTable() << ", durability "
                << ToString(settings.durability) << ")\n";
      return kExitOk;
    };
  });

  // uninstall
  auto* uninstall = app.add_subcommand("uninstall", "drop every queue object (and its data)");
  uninstall->callback([&] {
    action = [&] {
      Schema schema(SettingsFrom(g));
      auto db = Connect(g);
      schema.Uninstall(*db);
      std::cerr << "uninstalled pgq schema\n";
      return kExitOk;
    };
  });

  // upgrade
  auto* upgrade = app.add_subcommand("upgrade", "apply idempotent migrations, one statement at a time");
  std::optional<std::string> upgrade_durability;
  bool no_widen_id = false;
  upgrade->add_option("--durability", upgrade_durability, "volatile | balanced | durable");
  upgrade->add_flag("--no-widen-id", no_widen_id, "keep int4 ids (skips the table rewrite)");
  upgrade->callback([&] {
    action = [&] {
      auto settings = SettingsFrom(g);
      if (upgrade_durability) settings.durability = ParseDurability(*upgrade_durability);
      if (no_widen_id) settings.widen_id = false;
      Schema schema(settings);
      auto db = Connect(g);
      schema.Upgrade(*db);
      std::cerr << "upgraded pgq schema\n";
      return kExitOk;
    };
  });

  // verify
  auto* verify = app.add_subcommand("verify", "check the tables, function and trigger (exit 1 on a difference)");
  std::string expect = "present";
  verify->add_option("--expect", expect, "present | absent")
      ->check(CLI::IsMember({"present", "absent"}))
      ->capture_default_str();
  verify->callback([&] {
    action = [&] {
      Schema schema(SettingsFrom(g));
      auto db = Connect(g);
      const auto report =
          schema.Verify(*db, expect == "present" ? Expect::kPresent : Expect::kAbsent);
      for (const auto& difference : report.differences) std::cout << difference << "\n";
      if (report.ok()) std::cout << "ok: every object is " << expect << "\n";
      return report.ok() ? kExitOk : kExitFailure;
    };
  });

  // sql
  auto* sql = app.add_subcommand("sql", "print SQL without connecting");
  sql->require_subcommand(1);
  std::string sql_durability = "durable";
  bool sql_no_create_schema = false;
  bool sql_no_widen_id = false;
  bool sql_rollback = false;
  auto print = [](const std::vector<std::string>& statements) {
    std::cout << Schema::Render(statements) << "\n";
  };
  auto* sql_install = sql->add_subcommand("install", "the install script");
  sql_install->add_option("--durability", sql_durability, "volatile | balanced | durable")
      ->capture_default_str();
  sql_install->add_flag("--no-create-schema", sql_no_create_schema, "omit CREATE SCHEMA");
  sql_install->callback([&] {
    action = [&] {
      auto settings = SettingsFrom(g);
      settings.durability = ParseDurability(sql_durability);
      print(Schema(settings).InstallStatements(!sql_no_create_schema));
      return kExitOk;
    };
  });
  sql->add_subcommand("uninstall", "the uninstall script")->callback([&] {
    action = [&] {
      print(Schema(SettingsFrom(g)).UninstallStatements());
      return kExitOk;
    };
  });
  auto* sql_upgrade = sql->add_subcommand("upgrade", "the upgrade statements");
  sql_upgrade->add_flag("--no-widen-id", sql_no_widen_id, "omit the id widening");
  sql_upgrade->callback([&] {
    action = [&] {
      auto settings = SettingsFrom(g);
      if (sql_no_widen_id) settings.widen_id = false;
      print(Schema(settings).UpgradeStatements());
      return kExitOk;
    };
  });
  auto* sql_durability_cmd = sql->add_subcommand("durability", "ALTER TABLE ... SET [UN]LOGGED");
  std::string sql_level;
  sql_durability_cmd->add_option("level", sql_level, "volatile | balanced | durable")->required();
  sql_durability_cmd->callback([&] {
    action = [&] {
      print(Schema(SettingsFrom(g)).DurabilityStatements(ParseDurability(sql_level)));
      return kExitOk;
    };
  });
  sql->add_subcommand("statements", "the claim and completion statements the worker prepares")
      ->callback([&] {
        action = [&] {
          for (const auto& [name, text] : WorkerStatements(SettingsFrom(g))) {
            std::cout << "-- " << name << "\n" << text << ";\n\n";
          }
          return kExitOk;
        };
      });
  auto* sql_autovac = sql->add_subcommand("autovac", "the autovacuum preset");
  sql_autovac->add_flag("--rollback", sql_rollback, "RESET instead of SET");
  sql_autovac->callback([&] {
    action = [&] {
      print(Schema(SettingsFrom(g)).AutovacStatements(sql_rollback));
      return kExitOk;
    };
  });

  // durability
  auto* durability = app.add_subcommand("durability", "switch tables between LOGGED and UNLOGGED (no data loss)");
  std::string level;
  durability->add_option("level", level, "volatile | balanced | durable")->required();
  durability->callback([&] {
    action = [&] {
      const auto parsed = ParseDurability(level);
      Schema schema(SettingsFrom(g));
      auto db = Connect(g);
      schema.SetDurability(*db, parsed);
      std::cerr << "durability set to " << ToString(parsed) << "\n";
      return kExitOk;
    };
  });

  // autovac
  auto* autovac = app.add_subcommand("autovac", "apply (or --rollback) the autovacuum preset");
  bool rollback = false;
  autovac->add_flag("--rollback", rollback, "RESET the settings");
  autovac->callback([&] {
    action = [&] {
      Schema schema(SettingsFrom(g));
      auto db = Connect(g);
      schema.Autovac(*db, rollback);
      std::cerr << (rollback ? "autovacuum preset reset\n" : "autovacuum preset applied\n");
      return kExitOk;
    };
  });

  // queue
  auto* queue = app.add_subcommand("queue", "enqueue one job");
  std::string entrypoint;
  std::optional<std::string> payload;
  int priority = 0;
  std::optional<std::string> dedupe_key;
  std::string on_conflict = "raise";
  std::optional<std::string> headers;
  queue->add_option("entrypoint", entrypoint, "handler name")->required();
  queue->add_option("payload", payload, "payload (stored as UTF-8 bytes; omitted = NULL)");
  queue->add_option("--priority", priority, "higher runs sooner")->capture_default_str();
  queue->add_option("--dedupe-key", dedupe_key, "refuse (or skip) while a live job holds this key");
  queue->add_option("--on-conflict", on_conflict, "raise | skip")
      ->check(CLI::IsMember({"raise", "skip"}))
      ->capture_default_str();
  queue->add_option("--headers", headers, "JSON object stored in the headers column");
  queue->callback([&] {
    action = [&] {
      SyncDriver driver(ConnectionOptions::FromDsn(DsnFrom(g)));
      ProducerQueries producer(driver, SettingsFrom(g));
      NewJob job;
      job.entrypoint = entrypoint;
      job.payload = payload;
      job.priority = priority;
      job.dedupe_key = dedupe_key;
      job.headers = headers;
      auto ids = producer.Enqueue({job}, on_conflict == "skip" ? OnConflict::kSkip
                                                                : OnConflict::kRaise);
      if (ids.front()) {
        std::cout << *ids.front() << "\n";
      } else {
        std::cerr << "skipped: a live job already holds dedupe key " << dedupe_key.value_or("")
                  << "\n";
      }
      return kExitOk;
    };
  });

  // run
  auto* run = app.add_subcommand("run", "run a worker from a YAML configuration file");
  std::string config_path;
  run->add_option("-c,--config", config_path, "worker configuration (YAML)")->required();
  run->callback([&] {
    action = [&] {
      auto env = [](const char* name) -> std::optional<std::string> {
        if (const char* value = std::getenv(name)) return std::string(value);
        return std::nullopt;
      };
      worker::WorkerConfig config;
      try {
        config = worker::LoadConfig(config_path, env);
      } catch (const worker::ConfigError& e) {
        std::cerr << "pgq: configuration error: " << e.what() << "\n";
        return kExitUsage;
      }
      worker::SetupLogging(config.logging);
      return worker::RunWorker(config);
    };
  });

  // prune
  AddPruneCommand(app, action,
                  {[&g] { return ConnectionOptions::FromDsn(DsnFrom(g)); },
                   [&g] { return SettingsFrom(g); }});

  // bench
  auto* bench = app.add_subcommand("bench", "measure throughput, drain rate or latency (see docs/benchmarks.md)");
  worker::BenchOptions bench_options;
  bench->add_option("--strategy", bench_options.strategy, "throughput | drain | latency")
      ->check(CLI::IsMember({"throughput", "drain", "latency"}))
      ->capture_default_str();
  bench->add_option("-t,--time", bench_options.seconds, "seconds (throughput)")->capture_default_str();
  bench->add_option("--consumers", bench_options.consumers, "queue managers")->capture_default_str();
  bench->add_option("--batch", bench_options.batch, "dequeue batch size")->capture_default_str();
  bench->add_option("--handler-threads", bench_options.handler_threads,
                    "handler threads per consumer (0 = 2 * batch)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  bench->add_option("--producers", bench_options.producers, "enqueuing threads (throughput)")
      ->capture_default_str();
  bench->add_option("--enqueue-batch", bench_options.enqueue_batch, "jobs per enqueue statement")
      ->capture_default_str();
  bench->add_option("--jobs", bench_options.jobs, "jobs to drain (drain)")->capture_default_str();
  bench->add_option("--driver", bench_options.driver, "pool | connection")
      ->check(CLI::IsMember({"pool", "connection"}))
      ->capture_default_str();
  bench->add_option("--samples", bench_options.latency_samples, "latency samples")->capture_default_str();
  bench->add_option("--json", bench_options.json_path, "also write the result to FILE");
  bench->callback([&] {
    action = [&] { return worker::RunBench(DsnFrom(g), SettingsFrom(g), bench_options); };
  });

  // failed
  auto* failed = app.add_subcommand("failed", "list held (failed) jobs");
  std::int64_t failed_limit = 25;
  failed->add_option("-n,--limit", failed_limit, "how many")->capture_default_str();
  failed->callback([&] {
    action = [&] {
      auto db = Connect(g);
      Queries queries(*db, SettingsFrom(g));
      std::cout << std::left << std::setw(12) << "id" << std::setw(28) << "entrypoint"
                << std::setw(10) << "attempts" << std::setw(21) << "created" << "payload_bytes\n";
      for (const auto& job : queries.ListFailed(failed_limit)) {
        std::cout << std::setw(12) << job.id << std::setw(28) << job.entrypoint << std::setw(10)
                  << job.attempts << std::setw(21) << FormatTime(job.created)
                  << (job.payload ? job.payload->size() : 0) << "\n";
      }
      return kExitOk;
    };
  });

  // requeue
  auto* requeue = app.add_subcommand("requeue", "put held (failed) jobs back in the queue");
  std::vector<std::int64_t> requeue_ids;
  requeue->add_option("ids", requeue_ids, "job ids")->required();
  requeue->callback([&] {
    action = [&] {
      auto db = Connect(g);
      Queries queries(*db, SettingsFrom(g));
      const auto n = queries.Requeue(requeue_ids);
      std::cout << "requeued " << n << " of " << requeue_ids.size() << " jobs\n";
      return kExitOk;
    };
  });

  // dashboard
  auto* dashboard = app.add_subcommand("dashboard", "show processed-job statistics");
  double interval = 0;
  std::int64_t dashboard_limit = 25;
  dashboard->add_option("-i,--interval", interval, "refresh every SECONDS (0 = once)");
  dashboard->add_option("-n,--limit", dashboard_limit, "rows")->capture_default_str();
  dashboard->callback([&] {
    action = [&] {
      auto db = Connect(g);
      Queries queries(*db, SettingsFrom(g));
      for (;;) {
        if (interval > 0) std::cout << "\x1b[2J\x1b[H";
        std::cout << std::left << std::setw(21) << "created" << std::setw(10) << "count"
                  << std::setw(28) << "entrypoint" << std::setw(12) << "status" << "priority\n";
        for (const auto& row : queries.LogStatistics(dashboard_limit)) {
          std::cout << std::setw(21) << FormatTime(row.created) << std::setw(10) << row.count
                    << std::setw(28) << row.entrypoint << std::setw(12) << ToString(row.status)
                    << row.priority << "\n";
        }
        std::cout.flush();
        if (interval <= 0) return kExitOk;
        if (WaitForSignal(std::chrono::milliseconds(static_cast<long>(interval * 1000)))) {
          return kExitOk;
        }
      }
    };
  });

  // listen
  auto* listen = app.add_subcommand("listen", "print every event on the channel (debugging)");
  std::optional<std::string> listen_channel;
  listen->add_option("--channel", listen_channel, "channel (default: the settings' channel)");
  listen->callback([&] {
    action = [&] {
      auto db = Connect(g);
      const auto settings = SettingsFrom(g);
      std::mutex out;
      auto subscription = db->Listen(listen_channel.value_or(settings.channel),
                                     [&](const Notification& n) {
                                       std::scoped_lock lock(out);
                                       std::cout << n.payload << std::endl;
                                     });
      std::cerr << "listening on " << listen_channel.value_or(settings.channel)
                << " (Ctrl-C to stop)\n";
      while (!WaitForSignal(std::chrono::milliseconds(1000))) {
      }
      return kExitOk;
    };
  });

  // schedules
  auto* schedules = app.add_subcommand("schedules", "list schedules, or remove them with -r");
  std::vector<std::string> remove;
  schedules->add_option("-r,--remove", remove, "schedule ids or names to delete");
  schedules->callback([&] {
    action = [&] {
      auto db = Connect(g);
      Queries queries(*db, SettingsFrom(g));
      if (!remove.empty()) {
        std::vector<std::int64_t> ids;
        std::vector<std::string> names;
        for (const auto& r : remove) {
          if (!r.empty() && r.find_first_not_of("0123456789") == std::string::npos) {
            ids.push_back(std::stoll(r));
          } else {
            names.push_back(r);
          }
        }
        queries.DeleteSchedules(ids, names);
      }
      std::cout << std::left << std::setw(8) << "id" << std::setw(24) << "name" << std::setw(20)
                << "expression" << std::setw(10) << "status" << std::setw(21) << "next_run"
                << "last_run\n";
      for (const auto& row : queries.PeekSchedules()) {
        std::cout << std::setw(8) << row.id << std::setw(24) << row.entrypoint << std::setw(20)
                  << row.expression << std::setw(10) << ToString(row.status) << std::setw(21)
                  << FormatTime(row.next_run)
                  << (row.last_run ? FormatTime(*row.last_run) : std::string("-")) << "\n";
      }
      return kExitOk;
    };
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  try {
    return action ? action() : kExitUsage;
  } catch (const DuplicateJobError& e) {
    std::cerr << "pgq: " << e.what() << "\n";
    return kExitFailure;
  } catch (const LogicError& e) {
    std::cerr << "pgq: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "pgq: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace pgq::cli
