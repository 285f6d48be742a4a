// The queue: section of the configuration schema: the object names
// (which the environment may override) and the run options.

#include "config/schema_table.h"

#include <string>

namespace pgq::worker::schema {
namespace {

constexpr std::array<Named<RunMode>, 2> kRunModes = {
    {{RunMode::kContinuous, "continuous"}, {RunMode::kDrain, "drain"}}};

constexpr std::string_view kIdentifierProblem = "must match ^[A-Za-z_][A-Za-z0-9_]*$";

}  // namespace

const Section<Document, WorkerConfig> kQueue{{
    {"prefix", "string", false,
     [](const Parser& p, const Item& v, Document& d) {
       d.names.prefix = p.String(v);
       if (!d.names.prefix->empty() && !IsIdentifier(*d.names.prefix)) {
         p.Fail(v, std::string(kIdentifierProblem) + " or be empty; got " + Quote(*d.names.prefix));
       }
     },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       Put(o, k, c.settings.prefix);
     }},
    {"schema", "string", false,
     [](const Parser& p, const Item& v, Document& d) {
       d.names.schema = p.String(v);
       if (!d.names.schema->empty() && !IsIdentifier(*d.names.schema)) {
         p.Fail(v, std::string(kIdentifierProblem) +
                       " (one unquoted name, no dots) or be empty; got " + Quote(*d.names.schema));
       }
     },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       Put(o, k, c.settings.schema);
     }},
    {"channel", "string", false,
     [](const Parser& p, const Item& v, Document& d) {
       d.names.channel = p.String(v);
       if (!IsIdentifier(*d.names.channel)) {
         p.Fail(v, std::string(kIdentifierProblem) + "; got " + Quote(*d.names.channel));
       }
     },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       Put(o, k, c.settings.channel);
     }},
    {"batch_size", "integer", false,
     [](const Parser& p, const Item& v, Document& d) { d.config.run.batch_size = p.IntAtLeast(v, 1); },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       Put(o, k, c.run.batch_size);
     }},
    {"dequeue_timeout", "duration", false,
     [](const Parser& p, const Item& v, Document& d) {
       d.config.run.dequeue_timeout = p.PositiveDuration(v);
     },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       PutDuration(o, k, c.run.dequeue_timeout);
     }},
    {"heartbeat_timeout", "duration", false,
     [](const Parser& p, const Item& v, Document& d) {
       d.config.run.heartbeat_timeout = p.PositiveDuration(v);
     },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       PutDuration(o, k, c.run.heartbeat_timeout);
     }},
    {"max_concurrent_tasks", "integer", false,
     [](const Parser& p, const Item& v, Document& d) {
       RunOptions& run = d.config.run;
       const std::int64_t cap = p.IntAtLeast(v, 0);
       if (cap == 0) {
         run.max_concurrent_tasks = std::nullopt;
       } else if (cap < 2 * run.batch_size) {
         p.Fail(v, "must be 0 (unbounded) or >= 2 * queue.batch_size (" +
                       std::to_string(2 * run.batch_size) + "); got " + std::to_string(cap));
       } else {
         run.max_concurrent_tasks = cap;
       }
     },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       Put(o, k, c.run.max_concurrent_tasks.value_or(0));
     }},
    {"mode", "enum", false,
     [](const Parser& p, const Item& v, Document& d) {
       d.config.run.mode = ParseNamed(p, v, kRunModes);
     },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       Put(o, k, NameOf(kRunModes, c.run.mode));
     }},
    {"statistics_check_interval", "duration", false,
     [](const Parser& p, const Item& v, Document& d) {
       d.config.run.statistics_check_interval = p.Duration(v);
     },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       PutDuration(o, k, c.run.statistics_check_interval);
     }},
}};

}  // namespace pgq::worker::schema
