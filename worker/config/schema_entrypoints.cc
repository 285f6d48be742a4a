// The entrypoints: section of the configuration schema and the handler
// mapping it (and schedules:) holds; handler keys apply per handler type.

#include "config/schema_table.h"

#include <cstdint>
#include <limits>
#include <string>

#include "util/text.h"

namespace pgq::worker::schema {
namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

using Type = HandlerConfig::Type;

constexpr std::array<Named<Type>, 6> kHandlerTypes = {{{Type::kExec, "exec"},
                                                       {Type::kHttp, "http"},
                                                       {Type::kSql, "sql"},
                                                       {Type::kNoop, "noop"},
                                                       {Type::kSleep, "sleep"},
                                                       {Type::kFail, "fail"}}};
constexpr std::array<Named<OnFailure>, 2> kOnFailure = {
    {{OnFailure::kDelete, "delete"}, {OnFailure::kHold, "hold"}}};

// ------------------------------------------------------------ handlers

constexpr unsigned Bit(Type type) { return 1u << static_cast<unsigned>(type); }

/// A handler key: which handler types it applies to and requires.
struct HandlerKey {
  KeySpec<HandlerConfig> spec;
  unsigned applies;
  unsigned required = 0;
};

void ParseCommand(const Parser& p, const Item& command, HandlerConfig& h) {
  h.command = p.StringList(command);
  if (h.command.empty()) p.Fail(command, "must name a program (got an empty list)");
  if (h.command.front().empty()) {
    p.Fail(Item{command.node[0], command.node[0].Mark(), command.path + "[0]"},
           "the program must not be empty");
  }
}

// An inline value under a name that looks like a credential (a token, a
// password, Authorization): refused, so it never sits in a ConfigMap.
void RefuseInlineSecret(const Parser& p, const Mapping::Entry& entry, const HandlerConfig& h,
                        std::string_view from_files) {
  if (h.allow_inline_secrets || !IsSensitiveName(entry.key)) return;
  p.Fail(entry.key_mark, entry.value.path,
         "looks like a credential: put the value in a file (e.g. a mounted Secret) and name it "
         "under " + std::string(from_files) + ", or set allow_inline_secrets: true");
}

void CheckEnvName(const Parser& p, const Mapping::Entry& entry) {
  if (entry.key.find('=') != std::string::npos) {
    p.Fail(entry.key_mark, entry.value.path, "environment variable names must not contain \"=\"");
  }
}

void CheckHeaderName(const Parser& p, const Mapping::Entry& entry) {
  if (entry.key.find_first_of(":\r\n ") != std::string::npos) {
    p.Fail(entry.key_mark, entry.value.path,
           "header names must not contain ':', spaces or line breaks");
  }
}

// name -> path of a file read on every use; each must be readable now.
std::map<std::string, std::string> SecretFileMap(
    const Parser& p, const Item& v, void (*check_name)(const Parser&, const Mapping::Entry&)) {
  std::map<std::string, std::string> files;
  const Mapping names(p, v, {});
  for (const auto& entry : names.entries()) {
    check_name(p, entry);
    std::string content;
    files[entry.key] = p.SecretFile(entry.value, content);
  }
  return files;
}

void ParseEnv(const Parser& p, const Item& v, HandlerConfig& h) {
  h.env = p.StringMap(v);
  const Mapping names(p, v, {});
  for (const auto& entry : names.entries()) {
    CheckEnvName(p, entry);
    RefuseInlineSecret(p, entry, h, "env_from_files");
  }
}

void ParseEnvFiles(const Parser& p, const Item& v, HandlerConfig& h) {
  h.env_files = SecretFileMap(p, v, &CheckEnvName);
  for (const auto& [name, path] : h.env_files) {
    if (h.env.count(name) != 0) {
      p.Fail(v, "names " + name + ", which env sets too; set each variable once");
    }
  }
}

void ParseUrl(const Parser& p, const Item& url, HandlerConfig& h) {
  h.url = p.String(url);
  if (h.url.rfind("http://", 0) != 0 && h.url.rfind("https://", 0) != 0) {
    p.Fail(url, "expected a URL starting with http:// or https://; got " + Quote(MaskUrl(h.url)));
  }
}

void ParseHeaders(const Parser& p, const Item& v, HandlerConfig& h) {
  h.http_headers = p.StringMap(v);
  const Mapping names(p, v, {});
  for (const auto& entry : names.entries()) {
    CheckHeaderName(p, entry);
    if (h.http_headers[entry.key].find_first_of("\r\n") != std::string::npos) {
      p.Fail(entry.value, "header values must not contain line breaks");
    }
    RefuseInlineSecret(p, entry, h, "headers_from_files");
  }
}

void ParseHeaderFiles(const Parser& p, const Item& v, HandlerConfig& h) {
  h.http_header_files = SecretFileMap(p, v, &CheckHeaderName);
  for (const auto& [name, path] : h.http_header_files) {
    if (h.http_headers.count(name) != 0) {
      p.Fail(v, "names " + name + ", which headers sets too; set each header once");
    }
  }
}

void PutMap(YAML::Emitter& o, std::string_view k, const std::map<std::string, std::string>& map) {
  if (map.empty()) return;
  o << YAML::Key << std::string(k) << YAML::Value << YAML::BeginMap;
  for (const auto& [name, value] : map) o << YAML::Key << name << YAML::Value << value;
  o << YAML::EndMap;
}

constexpr unsigned kAllTypes = 0x3F;
constexpr unsigned kTimed = Bit(Type::kExec) | Bit(Type::kHttp) | Bit(Type::kSql);

const std::vector<HandlerKey> kHandler = {
    {{"type", "enum", false,
      [](const Parser& p, const Item& v, HandlerConfig& h) {
        h.type = ParseNamed(p, v, kHandlerTypes);
      },
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        Put(o, k, NameOf(kHandlerTypes, h.type));
      }},
     kAllTypes},
    {{"command", "list of strings", true, &ParseCommand,
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        o << YAML::Key << std::string(k) << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const std::string& arg : h.command) o << MaskArgument(arg);
        o << YAML::EndSeq;
      }},
     Bit(Type::kExec), Bit(Type::kExec)},
    // Before env and headers: their parse reads it.
    {{"allow_inline_secrets", "boolean", false,
      [](const Parser& p, const Item& v, HandlerConfig& h) { h.allow_inline_secrets = p.Bool(v); },
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        if (h.allow_inline_secrets) Put(o, k, true);
      }},
     Bit(Type::kExec) | Bit(Type::kHttp)},
    {{"env", "mapping string → string", true, &ParseEnv,
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        PutMaskedMap(o, k, h.env);
      }},
     Bit(Type::kExec)},
    {{"env_from_files", "mapping string → path", true, &ParseEnvFiles,
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        PutMap(o, k, h.env_files);
      }},
     Bit(Type::kExec)},
    {{"url", "string", true, &ParseUrl,
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        Put(o, k, MaskUrl(h.url));
      }},
     Bit(Type::kHttp), Bit(Type::kHttp)},
    {{"headers", "mapping string → string", true, &ParseHeaders,
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        PutMaskedMap(o, k, h.http_headers);
      }},
     Bit(Type::kHttp)},
    {{"headers_from_files", "mapping string → path", true, &ParseHeaderFiles,
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        PutMap(o, k, h.http_header_files);
      }},
     Bit(Type::kHttp)},
    {{"statement", "string", false,
      [](const Parser& p, const Item& v, HandlerConfig& h) { h.statement = p.NonEmptyString(v); },
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        Put(o, k, h.statement);
      }},
     Bit(Type::kSql), Bit(Type::kSql)},
    {{"duration", "duration", false,
      [](const Parser& p, const Item& v, HandlerConfig& h) { h.duration = p.Duration(v); },
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        PutDuration(o, k, h.duration);
      }},
     Bit(Type::kSleep), Bit(Type::kSleep)},
    {{"message", "string", false,
      [](const Parser& p, const Item& v, HandlerConfig& h) { h.message = p.String(v); },
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        Put(o, k, h.message);
      }},
     Bit(Type::kFail)},
    {{"timeout", "duration", false,
      [](const Parser& p, const Item& v, HandlerConfig& h) { h.timeout = p.PositiveDuration(v); },
      [](YAML::Emitter& o, std::string_view k, const HandlerConfig& h) {
        PutDuration(o, k, h.timeout);
      }},
     kTimed},
};

Keys HandlerKeyNames(unsigned types) {
  Keys names;
  for (const auto& key : kHandler) {
    if ((key.applies & types) != 0) names.push_back(key.spec.name);
  }
  return names;
}

}  // namespace

HandlerConfig ParseHandler(const Parser& p, const Item& item) {
  static const Keys kAll = HandlerKeyNames(kAllTypes);
  const Mapping m(p, item, kAll);
  HandlerConfig handler;
  const auto type_item = m.Find("type");
  if (!type_item) {
    p.Fail(m.Missing("type"), "required (one of " + Join(NamesOf(kHandlerTypes)) + ")");
  }
  handler.type = ParseNamed(p, *type_item, kHandlerTypes);
  const std::string type = NameOf(kHandlerTypes, handler.type);
  const unsigned bit = Bit(handler.type);
  const Keys applicable = HandlerKeyNames(bit);
  for (const auto& entry : m.entries()) {
    if (!Contains(applicable, entry.key)) {
      p.Fail(entry.key_mark, entry.value.path,
             "does not apply to handler type " + type + " (its keys: " + Join(applicable) + ")");
    }
  }
  for (const auto& key : kHandler) {
    if ((key.applies & bit) == 0 || key.spec.name == "type") continue;
    if (auto v = m.Find(key.spec.name)) {
      key.spec.parse(p, *v, handler);
    } else if ((key.required & bit) != 0) {
      p.Fail(m.Missing(key.spec.name), "required for handler type " + type);
    }
  }
  return handler;
}

void PutHandler(YAML::Emitter& out, std::string_view name, const HandlerConfig& handler) {
  out << YAML::Key << std::string(name) << YAML::Value << YAML::BeginMap;
  for (const auto& key : kHandler) {
    if ((key.applies & Bit(handler.type)) != 0) key.spec.emit(out, key.spec.name, handler);
  }
  out << YAML::EndMap;
}

Keys AllHandlerKeys() { return HandlerKeyNames(kAllTypes); }

// ------------------------------------------------------------ entrypoints

const Section<RetryPolicy> kRetry{
    {
        {"max_attempts", "integer", false,
         [](const Parser& p, const Item& v, RetryPolicy& r) {
           const std::int64_t attempts = p.IntAtLeast(v, 0);
           constexpr std::int64_t kMax = std::numeric_limits<std::int32_t>::max();
           if (attempts > kMax) {
             p.Fail(v, "must be <= " + std::to_string(kMax) + "; got " + std::to_string(attempts));
           }
           r.max_attempts = static_cast<std::int32_t>(attempts);
         },
         [](YAML::Emitter& o, std::string_view k, const RetryPolicy& r) {
           Put(o, k, r.max_attempts);
         }},
        {"initial_delay", "duration", false,
         [](const Parser& p, const Item& v, RetryPolicy& r) {
           r.initial_delay = duration_cast<microseconds>(p.Duration(v));
         },
         [](YAML::Emitter& o, std::string_view k, const RetryPolicy& r) {
           PutDuration(o, k, duration_cast<milliseconds>(r.initial_delay));
         }},
        {"max_delay", "duration", false,
         [](const Parser& p, const Item& v, RetryPolicy& r) {
           const milliseconds max_delay = p.Duration(v);
           if (duration_cast<microseconds>(max_delay) < r.initial_delay) {
             p.Fail(v, "must be >= initial_delay (" +
                           FormatDuration(duration_cast<milliseconds>(r.initial_delay)) +
                           "); got " + FormatDuration(max_delay));
           }
           r.max_delay = duration_cast<microseconds>(max_delay);
         },
         [](YAML::Emitter& o, std::string_view k, const RetryPolicy& r) {
           PutDuration(o, k, duration_cast<milliseconds>(r.max_delay));
         }},
        {"multiplier", "number", false,
         [](const Parser& p, const Item& v, RetryPolicy& r) {
           r.multiplier = p.Number(v);
           if (r.multiplier < 1.0) p.Fail(v, "must be >= 1; got " + Describe(v.node));
         },
         [](YAML::Emitter& o, std::string_view k, const RetryPolicy& r) {
           Put(o, k, r.multiplier);
         }},
    },
    nullptr,
    // Left out, max_delay follows a larger initial_delay.
    [](const Parser&, const Mapping& m, RetryPolicy& r) {
      if (!m.Find("max_delay") && r.max_delay < r.initial_delay) r.max_delay = r.initial_delay;
    },
};

const Section<EntrypointConfig> kEntrypoint{{
    {"handler", "mapping", false,
     [](const Parser& p, const Item& v, EntrypointConfig& e) { e.handler = ParseHandler(p, v); },
     [](YAML::Emitter& o, std::string_view k, const EntrypointConfig& e) {
       PutHandler(o, k, e.handler);
     },
     "required"},
    {"concurrency_limit", "integer", false,
     [](const Parser& p, const Item& v, EntrypointConfig& e) {
       e.options.concurrency_limit = p.IntAtLeast(v, 0);
     },
     [](YAML::Emitter& o, std::string_view k, const EntrypointConfig& e) {
       Put(o, k, e.options.concurrency_limit);
     }},
    {"retry", "mapping", false,
     [](const Parser& p, const Item& v, EntrypointConfig& e) {
       RetryPolicy retry;
       ParseSection(p, v, kRetry, retry);
       e.options.retry = retry;
     },
     [](YAML::Emitter& o, std::string_view k, const EntrypointConfig& e) {
       if (!e.options.retry) return;
       o << YAML::Key << std::string(k) << YAML::Value;
       EmitSection(o, kRetry, *e.options.retry);
     }},
    {"on_failure", "enum", false,
     [](const Parser& p, const Item& v, EntrypointConfig& e) {
       e.options.on_failure = ParseNamed(p, v, kOnFailure);
     },
     [](YAML::Emitter& o, std::string_view k, const EntrypointConfig& e) {
       Put(o, k, NameOf(kOnFailure, e.options.on_failure));
     }},
}};

}  // namespace pgq::worker::schema
