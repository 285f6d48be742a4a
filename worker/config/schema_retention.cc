// The retention: section of the configuration schema: what the workers
// prune from the log, queue (long-held jobs) and statistics tables (RunOptions::retention and
// prune_interval; docs/operations.md).

#include "config/schema_table.h"

#include <string>

namespace pgq::worker::schema {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

// Ages are whole seconds; 0s (or the key absent) keeps that table forever.
std::chrono::seconds Age(const Parser& p, const Item& v) {
  const milliseconds value = p.Duration(v);
  if (value.count() % 1000 != 0) p.Fail(v, "must be whole seconds; got " + FormatDuration(value));
  return duration_cast<std::chrono::seconds>(value);
}

}  // namespace

const Section<RunOptions> kRetention{
    {
        {"log_older_than", "duration", false,
         [](const Parser& p, const Item& v, RunOptions& r) {
           r.retention.log_older_than = Age(p, v);
         },
         [](YAML::Emitter& o, std::string_view k, const RunOptions& r) {
           PutDuration(o, k, duration_cast<milliseconds>(r.retention.log_older_than));
         }},
        {"held_older_than", "duration", false,
         [](const Parser& p, const Item& v, RunOptions& r) {
           r.retention.held_older_than = Age(p, v);
         },
         [](YAML::Emitter& o, std::string_view k, const RunOptions& r) {
           PutDuration(o, k, duration_cast<milliseconds>(r.retention.held_older_than));
         }},
        {"statistics_older_than", "duration", false,
         [](const Parser& p, const Item& v, RunOptions& r) {
           r.retention.statistics_older_than = Age(p, v);
         },
         [](YAML::Emitter& o, std::string_view k, const RunOptions& r) {
           PutDuration(o, k, duration_cast<milliseconds>(r.retention.statistics_older_than));
         }},
        {"interval", "duration", false,
         [](const Parser& p, const Item& v, RunOptions& r) {
           r.prune_interval = p.PositiveDuration(v);
         },
         [](YAML::Emitter& o, std::string_view k, const RunOptions& r) {
           PutDuration(o, k, r.prune_interval);
         }},
        {"batch", "integer", false,
         [](const Parser& p, const Item& v, RunOptions& r) {
           r.retention.batch = p.IntAtLeast(v, 1);
         },
         [](YAML::Emitter& o, std::string_view k, const RunOptions& r) {
           Put(o, k, r.retention.batch);
         }},
        {"time_budget", "duration", false,
         [](const Parser& p, const Item& v, RunOptions& r) {
           r.retention.time_budget = p.PositiveDuration(v);
         },
         [](YAML::Emitter& o, std::string_view k, const RunOptions& r) {
           PutDuration(o, k, r.retention.time_budget);
         }},
        {"lock_timeout", "duration", false,
         [](const Parser& p, const Item& v, RunOptions& r) {
           r.retention.lock_timeout = p.PositiveDuration(v);
         },
         [](YAML::Emitter& o, std::string_view k, const RunOptions& r) {
           PutDuration(o, k, r.retention.lock_timeout);
         }},
        {"statement_timeout", "duration", false,
         [](const Parser& p, const Item& v, RunOptions& r) {
           r.retention.statement_timeout = p.PositiveDuration(v);
         },
         [](YAML::Emitter& o, std::string_view k, const RunOptions& r) {
           PutDuration(o, k, r.retention.statement_timeout);
         }},
    },
    nullptr,
    [](const Parser& p, const Mapping& m, RunOptions& r) {
      if (r.retention.statement_timeout > r.retention.lock_timeout) return;
      p.Fail(*m.Find(m.Find("lock_timeout") ? "lock_timeout" : "statement_timeout"),
             "retention.lock_timeout must be shorter than retention.statement_timeout");
    },
};

}  // namespace pgq::worker::schema
