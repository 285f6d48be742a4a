#include "cli/cli.h"

#include <exception>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/bench_command.h"
#include "cli/global_options.h"
#include "cli/job_commands.h"
#include "cli/migrate_command.h"
#include "cli/prune_command.h"
#include "cli/run_command.h"
#include "cli/schema_commands.h"
#include "cli/web_command.h"
#include "pgq/error.h"
#include "pgq/version.h"

namespace pgq::cli {

int Main(int argc, char** argv) {
  CLI::App app{"pgq: PgQueuer-compatible PostgreSQL job queue (schema, producer and admin tools)"};
  app.require_subcommand(1);
  GlobalOptions globals;
  globals.Register(app);
  app.set_version_flag("--version", std::string(Version()), "print the pgq version and exit");

  // Each group owns its flags; the parsed subcommand leaves its work here.
  Action action;
  SchemaCommands schema(globals, action);
  JobCommands jobs(globals, action);
  RunCommand run(action);
  BenchCommand bench(globals, action);
  PruneCommand prune(globals, action);
  WebCommand web(globals, action);
  // The order of `pgq --help`.
  schema.Register(app);
  AddMigrateCommand(app, action);
  jobs.RegisterProducer(app);
  run.Register(app);
  bench.Register(app);
  jobs.RegisterInspection(app);
  prune.Register(app);
  web.Register(app);

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
  } catch (const InDoubtError& e) {
    // Retrying with the same --dedupe-key is safe: a duplicate is refused.
    std::cerr << "pgq: in doubt: " << e.what() << "\n";
    return kExitInDoubt;
  } catch (const LogicError& e) {
    std::cerr << "pgq: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "pgq: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace pgq::cli
