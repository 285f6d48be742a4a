#pragma once
// Shared by the worker config unit tests: an environment lookup over a map,
// a minimal entrypoint, and a fixture with a temporary directory for config
// and secret files.

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "config/config.h"

namespace pgq::worker::config_test {

using Env = std::map<std::string, std::string>;

// A lookup over a fixed map; never touches the process environment.
inline EnvLookup LookupIn(Env env) {
  return [env = std::move(env)](const char* name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

// The what() of the ConfigError that parsing `yaml` throws.
inline std::string ParseError(const std::string& yaml, const Env& env = {}) {
  try {
    ParseConfig(yaml, "bad.yaml", LookupIn(env));
  } catch (const ConfigError& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected a ConfigError for:\n" << yaml;
  return {};
}

constexpr const char* kMarker = "S3cr3t-Marker-42";

// A minimal valid tail: every config needs at least one entrypoint.
constexpr const char* kEntrypoint = "entrypoints:\n  x:\n    handler: {type: noop}\n";

inline std::string WithEntrypoint(const std::string& head) { return head + kEntrypoint; }

/// A temporary directory for config and secret files, removed after the test.
class ConfigFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::filesystem::path base = std::filesystem::temp_directory_path() / "pgq-config-XXXXXX";
    std::string pattern = base.string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string Write(const std::string& name, const std::string& content) const {
    const std::string path = (dir_ / name).string();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    return path;
  }

  static std::string ReadExample() {
    // Not derived from __FILE__: compiler caches may rewrite it to a relative path.
    const std::filesystem::path repo = PGQ_SOURCE_DIR;
    std::ifstream in(repo / "config" / "worker.example.yaml");
    EXPECT_TRUE(in) << "cannot open " << (repo / "config" / "worker.example.yaml");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  // The example with its password_file pointing at a file of ours.
  std::string ExampleWithPassword(const std::string& password_path) const {
    std::string yaml = ReadExample();
    const std::string original = "/etc/pgq/secrets/password";
    const auto pos = yaml.find(original);
    EXPECT_NE(pos, std::string::npos);
    if (pos != std::string::npos) yaml.replace(pos, original.size(), password_path);
    return yaml;
  }

  std::filesystem::path dir_;
};

}  // namespace pgq::worker::config_test
