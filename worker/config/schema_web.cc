// The web: section, read by `pgq web` (the job console); `pgq run` ignores it.

#include <string>

#include "config/schema_table.h"

namespace pgq::worker {

bool IsLoopbackAddress(std::string_view address) {
  return address == "localhost" || address == "::1" || address == "[::1]" ||
         address.starts_with("127.");
}

namespace schema {
namespace {

// A credential file must hold something: an empty one would let an empty
// user name or password in.
std::string CredentialFile(const Parser& p, const Item& v) {
  std::string content;
  std::string path = p.SecretFile(v, content);
  if (content.empty() || content == "\n") p.Fail(v, "file " + path + " is empty");
  return path;
}

}  // namespace

const Section<WebConfig> kWeb{
    {
        {"address", "string", false,
         [](const Parser& p, const Item& v, WebConfig& w) { w.address = p.NonEmptyString(v); },
         [](YAML::Emitter& o, std::string_view k, const WebConfig& w) { Put(o, k, w.address); }},
        {"port", "integer", false,
         [](const Parser& p, const Item& v, WebConfig& w) {
           w.port = static_cast<int>(p.IntBetween(v, 1, 65535));
         },
         [](YAML::Emitter& o, std::string_view k, const WebConfig& w) { Put(o, k, w.port); }},
        {"read_only", "boolean", false,
         [](const Parser& p, const Item& v, WebConfig& w) { w.read_only = p.Bool(v); },
         [](YAML::Emitter& o, std::string_view k, const WebConfig& w) { Put(o, k, w.read_only); }},
        {"username_file", "path", true,
         [](const Parser& p, const Item& v, WebConfig& w) {
           w.username_file = CredentialFile(p, v);
         },
         [](YAML::Emitter& o, std::string_view k, const WebConfig& w) {
           PutOptional(o, k, w.username_file);
         }},
        {"password_file", "path", true,
         [](const Parser& p, const Item& v, WebConfig& w) {
           w.password_file = CredentialFile(p, v);
         },
         [](YAML::Emitter& o, std::string_view k, const WebConfig& w) {
           PutOptional(o, k, w.password_file);
         }},
        {"payload_preview", "integer", false,
         [](const Parser& p, const Item& v, WebConfig& w) {
           w.payload_preview = p.IntBetween(v, 0, 1 << 20);
         },
         [](YAML::Emitter& o, std::string_view k, const WebConfig& w) {
           Put(o, k, w.payload_preview);
         }},
    },
    nullptr,
    [](const Parser& p, const Mapping& m, WebConfig& w) {
      if (w.username_file.has_value() != w.password_file.has_value()) {
        const char* missing = w.username_file ? "password_file" : "username_file";
        p.Fail(m.Missing(missing), "username_file and password_file go together");
      }
      if (!w.username_file && !IsLoopbackAddress(w.address)) {
        const auto address = m.Find("address");
        p.Fail(address ? *address : m.Missing("username_file"),
               "serving the console on " + w.address +
                   " needs HTTP Basic auth (username_file and password_file); without it, "
                   "bind a loopback address such as 127.0.0.1");
      }
    }};

}  // namespace schema
}  // namespace pgq::worker
