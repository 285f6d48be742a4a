#pragma once
// The `pgq bench` flags; the benchmark itself is bench/.

#include <CLI/CLI.hpp>

#include "bench/bench.h"
#include "cli/global_options.h"

namespace pgq::cli {

/// Registers `bench` and owns its options (worker::BenchOptions).
class BenchCommand {
 public:
  BenchCommand(const GlobalOptions& globals, Action& action)
      : globals_(globals), action_(action) {}
  BenchCommand(const BenchCommand&) = delete;
  BenchCommand& operator=(const BenchCommand&) = delete;

  void Register(CLI::App& app);

 private:
  const GlobalOptions& globals_;
  Action& action_;
  worker::BenchOptions options_;
};

}  // namespace pgq::cli
