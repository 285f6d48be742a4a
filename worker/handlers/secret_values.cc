#include "handlers/secret_values.h"

#include <stdexcept>

#include "config/secret_files.h"
#include "util/text.h"

namespace pgq::worker {

std::map<std::string, std::string> ReadSecretValues(
    const std::map<std::string, std::string>& files, std::string_view key) {
  std::map<std::string, std::string> values;
  for (const auto& [name, path] : files) {
    const std::string where = std::string(key) + "." + name + " (" + path + ")";
    std::string content;
    if (const int error = ReadWholeFile(path, content); error != 0) {
      throw std::runtime_error("cannot read " + where + ": " + ErrnoText(error));
    }
    content = TrimPassword(std::move(content));
    // A header line or a variable must stay one line (content not shown).
    if (content.find_first_of("\r\n") != std::string::npos) {
      throw std::runtime_error(where + " holds more than one line");
    }
    values.emplace(name, std::move(content));
  }
  return values;
}

}  // namespace pgq::worker
