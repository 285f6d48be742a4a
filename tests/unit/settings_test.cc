#include "pgq/settings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "pgq/error.h"
#include "support/test_util.h"

namespace pgq {
namespace {

using ::testing::HasSubstr;

using Env = std::map<std::string, std::string>;

// A lookup over a fixed map; never touches the process environment.
DBSettings::EnvLookup LookupIn(const Env& env) {
  return [env](const char* name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

DBSettings FromMap(const Env& env) {
  return DBSettings::FromEnv(LookupIn(env));
}

using testing_util::LogicErrorMessage;

std::string FromMapError(const Env& env) {
  return LogicErrorMessage([&] { FromMap(env); });
}

TEST(DBSettingsTest, DefaultsMatchPgQueuer) {
  const DBSettings settings = DBSettings::WithPrefix();
  EXPECT_EQ(settings.prefix, "");
  EXPECT_EQ(settings.schema, "");
  EXPECT_EQ(settings.queue_table, "pgqueuer");
  EXPECT_EQ(settings.queue_table_log, "pgqueuer_log");
  EXPECT_EQ(settings.statistics_table, "pgqueuer_statistics");
  EXPECT_EQ(settings.schedules_table, "pgqueuer_schedules");
  EXPECT_EQ(settings.queue_status_type, "pgqueuer_status");
  EXPECT_EQ(settings.function, "fn_pgqueuer_changed");
  EXPECT_EQ(settings.trigger, "tg_pgqueuer_changed");
  EXPECT_EQ(settings.channel, "ch_pgqueuer");
  EXPECT_EQ(settings.durability, Durability::kDurable);
  EXPECT_TRUE(settings.widen_id);
  EXPECT_NO_THROW(settings.Validate());
}

TEST(DBSettingsTest, EmptyEnvironmentGivesDefaults) {
  EXPECT_EQ(FromMap({}), DBSettings::WithPrefix());
}

TEST(DBSettingsTest, PrefixReachesAllEightNames) {
  const DBSettings settings = FromMap({{"PGQUEUER_PREFIX", "acme_"}});
  EXPECT_EQ(settings.prefix, "acme_");
  EXPECT_EQ(settings.queue_table, "acme_pgqueuer");
  EXPECT_EQ(settings.queue_table_log, "acme_pgqueuer_log");
  EXPECT_EQ(settings.statistics_table, "acme_pgqueuer_statistics");
  EXPECT_EQ(settings.schedules_table, "acme_pgqueuer_schedules");
  EXPECT_EQ(settings.queue_status_type, "acme_pgqueuer_status");
  EXPECT_EQ(settings.function, "acme_fn_pgqueuer_changed");
  EXPECT_EQ(settings.trigger, "acme_tg_pgqueuer_changed");
  EXPECT_EQ(settings.channel, "acme_ch_pgqueuer");
  EXPECT_EQ(settings, DBSettings::WithPrefix("acme_"));
}

TEST(DBSettingsTest, ExplicitOverridesAreNeverPrefixed) {
  const DBSettings settings = FromMap({
      {"PGQUEUER_PREFIX", "acme_"},
      {"PGQUEUER_QUEUE_TABLE", "jobs"},
      {"PGQUEUER_QUEUE_TABLE_LOG", "jobs_log"},
      {"PGQUEUER_STATISTICS_TABLE", "jobs_stats"},
      {"PGQUEUER_SCHEDULES_TABLE", "jobs_cron"},
      {"PGQUEUER_QUEUE_STATUS_TYPE", "jobs_status"},
      {"PGQUEUER_FUNCTION", "jobs_fn"},
      {"PGQUEUER_TRIGGER", "jobs_tg"},
      {"PGQUEUER_CHANNEL", "jobs_ch"},
  });
  EXPECT_EQ(settings.prefix, "acme_");
  EXPECT_EQ(settings.queue_table, "jobs");
  EXPECT_EQ(settings.queue_table_log, "jobs_log");
  EXPECT_EQ(settings.statistics_table, "jobs_stats");
  EXPECT_EQ(settings.schedules_table, "jobs_cron");
  EXPECT_EQ(settings.queue_status_type, "jobs_status");
  EXPECT_EQ(settings.function, "jobs_fn");
  EXPECT_EQ(settings.trigger, "jobs_tg");
  EXPECT_EQ(settings.channel, "jobs_ch");
}

TEST(DBSettingsTest, OneOverrideLeavesTheOthersPrefixed) {
  const DBSettings settings =
      FromMap({{"PGQUEUER_PREFIX", "acme_"}, {"PGQUEUER_CHANNEL", "events"}});
  EXPECT_EQ(settings.channel, "events");
  EXPECT_EQ(settings.queue_table, "acme_pgqueuer");
  EXPECT_EQ(settings.trigger, "acme_tg_pgqueuer_changed");
}

TEST(DBSettingsTest, LegacyBareNamesWork) {
  const DBSettings settings = FromMap({
      {"DB_SCHEMA", "legacy"},
      {"QUEUE_TABLE", "q"},
      {"QUEUE_TABLE_LOG", "q_log"},
      {"STATISTICS_TABLE", "q_stats"},
      {"SCHEDULES_TABLE", "q_cron"},
      {"QUEUE_STATUS_TYPE", "q_status"},
      {"FUNCTION", "q_fn"},
      {"TRIGGER", "q_tg"},
      {"CHANNEL", "q_ch"},
      {"DURABILITY", "balanced"},
      {"WIDEN_ID", "false"},
  });
  EXPECT_EQ(settings.schema, "legacy");
  EXPECT_EQ(settings.queue_table, "q");
  EXPECT_EQ(settings.queue_table_log, "q_log");
  EXPECT_EQ(settings.statistics_table, "q_stats");
  EXPECT_EQ(settings.schedules_table, "q_cron");
  EXPECT_EQ(settings.queue_status_type, "q_status");
  EXPECT_EQ(settings.function, "q_fn");
  EXPECT_EQ(settings.trigger, "q_tg");
  EXPECT_EQ(settings.channel, "q_ch");
  EXPECT_EQ(settings.durability, Durability::kBalanced);
  EXPECT_FALSE(settings.widen_id);
}

TEST(DBSettingsTest, PgqueuerSpellingWinsOverLegacy) {
  const DBSettings settings = FromMap({
      {"PGQUEUER_SCHEMA", "new_schema"},
      {"DB_SCHEMA", "old_schema"},
      {"PGQUEUER_QUEUE_TABLE", "new_q"},
      {"QUEUE_TABLE", "old_q"},
      {"PGQUEUER_CHANNEL", "new_ch"},
      {"CHANNEL", "old_ch"},
      {"PGQUEUER_DURABILITY", "volatile"},
      {"DURABILITY", "balanced"},
      {"PGQUEUER_WIDEN_ID", "no"},
      {"WIDEN_ID", "yes"},
  });
  EXPECT_EQ(settings.schema, "new_schema");
  EXPECT_EQ(settings.queue_table, "new_q");
  EXPECT_EQ(settings.channel, "new_ch");
  EXPECT_EQ(settings.durability, Durability::kVolatile);
  EXPECT_FALSE(settings.widen_id);
}

TEST(DBSettingsTest, EmptyValueCountsAsUnset) {
  const DBSettings settings = FromMap({
      {"PGQUEUER_PREFIX", ""},
      {"PGQUEUER_QUEUE_TABLE", ""},
      {"QUEUE_TABLE", "from_legacy"},
      {"PGQUEUER_SCHEMA", ""},
      {"PGQUEUER_CHANNEL", ""},
      {"PGQUEUER_DURABILITY", ""},
      {"PGQUEUER_WIDEN_ID", ""},
  });
  EXPECT_EQ(settings.prefix, "");
  EXPECT_EQ(settings.queue_table, "from_legacy");
  EXPECT_EQ(settings.schema, "");
  EXPECT_EQ(settings.channel, "ch_pgqueuer");
  EXPECT_EQ(settings.durability, Durability::kDurable);
  EXPECT_TRUE(settings.widen_id);
}

TEST(DBSettingsTest, SchemaIsLowerCasedAndQualifiesObjects) {
  const DBSettings settings =
      FromMap({{"PGQUEUER_SCHEMA", "MyApp"}, {"PGQUEUER_PREFIX", "x_"}});
  EXPECT_EQ(settings.schema, "myapp");
  EXPECT_EQ(settings.QueueTable(), "myapp.x_pgqueuer");
  EXPECT_EQ(settings.LogTable(), "myapp.x_pgqueuer_log");
  EXPECT_EQ(settings.StatisticsTable(), "myapp.x_pgqueuer_statistics");
  EXPECT_EQ(settings.SchedulesTable(), "myapp.x_pgqueuer_schedules");
  EXPECT_EQ(settings.StatusType(), "myapp.x_pgqueuer_status");
  EXPECT_EQ(settings.FunctionName(), "myapp.x_fn_pgqueuer_changed");
  EXPECT_EQ(settings.Qualify("other"), "myapp.other");
  EXPECT_EQ(settings.SchemaExpr(), "'myapp'");
  // Trigger and channel stay unqualified.
  EXPECT_EQ(settings.trigger, "x_tg_pgqueuer_changed");
  EXPECT_EQ(settings.channel, "x_ch_pgqueuer");
}

TEST(DBSettingsTest, NoSchemaLeavesNamesUnqualified) {
  const DBSettings settings = DBSettings::WithPrefix();
  EXPECT_EQ(settings.QueueTable(), "pgqueuer");
  EXPECT_EQ(settings.FunctionName(), "fn_pgqueuer_changed");
  EXPECT_EQ(settings.Qualify("other"), "other");
  EXPECT_EQ(settings.SchemaExpr(), "current_schema()");
}

TEST(DBSettingsTest, DottedNameAllowedWithoutSchema) {
  const DBSettings settings = FromMap({{"PGQUEUER_QUEUE_TABLE", "app.jobs"}});
  EXPECT_EQ(settings.queue_table, "app.jobs");
  EXPECT_EQ(settings.QueueTable(), "app.jobs");
}

TEST(DBSettingsTest, DottedNameWithSchemaRejected) {
  EXPECT_THAT(FromMapError({{"PGQUEUER_SCHEMA", "app"},
                            {"PGQUEUER_QUEUE_TABLE", "other.jobs"}}),
              HasSubstr("cannot be combined with PGQUEUER_SCHEMA"));
  EXPECT_THAT(FromMapError({{"PGQUEUER_SCHEMA", "app"},
                            {"PGQUEUER_QUEUE_TABLE", "other.jobs"}}),
              HasSubstr("PGQUEUER_QUEUE_TABLE \"other.jobs\""));
  // The message names the legacy variable when that is where the value was.
  EXPECT_THAT(FromMapError({{"DB_SCHEMA", "app"}, {"FUNCTION", "s.fn"}}),
              HasSubstr("invalid FUNCTION \"s.fn\""));

  // The same rule holds for a struct edited by hand.
  DBSettings settings = DBSettings::WithPrefix();
  settings.schema = "app";
  settings.schedules_table = "other.cron";
  EXPECT_THAT(LogicErrorMessage([&] { settings.Validate(); }),
              HasSubstr("cannot be combined with PGQUEUER_SCHEMA"));
}

TEST(DBSettingsTest, MalformedDottedNamesRejected) {
  for (const char* bad : {"a.b.c", ".jobs", "app.", "a..b", "1app.jobs"}) {
    EXPECT_THAT(
        FromMapError({{"PGQUEUER_QUEUE_TABLE", bad}}),
        HasSubstr(std::string("invalid PGQUEUER_QUEUE_TABLE \"") + bad + "\""))
        << bad;
  }
}

TEST(DBSettingsTest, BadPrefixRejected) {
  EXPECT_THAT(FromMapError({{"PGQUEUER_PREFIX", "1bad"}}),
              HasSubstr("invalid PGQUEUER_PREFIX \"1bad\": must match "
                        "^[A-Za-z_][A-Za-z0-9_]*$"));
  EXPECT_THAT(LogicErrorMessage([] { DBSettings::WithPrefix("a-b"); }),
              HasSubstr("invalid PGQUEUER_PREFIX \"a-b\""));
  EXPECT_THAT(LogicErrorMessage([] { DBSettings::WithPrefix("a.b"); }),
              HasSubstr("invalid PGQUEUER_PREFIX \"a.b\""));
}

TEST(DBSettingsTest, BadSchemaRejected) {
  EXPECT_THAT(FromMapError({{"PGQUEUER_SCHEMA", "a.b"}}),
              HasSubstr("invalid PGQUEUER_SCHEMA \"a.b\": must be a single"));
  EXPECT_THAT(FromMapError({{"PGQUEUER_SCHEMA", "9lives"}}),
              HasSubstr("invalid PGQUEUER_SCHEMA \"9lives\""));
  EXPECT_THAT(FromMapError({{"DB_SCHEMA", "has space"}}),
              HasSubstr("invalid DB_SCHEMA \"has space\""));
  EXPECT_THAT(FromMapError({{"PGQUEUER_SCHEMA", "\"Quoted\""}}),
              HasSubstr("invalid PGQUEUER_SCHEMA"));

  // A hand-set schema must already be lower case (FromEnv lower-cases it).
  DBSettings settings = DBSettings::WithPrefix();
  settings.schema = "MyApp";
  EXPECT_THAT(LogicErrorMessage([&] { settings.Validate(); }),
              HasSubstr("invalid PGQUEUER_SCHEMA \"MyApp\": must be lower"));
}

TEST(DBSettingsTest, BadChannelAndTriggerRejected) {
  EXPECT_THAT(FromMapError({{"PGQUEUER_CHANNEL", "my-channel"}}),
              HasSubstr("invalid PGQUEUER_CHANNEL \"my-channel\": must match "
                        "^[A-Za-z_][A-Za-z0-9_]*$"));
  // Channel and trigger are never schema-qualified, even without a schema.
  EXPECT_THAT(FromMapError({{"PGQUEUER_CHANNEL", "app.ch"}}),
              HasSubstr("invalid PGQUEUER_CHANNEL \"app.ch\""));
  EXPECT_THAT(FromMapError({{"TRIGGER", "app.tg"}}),
              HasSubstr("invalid TRIGGER \"app.tg\""));

  DBSettings settings = DBSettings::WithPrefix();
  settings.channel = "";
  EXPECT_THAT(LogicErrorMessage([&] { settings.Validate(); }),
              HasSubstr("invalid PGQUEUER_CHANNEL \"\""));
}

TEST(DBSettingsTest, ValidateRejectsEveryBadField) {
  std::string DBSettings::*const fields[] = {
      &DBSettings::queue_table,       &DBSettings::queue_table_log,
      &DBSettings::statistics_table,  &DBSettings::schedules_table,
      &DBSettings::queue_status_type, &DBSettings::function,
      &DBSettings::trigger,           &DBSettings::channel,
  };
  for (auto field : fields) {
    DBSettings settings = DBSettings::WithPrefix();
    settings.*field = "bad name";
    EXPECT_THROW(settings.Validate(), LogicError);
  }
}

TEST(DurabilityTest, ParseAndRoundTrip) {
  EXPECT_EQ(ParseDurability("volatile"), Durability::kVolatile);
  EXPECT_EQ(ParseDurability("balanced"), Durability::kBalanced);
  EXPECT_EQ(ParseDurability("durable"), Durability::kDurable);
  for (Durability level :
       {Durability::kVolatile, Durability::kBalanced, Durability::kDurable}) {
    EXPECT_EQ(ParseDurability(ToString(level)), level);
  }
}

TEST(DurabilityTest, UnknownLevelRejected) {
  for (const char* bad : {"", "DURABLE", "logged", "durable "}) {
    const std::string message =
        LogicErrorMessage([&] { ParseDurability(bad); });
    EXPECT_THAT(message, HasSubstr("volatile")) << bad;
    EXPECT_THAT(message, HasSubstr("balanced")) << bad;
    EXPECT_THAT(message, HasSubstr("durable")) << bad;
  }
  EXPECT_THAT(FromMapError({{"PGQUEUER_DURABILITY", "safe"}}),
              HasSubstr("invalid PGQUEUER_DURABILITY \"safe\": expected one "
                        "of volatile, balanced, durable"));
  EXPECT_THAT(FromMapError({{"DURABILITY", "safe"}}),
              HasSubstr("invalid DURABILITY \"safe\""));
}

TEST(DurabilityTest, ExactUnloggedMatrix) {
  const DurabilityPolicy volatile_policy = PolicyFor(Durability::kVolatile);
  EXPECT_TRUE(volatile_policy.queue_unlogged);
  EXPECT_TRUE(volatile_policy.log_unlogged);
  EXPECT_TRUE(volatile_policy.statistics_unlogged);
  EXPECT_TRUE(volatile_policy.schedules_unlogged);

  const DurabilityPolicy balanced = PolicyFor(Durability::kBalanced);
  EXPECT_FALSE(balanced.queue_unlogged);
  EXPECT_TRUE(balanced.log_unlogged);
  EXPECT_TRUE(balanced.statistics_unlogged);
  EXPECT_FALSE(balanced.schedules_unlogged);

  const DurabilityPolicy durable = PolicyFor(Durability::kDurable);
  EXPECT_FALSE(durable.queue_unlogged);
  EXPECT_FALSE(durable.log_unlogged);
  EXPECT_FALSE(durable.statistics_unlogged);
  EXPECT_FALSE(durable.schedules_unlogged);
}

TEST(WidenIdTest, ParsesBooleanSpellings) {
  for (const char* yes : {"true", "TRUE", "True", "1", "yes", "YES"}) {
    EXPECT_TRUE(FromMap({{"PGQUEUER_WIDEN_ID", yes}}).widen_id) << yes;
  }
  for (const char* no : {"false", "FALSE", "False", "0", "no", "No"}) {
    EXPECT_FALSE(FromMap({{"PGQUEUER_WIDEN_ID", no}}).widen_id) << no;
  }
}

TEST(WidenIdTest, RejectsOtherValues) {
  for (const char* bad : {"maybe", "2", "y", " true", "off"}) {
    EXPECT_THAT(
        FromMapError({{"PGQUEUER_WIDEN_ID", bad}}),
        HasSubstr(std::string("invalid PGQUEUER_WIDEN_ID \"") + bad + "\""))
        << bad;
  }
  EXPECT_THAT(FromMapError({{"WIDEN_ID", "maybe"}}),
              HasSubstr("invalid WIDEN_ID \"maybe\""));
}

TEST(IsIdentifierTest, AcceptsAndRejects) {
  EXPECT_TRUE(IsIdentifier("a"));
  EXPECT_TRUE(IsIdentifier("_"));
  EXPECT_TRUE(IsIdentifier("Abc_123"));
  EXPECT_FALSE(IsIdentifier(""));
  EXPECT_FALSE(IsIdentifier("1a"));
  EXPECT_FALSE(IsIdentifier("a-b"));
  EXPECT_FALSE(IsIdentifier("a.b"));
  EXPECT_FALSE(IsIdentifier("a b"));
  EXPECT_FALSE(IsIdentifier("caf\xc3\xa9"));
}

}  // namespace
}  // namespace pgq
