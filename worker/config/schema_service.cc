// The sections around the jobs: schedules:, http:, logging:, shutdown: and
// migrations:.

#include "config/schema_table.h"

#include <string>

#include "pgq/error.h"
#include "pgq/scheduler.h"

namespace pgq::worker::schema {
namespace {

constexpr std::array<Named<bool>, 2> kLogFormats = {{{true, "json"}, {false, "text"}}};
const Keys kLogLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};

}  // namespace

const Section<ScheduleConfig> kSchedule{{
    {"cron", "string", false,
     [](const Parser& p, const Item& v, ScheduleConfig& s) {
       s.cron = p.NonEmptyString(v);
       try {
         CronExpression::Parse(s.cron);
       } catch (const LogicError& error) {
         p.Fail(v, error.what());
       }
     },
     [](YAML::Emitter& o, std::string_view k, const ScheduleConfig& s) { Put(o, k, s.cron); },
     "required (e.g. \"0 3 * * *\")"},
    {"handler", "mapping", false,
     [](const Parser& p, const Item& v, ScheduleConfig& s) { s.handler = ParseHandler(p, v); },
     [](YAML::Emitter& o, std::string_view k, const ScheduleConfig& s) {
       PutHandler(o, k, s.handler);
     },
     "required"},
    {"clean_old", "boolean", false,
     [](const Parser& p, const Item& v, ScheduleConfig& s) { s.clean_old = p.Bool(v); },
     [](YAML::Emitter& o, std::string_view k, const ScheduleConfig& s) {
       Put(o, k, s.clean_old);
     }},
}};

const Section<HttpConfig> kHttp{{
    {"address", "string", false,
     [](const Parser& p, const Item& v, HttpConfig& h) { h.address = p.NonEmptyString(v); },
     [](YAML::Emitter& o, std::string_view k, const HttpConfig& h) { Put(o, k, h.address); }},
    {"port", "integer", false,
     [](const Parser& p, const Item& v, HttpConfig& h) {
       h.port = static_cast<int>(p.IntBetween(v, 1, 65535));
     },
     [](YAML::Emitter& o, std::string_view k, const HttpConfig& h) { Put(o, k, h.port); }},
}};

const Section<LoggingConfig> kLogging{{
    {"level", "enum", false,
     [](const Parser& p, const Item& v, LoggingConfig& l) { l.level = p.Enum(v, kLogLevels); },
     [](YAML::Emitter& o, std::string_view k, const LoggingConfig& l) { Put(o, k, l.level); }},
    {"format", "enum", false,
     [](const Parser& p, const Item& v, LoggingConfig& l) {
       l.json = ParseNamed(p, v, kLogFormats);
     },
     [](YAML::Emitter& o, std::string_view k, const LoggingConfig& l) {
       Put(o, k, NameOf(kLogFormats, l.json));
     }},
}};

const Section<WorkerConfig> kShutdown{{
    {"grace_period", "duration", false,
     [](const Parser& p, const Item& v, WorkerConfig& c) { c.shutdown_grace = p.Duration(v); },
     [](YAML::Emitter& o, std::string_view k, const WorkerConfig& c) {
       PutDuration(o, k, c.shutdown_grace);
     }},
}};

const Section<MigrationsConfig> kMigrations{{
    {"lock_timeout", "duration", false,
     [](const Parser& p, const Item& v, MigrationsConfig& m) {
       m.lock_timeout = p.PositiveDuration(v);
     },
     [](YAML::Emitter& o, std::string_view k, const MigrationsConfig& m) {
       PutDuration(o, k, m.lock_timeout);
     }},
    {"attempts", "integer", false,
     [](const Parser& p, const Item& v, MigrationsConfig& m) {
       m.attempts = static_cast<int>(p.IntBetween(v, 1, 1000));
     },
     [](YAML::Emitter& o, std::string_view k, const MigrationsConfig& m) {
       Put(o, k, m.attempts);
     }},
}};

}  // namespace pgq::worker::schema
