#pragma once
// The schema subcommands: install, uninstall, upgrade, verify, sql (print
// without connecting), durability and autovac.

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/global_options.h"

namespace pgq::cli {

/// Registers the schema subcommands and owns their option storage; a parsed
/// subcommand leaves its work in `action`.
class SchemaCommands {
 public:
  SchemaCommands(const GlobalOptions& globals, Action& action)
      : globals_(globals), action_(action) {}
  SchemaCommands(const SchemaCommands&) = delete;
  SchemaCommands& operator=(const SchemaCommands&) = delete;

  /// Adds the subcommands in help order.
  void Register(CLI::App& app);

 private:
  void RegisterInstall(CLI::App& app);
  void RegisterUninstall(CLI::App& app);
  void RegisterUpgrade(CLI::App& app);
  void RegisterVerify(CLI::App& app);
  void RegisterSql(CLI::App& app);
  void RegisterDurability(CLI::App& app);
  void RegisterAutovac(CLI::App& app);

  const GlobalOptions& globals_;
  Action& action_;

  // install
  std::string install_durability_ = "durable";
  bool no_create_schema_ = false;
  // upgrade
  std::optional<std::string> upgrade_durability_;
  bool no_widen_id_ = false;
  // verify
  std::string expect_ = "present";
  // sql install | upgrade | durability | autovac
  std::string sql_durability_ = "durable";
  bool sql_no_create_schema_ = false;
  bool sql_no_widen_id_ = false;
  std::string sql_level_;
  bool sql_rollback_ = false;
  std::vector<std::string> sql_statement_names_;
  bool sql_all_statements_ = false;
  // durability
  std::string level_;
  // autovac
  bool rollback_ = false;
};

}  // namespace pgq::cli
