// The public entry points of the configuration: loading a file and the
// masked dump. The schema is in config_schema.cc, the YAML reading in
// yaml_reader.cc, the connection string in conninfo.cc.

#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <utility>
#include <vector>

#include "config/config_schema.h"
#include "config/secret_files.h"
#include "config/yaml_reader.h"
#include "util/text.h"

namespace pgq::worker {

ConfigError::ConfigError(std::string file, int line, int column, std::string key_path,
                         std::string problem)
    : std::runtime_error([&] {
        std::string what = file;
        if (line > 0) what += ":" + std::to_string(line) + ":" + std::to_string(column);
        what += ": ";
        if (!key_path.empty()) what += key_path + ": ";
        return what + problem;
      }()),
      file_(std::move(file)),
      key_path_(std::move(key_path)),
      problem_(std::move(problem)),
      line_(line),
      column_(column) {}

WorkerConfig ParseConfig(const std::string& yaml, const std::string& file, const EnvLookup& env) {
  const Parser parser(file);
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(yaml);
  } catch (const YAML::Exception& error) {
    parser.Fail(error.mark, "", "invalid YAML: " + error.msg);
  }
  if (documents.size() > 1) {
    parser.Fail(documents[1].Mark(), "", "expected a single YAML document; found a second one");
  }
  const YAML::Node document = documents.empty() ? YAML::Node() : documents.front();
  return ParseDocument(parser, document, file, env);
}

WorkerConfig LoadConfig(const std::string& path, const EnvLookup& env) {
  std::string yaml;
  if (int error = ReadWholeFile(path, yaml); error != 0) {
    throw ConfigError(path, 0, 0, "", "cannot read configuration file: " + ErrnoText(error));
  }
  return ParseConfig(yaml, path, env);
}

std::string WorkerConfig::Masked() const {
  YAML::Emitter out;
  EmitMasked(out, *this);
  return std::string(out.c_str()) + "\n";
}

}  // namespace pgq::worker
