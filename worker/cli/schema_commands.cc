#include "cli/schema_commands.h"

#include <algorithm>
#include <iostream>
#include <vector>

#include "cli/cli.h"
#include "pgq/queries.h"
#include "pgq/schema.h"

namespace pgq::cli {
namespace {

void Print(const std::vector<std::string>& statements) {
  std::cout << Schema::Render(statements) << "\n";
}

}  // namespace

void SchemaCommands::Register(CLI::App& app) {
  RegisterInstall(app);
  RegisterUninstall(app);
  RegisterUpgrade(app);
  RegisterVerify(app);
  RegisterSql(app);
  RegisterDurability(app);
  RegisterAutovac(app);
}

void SchemaCommands::RegisterInstall(CLI::App& app) {
  auto* install = app.add_subcommand("install", "create the queue tables, enum, function and trigger");
  install->add_option("--durability", install_durability_, "volatile | balanced | durable")
      ->capture_default_str();
  install->add_flag("--no-create-schema", no_create_schema_,
                    "do not CREATE SCHEMA (the schema must exist)");
  install->callback([this] {
    action_ = [this] {
      auto settings = globals_.Settings();
      settings.durability = ParseDurability(install_durability_);
      Schema schema(settings);
      auto db = globals_.Connect();
      schema.Install(*db, !no_create_schema_);
      std::cerr << "installed pgq schema (" << schema.settings().QueueTable() << ", durability "
                << ToString(settings.durability) << ")\n";
      return kExitOk;
    };
  });
}

void SchemaCommands::RegisterUninstall(CLI::App& app) {
  auto* uninstall = app.add_subcommand("uninstall", "drop every queue object (and its data)");
  uninstall->callback([this] {
    action_ = [this] {
      Schema schema(globals_.Settings());
      auto db = globals_.Connect();
      schema.Uninstall(*db);
      std::cerr << "uninstalled pgq schema\n";
      return kExitOk;
    };
  });
}

void SchemaCommands::RegisterUpgrade(CLI::App& app) {
  auto* upgrade = app.add_subcommand("upgrade", "apply idempotent migrations, one statement at a time");
  upgrade->add_option("--durability", upgrade_durability_, "volatile | balanced | durable");
  upgrade->add_flag("--no-widen-id", no_widen_id_, "keep int4 ids (skips the table rewrite)");
  upgrade->callback([this] {
    action_ = [this] {
      auto settings = globals_.Settings();
      if (upgrade_durability_) settings.durability = ParseDurability(*upgrade_durability_);
      if (no_widen_id_) settings.widen_id = false;
      Schema schema(settings);
      auto db = globals_.Connect();
      schema.Upgrade(*db);
      std::cerr << "upgraded pgq schema\n";
      return kExitOk;
    };
  });
}

void SchemaCommands::RegisterVerify(CLI::App& app) {
  auto* verify = app.add_subcommand("verify", "check every object of the schema contract and list unknown ones (exit 1 on a difference, 2 on a newer PgQueuer schema)");
  verify->add_option("--expect", expect_, "present | absent")
      ->check(CLI::IsMember({"present", "absent"}))
      ->capture_default_str();
  verify->callback([this] {
    action_ = [this] {
      Schema schema(globals_.Settings());
      auto db = globals_.Connect();
      const auto report =
          schema.Verify(*db, expect_ == "present" ? Expect::kPresent : Expect::kAbsent);
      for (const auto& difference : report.differences) std::cout << difference << "\n";
      for (const auto& extra : report.extras) std::cout << "extra (not pgq's): " << extra << "\n";
      if (report.ok()) std::cout << "ok: every object is " << expect_ << "\n";
      if (report.incompatible()) return kExitUsage;
      return report.ok() ? kExitOk : kExitFailure;
    };
  });
}

void SchemaCommands::RegisterSql(CLI::App& app) {
  auto* sql = app.add_subcommand("sql", "print SQL without connecting");
  sql->require_subcommand(1);
  auto* sql_install = sql->add_subcommand("install", "the install script");
  sql_install->add_option("--durability", sql_durability_, "volatile | balanced | durable")
      ->capture_default_str();
  sql_install->add_flag("--no-create-schema", sql_no_create_schema_, "omit CREATE SCHEMA");
  sql_install->callback([this] {
    action_ = [this] {
      auto settings = globals_.Settings();
      settings.durability = ParseDurability(sql_durability_);
      Print(Schema(settings).InstallStatements(!sql_no_create_schema_));
      return kExitOk;
    };
  });
  sql->add_subcommand("uninstall", "the uninstall script")->callback([this] {
    action_ = [this] {
      Print(Schema(globals_.Settings()).UninstallStatements());
      return kExitOk;
    };
  });
  auto* sql_upgrade = sql->add_subcommand("upgrade", "the upgrade statements");
  sql_upgrade->add_flag("--no-widen-id", sql_no_widen_id_, "omit the id widening");
  sql_upgrade->callback([this] {
    action_ = [this] {
      auto settings = globals_.Settings();
      if (sql_no_widen_id_) settings.widen_id = false;
      Print(Schema(settings).UpgradeStatements());
      return kExitOk;
    };
  });
  auto* sql_durability = sql->add_subcommand("durability", "ALTER TABLE ... SET [UN]LOGGED");
  sql_durability->add_option("level", sql_level_, "volatile | balanced | durable")->required();
  sql_durability->callback([this] {
    action_ = [this] {
      Print(Schema(globals_.Settings()).DurabilityStatements(ParseDurability(sql_level_)));
      return kExitOk;
    };
  });
  auto* sql_statements = sql->add_subcommand(
      "statements", "the claim, completion and enqueue statements pgq prepares (or NAMEs, --all)");
  sql_statements->add_option("name", sql_statement_names_,
                             "statements by file name (src/queries/sql/NAME.sql)");
  sql_statements->add_flag("--all", sql_all_statements_, "every statement pgq runs");
  sql_statements->callback([this] {
    action_ = [this] {
      const auto settings = globals_.Settings();
      auto statements = sql_all_statements_ || !sql_statement_names_.empty()
                            ? AllStatements(settings)
                            : WorkerStatements(settings);
      if (!sql_statement_names_.empty()) {
        std::vector<std::pair<std::string, std::string>> picked;
        for (const auto& name : sql_statement_names_) {
          const auto it = std::find_if(statements.begin(), statements.end(),
                                       [&](const auto& s) { return s.first == name; });
          if (it == statements.end()) {
            std::cerr << "pgq: no statement named \"" << name
                      << "\" (pgq sql statements --all lists them)\n";
            return kExitUsage;
          }
          picked.push_back(*it);
        }
        statements = std::move(picked);
      }
      for (const auto& [name, text] : statements) {
        std::cout << "-- " << name << "\n" << text << (text.ends_with(';') ? "" : ";") << "\n\n";
      }
      return kExitOk;
    };
  });
  auto* sql_autovac = sql->add_subcommand("autovac", "the autovacuum preset");
  sql_autovac->add_flag("--rollback", sql_rollback_, "RESET instead of SET");
  sql_autovac->callback([this] {
    action_ = [this] {
      Print(Schema(globals_.Settings()).AutovacStatements(sql_rollback_));
      return kExitOk;
    };
  });
}

void SchemaCommands::RegisterDurability(CLI::App& app) {
  auto* durability = app.add_subcommand("durability", "switch tables between LOGGED and UNLOGGED (no data loss)");
  durability->add_option("level", level_, "volatile | balanced | durable")->required();
  durability->callback([this] {
    action_ = [this] {
      const auto parsed = ParseDurability(level_);
      Schema schema(globals_.Settings());
      auto db = globals_.Connect();
      schema.SetDurability(*db, parsed);
      std::cerr << "durability set to " << ToString(parsed) << "\n";
      return kExitOk;
    };
  });
}

void SchemaCommands::RegisterAutovac(CLI::App& app) {
  auto* autovac = app.add_subcommand("autovac", "apply (or --rollback) the autovacuum preset");
  autovac->add_flag("--rollback", rollback_, "RESET the settings");
  autovac->callback([this] {
    action_ = [this] {
      Schema schema(globals_.Settings());
      auto db = globals_.Connect();
      schema.Autovac(*db, rollback_);
      std::cerr << (rollback_ ? "autovacuum preset reset\n" : "autovacuum preset applied\n");
      return kExitOk;
    };
  });
}

}  // namespace pgq::cli
