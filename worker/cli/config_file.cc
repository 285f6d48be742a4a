#include "cli/config_file.h"

#include <cstdlib>
#include <iostream>

namespace pgq::cli {

std::optional<worker::WorkerConfig> LoadConfigFile(const std::string& path) {
  try {
    return worker::LoadConfig(path, [](const char* name) -> std::optional<std::string> {
      if (const char* value = std::getenv(name)) return std::string(value);
      return std::nullopt;
    });
  } catch (const worker::ConfigError& e) {
    std::cerr << "pgq: configuration error: " << e.what() << "\n";
    return std::nullopt;
  }
}

}  // namespace pgq::cli
