#pragma once
// `pgq migrate --config FILE`: install the queue schema when it is absent, upgrade it
// otherwise (the chart's and the kustomize migration Job).

#include <functional>

#include <CLI/CLI.hpp>

namespace pgq::cli {

/// Adds the `migrate` subcommand; when chosen, `action` is set to run it.
void AddMigrateCommand(CLI::App& app, std::function<int()>& action);

}  // namespace pgq::cli
