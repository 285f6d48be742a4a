#include "pgq/schema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pgq/error.h"
#include "pgq/settings.h"
#include "support/test_util.h"

namespace pgq {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

using Statements = std::vector<std::string>;

Schema DefaultSchema() { return Schema(DBSettings::WithPrefix()); }

// prefix "acme_" in schema "billing".
DBSettings AcmeBilling() {
  DBSettings settings = DBSettings::WithPrefix("acme_");
  settings.schema = "billing";
  return settings;
}

DBSettings WithDurability(Durability level) {
  DBSettings settings = DBSettings::WithPrefix();
  settings.durability = level;
  return settings;
}

DBSettings WithWidenId(bool widen) {
  DBSettings settings = DBSettings::WithPrefix();
  settings.widen_id = widen;
  return settings;
}

// Collapses every run of whitespace to one space, so checks do not depend on
// line breaks and indentation.
std::string Squash(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

std::size_t Count(std::string_view haystack, std::string_view needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string_view::npos;
       pos = haystack.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

std::string Joined(const Statements& statements) {
  std::string all;
  for (const auto& s : statements) all += s + "\n";
  return all;
}

// The statements (squashed) that contain `needle` (squashed).
Statements Containing(const Statements& statements, std::string_view needle) {
  Statements out;
  const std::string want = Squash(needle);
  for (const auto& s : statements) {
    if (Squash(s).find(want) != std::string::npos) out.push_back(Squash(s));
  }
  return out;
}

// Index of the first statement containing `needle`, or -1.
int IndexOf(const Statements& statements, std::string_view needle) {
  const std::string want = Squash(needle);
  for (std::size_t i = 0; i < statements.size(); ++i) {
    if (Squash(statements[i]).find(want) != std::string::npos) return static_cast<int>(i);
  }
  return -1;
}

// Removes dollar-quoted bodies ($tag$...$tag$), single-quoted literals and
// double-quoted identifiers, leaving the statement's own SQL skeleton.
std::string StripQuoted(std::string_view sql) {
  std::string out;
  std::size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == '$') {
      const auto close = sql.find('$', i + 1);
      if (close != std::string_view::npos) {
        const std::string_view tag = sql.substr(i, close - i + 1);
        const bool is_tag = std::all_of(tag.begin() + 1, tag.end() - 1, [](char t) {
          return std::isalnum(static_cast<unsigned char>(t)) || t == '_';
        });
        if (is_tag) {
          const auto end = sql.find(tag, close + 1);
          if (end == std::string_view::npos) return out + "<unterminated dollar quote>";
          out += "$$";
          i = end + tag.size();
          continue;
        }
      }
    }
    if (c == '\'' || c == '"') {
      std::size_t j = i + 1;
      while (j < sql.size()) {
        if (sql[j] == c) {
          if (j + 1 < sql.size() && sql[j + 1] == c) {
            j += 2;  // doubled quote
            continue;
          }
          break;
        }
        ++j;
      }
      if (j >= sql.size()) return out + "<unterminated quote>";
      out.push_back(c);
      out.push_back(c);
      i = j + 1;
      continue;
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

// Every statement is exactly one SQL statement ending in ';', starting at
// column 0 and without trailing blanks (what `pgq sql` prints).
void ExpectWellFormed(const Statements& statements) {
  ASSERT_FALSE(statements.empty());
  for (const auto& s : statements) {
    ASSERT_FALSE(s.empty());
    EXPECT_EQ(s.back(), ';') << s;
    EXPECT_FALSE(std::isspace(static_cast<unsigned char>(s.front()))) << s;
    EXPECT_EQ(Count(StripQuoted(s), ";"), 1u) << "not exactly one statement: " << s;
    EXPECT_THAT(s, Not(HasSubstr(" \n"))) << s;
    EXPECT_THAT(s, Not(HasSubstr("\t"))) << s;
  }
}

TEST(SchemaHelpersTest, StripQuotedRemovesBodiesAndLiterals) {
  EXPECT_EQ(StripQuoted("DO $pgq$ a; b; $pgq$;"), "DO $$;");
  EXPECT_EQ(StripQuoted("SELECT 'a;''b', \"x;\";"), "SELECT '', \"\";");
  EXPECT_EQ(Count(StripQuoted("A; B;"), ";"), 2u);
  EXPECT_EQ(Squash("  a \n\n   b  "), "a b");
}

// ----------------------------------------------------------------- install

TEST(SchemaInstallTest, Deterministic) {
  const Schema schema = DefaultSchema();
  EXPECT_EQ(schema.InstallStatements(), schema.InstallStatements());
  EXPECT_EQ(schema.InstallStatements(), DefaultSchema().InstallStatements());
  const Schema acme(AcmeBilling());
  EXPECT_EQ(acme.InstallStatements(), acme.InstallStatements());
  EXPECT_NE(acme.InstallStatements(), schema.InstallStatements());
}

TEST(SchemaInstallTest, StatementsAreWellFormed) {
  ExpectWellFormed(DefaultSchema().InstallStatements());
  ExpectWellFormed(Schema(AcmeBilling()).InstallStatements());
}

TEST(SchemaInstallTest, OrderFollowsSpec) {
  // Spec 1.10: enum, queue table + 6 indexes, log + 4 indexes, statistics +
  // unique index, schedules, function, trigger.
  const Statements all = DefaultSchema().InstallStatements();
  ASSERT_EQ(all.size(), 18u);
  const std::vector<std::string> expected_starts = {
      "CREATE TYPE pgqueuer_status AS ENUM",
      "CREATE TABLE pgqueuer (",
      "CREATE INDEX pgqueuer_priority_id_id1_idx ON pgqueuer ",
      "CREATE INDEX pgqueuer_updated_id_id1_idx ON pgqueuer ",
      "CREATE INDEX pgqueuer_queue_manager_id_idx ON pgqueuer ",
      "CREATE INDEX pgqueuer_ep_prio_id_idx ON pgqueuer ",
      "CREATE INDEX pgqueuer_ep_ea_idx ON pgqueuer ",
      "CREATE UNIQUE INDEX pgqueuer_unique_dedupe_key ON pgqueuer ",
      "CREATE TABLE pgqueuer_log (",
      "CREATE INDEX pgqueuer_log_not_aggregated ON pgqueuer_log ",
      "CREATE INDEX pgqueuer_log_created ON pgqueuer_log ",
      "CREATE INDEX pgqueuer_log_status ON pgqueuer_log ",
      "CREATE INDEX pgqueuer_log_job_id_status ON pgqueuer_log ",
      "CREATE TABLE pgqueuer_statistics (",
      "CREATE UNIQUE INDEX pgqueuer_statistics_unique_count ON pgqueuer_statistics ",
      "CREATE TABLE pgqueuer_schedules (",
      "CREATE FUNCTION fn_pgqueuer_changed() RETURNS TRIGGER",
      "CREATE TRIGGER tg_pgqueuer_changed ",
  };
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_THAT(Squash(all[i]), StartsWith(expected_starts[i])) << "statement " << i;
  }
}

TEST(SchemaInstallTest, DefaultNamesPresent) {
  const std::string sql = Schema::Render(DefaultSchema().InstallStatements());
  for (const char* name : {"pgqueuer", "pgqueuer_log", "pgqueuer_statistics",
                           "pgqueuer_schedules", "pgqueuer_status", "fn_pgqueuer_changed",
                           "tg_pgqueuer_changed"}) {
    EXPECT_THAT(sql, HasSubstr(name));
  }
  // No schema configured: nothing is qualified and no schema is created.
  EXPECT_THAT(sql, Not(HasSubstr("CREATE SCHEMA")));
  EXPECT_THAT(sql, Not(HasSubstr(".pgqueuer")));
}

TEST(SchemaInstallTest, EnumLabelsInCreationOrder) {
  const auto enums = Containing(DefaultSchema().InstallStatements(), "CREATE TYPE");
  ASSERT_EQ(enums.size(), 1u);
  EXPECT_EQ(enums[0],
            "CREATE TYPE pgqueuer_status AS ENUM ('queued', 'picked', 'successful', "
            "'exception', 'canceled', 'deleted', 'failed');");
}

TEST(SchemaInstallTest, QueueTableColumns) {
  const auto tables = Containing(DefaultSchema().InstallStatements(), "CREATE TABLE pgqueuer (");
  ASSERT_EQ(tables.size(), 1u);
  const std::string& t = tables[0];
  EXPECT_THAT(t, HasSubstr("id BIGSERIAL PRIMARY KEY,"));
  EXPECT_THAT(t, HasSubstr("priority INT NOT NULL,"));
  EXPECT_THAT(t, HasSubstr("queue_manager_id UUID,"));
  for (const char* ts : {"created", "updated", "heartbeat", "execute_after"}) {
    EXPECT_THAT(t, HasSubstr(std::string(ts) +
                             " TIMESTAMP WITH TIME ZONE DEFAULT NOW() NOT NULL,"));
  }
  EXPECT_THAT(t, HasSubstr("status pgqueuer_status NOT NULL,"));
  EXPECT_THAT(t, HasSubstr("entrypoint TEXT NOT NULL,"));
  EXPECT_THAT(t, HasSubstr("dedupe_key TEXT,"));
  EXPECT_THAT(t, HasSubstr("payload BYTEA,"));
  EXPECT_THAT(t, HasSubstr("headers JSONB,"));
  EXPECT_THAT(t, HasSubstr("attempts INT NOT NULL DEFAULT 0"));
}

TEST(SchemaInstallTest, QueueIndexesAndPredicates) {
  const Statements all = DefaultSchema().InstallStatements();
  const std::map<std::string, std::string> expected = {
      {"pgqueuer_priority_id_id1_idx",
       "CREATE INDEX pgqueuer_priority_id_id1_idx ON pgqueuer (priority ASC, id DESC) "
       "INCLUDE (id) WHERE status = 'queued';"},
      {"pgqueuer_updated_id_id1_idx",
       "CREATE INDEX pgqueuer_updated_id_id1_idx ON pgqueuer (updated ASC, id DESC) "
       "INCLUDE (id) WHERE status = 'picked';"},
      {"pgqueuer_queue_manager_id_idx",
       "CREATE INDEX pgqueuer_queue_manager_id_idx ON pgqueuer (queue_manager_id) "
       "WHERE queue_manager_id IS NOT NULL;"},
      {"pgqueuer_ep_prio_id_idx",
       "CREATE INDEX pgqueuer_ep_prio_id_idx ON pgqueuer (entrypoint, priority DESC, id ASC) "
       "WHERE status = 'queued';"},
      {"pgqueuer_ep_ea_idx",
       "CREATE INDEX pgqueuer_ep_ea_idx ON pgqueuer (entrypoint, execute_after) "
       "WHERE status = 'queued';"},
      {"pgqueuer_unique_dedupe_key",
       "CREATE UNIQUE INDEX pgqueuer_unique_dedupe_key ON pgqueuer (dedupe_key) "
       "WHERE ((status IN ('queued', 'picked') AND dedupe_key IS NOT NULL));"},
  };
  for (const auto& [name, sql] : expected) {
    const auto found = Containing(all, "INDEX " + name + " ");
    ASSERT_EQ(found.size(), 1u) << name;
    EXPECT_EQ(found[0], sql);
  }
  EXPECT_EQ(Containing(all, " ON pgqueuer (").size(), 6u);
  // The heartbeat index belongs to the upgrade path only (spec 1.4 #7).
  EXPECT_TRUE(Containing(all, "heartbeat_id_id1_idx").empty());
}

TEST(SchemaInstallTest, LogAndStatisticsIndexes) {
  const Statements all = DefaultSchema().InstallStatements();
  const auto log = Containing(all, " ON pgqueuer_log ");
  EXPECT_THAT(log,
              ElementsAre("CREATE INDEX pgqueuer_log_not_aggregated ON pgqueuer_log ((1)) "
                          "WHERE NOT aggregated;",
                          "CREATE INDEX pgqueuer_log_created ON pgqueuer_log (created);",
                          "CREATE INDEX pgqueuer_log_status ON pgqueuer_log (status);",
                          "CREATE INDEX pgqueuer_log_job_id_status ON pgqueuer_log "
                          "(job_id, created DESC);"));
  const auto stats = Containing(all, "pgqueuer_statistics_unique_count");
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0],
            "CREATE UNIQUE INDEX pgqueuer_statistics_unique_count ON pgqueuer_statistics ( "
            "priority, DATE_TRUNC('sec', created AT TIME ZONE 'UTC'), status, entrypoint );");
}

TEST(SchemaInstallTest, TriggerFunctionNotifiesOnChannel) {
  const auto functions = Containing(DefaultSchema().InstallStatements(), "FUNCTION fn_pgqueuer");
  // The function itself and the trigger's EXECUTE FUNCTION.
  ASSERT_EQ(functions.size(), 2u);
  const std::string& fn = functions[0];
  EXPECT_THAT(fn, StartsWith("CREATE FUNCTION fn_pgqueuer_changed() RETURNS TRIGGER AS $"));
  EXPECT_THAT(fn, HasSubstr("LANGUAGE plpgsql;"));
  // Channel literal: once as pg_notify's channel, once as the JSON value.
  EXPECT_THAT(fn, HasSubstr("pg_notify( 'ch_pgqueuer', json_build_object("));
  EXPECT_EQ(Count(fn, "'ch_pgqueuer'"), 2u);
  EXPECT_THAT(fn, HasSubstr("'channel', 'ch_pgqueuer'"));
  EXPECT_THAT(fn, HasSubstr("'operation', lower(TG_OP)"));
  EXPECT_THAT(fn, HasSubstr("'sent_at', NOW()"));
  EXPECT_THAT(fn, HasSubstr("'table', TG_TABLE_NAME"));
  EXPECT_THAT(fn, HasSubstr("'type', 'table_changed_event'"));
  EXPECT_THAT(fn, HasSubstr(")::text"));
  // Emits for UPDATE only when OLD differs from NEW (never, statement-level).
  EXPECT_THAT(fn, HasSubstr("IF TG_OP = 'UPDATE' AND OLD IS DISTINCT FROM NEW THEN"));
  EXPECT_THAT(fn, HasSubstr("ELSIF TG_OP IN ('DELETE', 'INSERT', 'TRUNCATE') THEN"));
}

TEST(SchemaInstallTest, TriggerIsStatementLevelOnAllFourEvents) {
  const Statements all = DefaultSchema().InstallStatements();
  const auto triggers = Containing(all, "CREATE TRIGGER");
  ASSERT_EQ(triggers.size(), 1u);
  EXPECT_EQ(triggers[0],
            "CREATE TRIGGER tg_pgqueuer_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            "ON pgqueuer EXECUTE FUNCTION fn_pgqueuer_changed();");
  std::string upper = Schema::Render(all);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  EXPECT_THAT(Squash(upper), Not(HasSubstr("FOR EACH ROW")));
}

TEST(SchemaInstallTest, PrefixAndSchemaQualifyTablesEnumAndFunctionOnly) {
  const Statements all = Schema(AcmeBilling()).InstallStatements();
  ASSERT_EQ(all.size(), 19u);
  EXPECT_EQ(all[0], "CREATE SCHEMA IF NOT EXISTS billing;");
  const std::string sql = Squash(Joined(all));

  EXPECT_THAT(sql, HasSubstr("CREATE TYPE billing.acme_pgqueuer_status AS ENUM"));
  EXPECT_THAT(sql, HasSubstr("CREATE TABLE billing.acme_pgqueuer ("));
  EXPECT_THAT(sql, HasSubstr("CREATE TABLE billing.acme_pgqueuer_log ("));
  EXPECT_THAT(sql, HasSubstr("CREATE TABLE billing.acme_pgqueuer_statistics ("));
  EXPECT_THAT(sql, HasSubstr("CREATE TABLE billing.acme_pgqueuer_schedules ("));
  EXPECT_THAT(sql, HasSubstr("status billing.acme_pgqueuer_status NOT NULL"));
  EXPECT_THAT(sql, HasSubstr("CREATE FUNCTION billing.acme_fn_pgqueuer_changed()"));

  // Index names carry the bare (prefixed) table name, never the schema.
  EXPECT_THAT(sql, HasSubstr("CREATE INDEX acme_pgqueuer_ep_prio_id_idx ON billing.acme_pgqueuer "
                             "(entrypoint, priority DESC, id ASC) WHERE status = 'queued';"));
  EXPECT_THAT(sql, HasSubstr("CREATE UNIQUE INDEX acme_pgqueuer_unique_dedupe_key ON "
                             "billing.acme_pgqueuer (dedupe_key)"));
  EXPECT_THAT(sql, HasSubstr("CREATE INDEX acme_pgqueuer_log_job_id_status ON "
                             "billing.acme_pgqueuer_log (job_id, created DESC);"));
  EXPECT_THAT(sql, HasSubstr("CREATE UNIQUE INDEX acme_pgqueuer_statistics_unique_count ON "
                             "billing.acme_pgqueuer_statistics ("));
  const std::regex index_name(R"(INDEX ([^ ]+) ON )");
  int indexes = 0;
  for (std::sregex_iterator it(sql.begin(), sql.end(), index_name), end; it != end; ++it) {
    ++indexes;
    const std::string name = (*it)[1];
    EXPECT_EQ(name.find('.'), std::string::npos) << name;
    EXPECT_THAT(name, StartsWith("acme_pgqueuer"));
  }
  EXPECT_EQ(indexes, 11);

  // Trigger name unqualified; its table and function qualified.
  EXPECT_THAT(sql, HasSubstr("CREATE TRIGGER acme_tg_pgqueuer_changed AFTER INSERT OR UPDATE OR "
                             "DELETE OR TRUNCATE ON billing.acme_pgqueuer EXECUTE FUNCTION "
                             "billing.acme_fn_pgqueuer_changed();"));
  EXPECT_THAT(sql, Not(HasSubstr("billing.acme_tg_pgqueuer_changed")));

  // The channel is prefixed and never qualified.
  EXPECT_EQ(Count(sql, "'acme_ch_pgqueuer'"), 2u);
  EXPECT_EQ(Count(sql, "'ch_pgqueuer'"), 0u);
  EXPECT_THAT(sql, Not(HasSubstr("billing.acme_ch_pgqueuer")));

  // No object is referred to by its bare name.
  const std::regex bare(
      R"((^|[^.\w])acme_(pgqueuer|pgqueuer_log|pgqueuer_statistics|pgqueuer_schedules|)"
      R"(pgqueuer_status|fn_pgqueuer_changed)\b)");
  std::smatch match;
  EXPECT_FALSE(std::regex_search(sql, match, bare)) << "bare name: " << match.str(0);
}

TEST(SchemaInstallTest, CreateSchemaCanBeSkipped) {
  const Schema schema(AcmeBilling());
  const Statements with = schema.InstallStatements(true);
  const Statements without = schema.InstallStatements(false);
  EXPECT_EQ(Count(Joined(with), "CREATE SCHEMA IF NOT EXISTS billing;"), 1u);
  EXPECT_THAT(Joined(without), Not(HasSubstr("CREATE SCHEMA")));
  ASSERT_EQ(without.size() + 1, with.size());
  EXPECT_TRUE(std::equal(without.begin(), without.end(), with.begin() + 1));
  // Without a configured schema there is nothing to create either way.
  EXPECT_EQ(DefaultSchema().InstallStatements(true), DefaultSchema().InstallStatements(false));
}

// -------------------------------------------------------------- durability

struct DurabilityCase {
  Durability level;
  std::size_t unlogged;
  bool queue, log, statistics, schedules;  // true = UNLOGGED
};

class SchemaDurabilityTest : public ::testing::TestWithParam<DurabilityCase> {};

TEST_P(SchemaDurabilityTest, InstallWritesUnloggedTablesPerLevel) {
  const auto& c = GetParam();
  const Schema schema(WithDurability(c.level));
  const std::string sql = Squash(Schema::Render(schema.InstallStatements()));
  EXPECT_EQ(Count(sql, "CREATE UNLOGGED TABLE"), c.unlogged);
  EXPECT_EQ(Count(sql, "CREATE TABLE") + Count(sql, "CREATE UNLOGGED TABLE"), 4u);
  auto check = [&](const std::string& table, bool unlogged) {
    EXPECT_THAT(sql, HasSubstr(std::string(unlogged ? "CREATE UNLOGGED TABLE " : "CREATE TABLE ") +
                               table + " ("))
        << table;
  };
  check("pgqueuer", c.queue);
  check("pgqueuer_log", c.log);
  check("pgqueuer_statistics", c.statistics);
  check("pgqueuer_schedules", c.schedules);
}

TEST_P(SchemaDurabilityTest, DurabilityStatementsMatrix) {
  const auto& c = GetParam();
  // The level argument decides, not the settings' own durability.
  const Schema schema(WithDurability(c.level == Durability::kDurable ? Durability::kVolatile
                                                                      : Durability::kDurable));
  auto set = [](bool unlogged) { return unlogged ? " SET UNLOGGED;" : " SET LOGGED;"; };
  EXPECT_THAT(schema.DurabilityStatements(c.level),
              ElementsAre(std::string("ALTER TABLE pgqueuer") + set(c.queue),
                          std::string("ALTER TABLE pgqueuer_log") + set(c.log),
                          std::string("ALTER TABLE pgqueuer_statistics") + set(c.statistics),
                          std::string("ALTER TABLE pgqueuer_schedules") + set(c.schedules)));
}

INSTANTIATE_TEST_SUITE_P(
    Levels, SchemaDurabilityTest,
    ::testing::Values(DurabilityCase{Durability::kVolatile, 4, true, true, true, true},
                      DurabilityCase{Durability::kBalanced, 2, false, true, true, false},
                      DurabilityCase{Durability::kDurable, 0, false, false, false, false}),
    [](const ::testing::TestParamInfo<DurabilityCase>& param_info) {
      return std::string(ToString(param_info.param.level));
    });

TEST(SchemaDurabilityQualifiedTest, UsesQualifiedTables) {
  EXPECT_THAT(Schema(AcmeBilling()).DurabilityStatements(Durability::kBalanced),
              ElementsAre("ALTER TABLE billing.acme_pgqueuer SET LOGGED;",
                          "ALTER TABLE billing.acme_pgqueuer_log SET UNLOGGED;",
                          "ALTER TABLE billing.acme_pgqueuer_statistics SET UNLOGGED;",
                          "ALTER TABLE billing.acme_pgqueuer_schedules SET LOGGED;"));
}

// ----------------------------------------------------------------- upgrade

TEST(SchemaUpgradeTest, DeterministicAndWellFormed) {
  const Schema schema = DefaultSchema();
  EXPECT_EQ(schema.UpgradeStatements(), schema.UpgradeStatements());
  ExpectWellFormed(schema.UpgradeStatements());
  ExpectWellFormed(Schema(AcmeBilling()).UpgradeStatements());
  ExpectWellFormed(Schema(WithWidenId(false)).UpgradeStatements());
}

TEST(SchemaUpgradeTest, OnlyIdempotentCreates) {
  // Every CREATE is IF NOT EXISTS or OR REPLACE. The one exception is the
  // trigger: CREATE OR REPLACE TRIGGER needs PostgreSQL 14 and PG 13 is
  // supported, so it must be re-created right after DROP TRIGGER IF EXISTS.
  for (const DBSettings& settings : {DBSettings::WithPrefix(), AcmeBilling()}) {
    const Statements all = Schema(settings).UpgradeStatements();
    const std::regex create(R"(\bCREATE\b)");
    const std::regex idempotent(
        R"(^CREATE (OR REPLACE |(UNIQUE |UNLOGGED )?(TABLE|INDEX|SCHEMA) IF NOT EXISTS ))");
    int triggers = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
      const std::string skeleton = Squash(StripQuoted(all[i]));
      const auto creates = std::distance(
          std::sregex_iterator(skeleton.begin(), skeleton.end(), create), std::sregex_iterator());
      if (creates == 0) continue;
      EXPECT_EQ(creates, 1) << skeleton;
      if (skeleton.rfind("CREATE TRIGGER ", 0) == 0) {
        ++triggers;
        ASSERT_GT(i, 0u);
        EXPECT_EQ(all[i - 1], "DROP TRIGGER IF EXISTS " + settings.trigger + " ON " +
                                  settings.QueueTable() + ";");
        continue;
      }
      EXPECT_TRUE(std::regex_search(skeleton, idempotent)) << "not idempotent: " << skeleton;
    }
    EXPECT_EQ(triggers, 1);
    // Other DDL guards too.
    for (const auto& s : all) {
      const std::string q = Squash(s);
      if (q.rfind("ALTER TABLE", 0) == 0 && q.find("ADD COLUMN") != std::string::npos) {
        EXPECT_THAT(q, HasSubstr("ADD COLUMN IF NOT EXISTS")) << q;
      }
      if (q.rfind("DROP ", 0) == 0) {
        EXPECT_THAT(q, HasSubstr(" IF EXISTS ")) << q;
      }
      if (q.rfind("ALTER TYPE", 0) == 0) {
        EXPECT_THAT(q, HasSubstr("ADD VALUE IF NOT EXISTS")) << q;
      }
    }
  }
}

TEST(SchemaUpgradeTest, AddsEnumValuesIfNotExists) {
  const Statements all = DefaultSchema().UpgradeStatements();
  for (const char* label : {"successful", "exception", "canceled", "deleted", "failed"}) {
    const std::string want =
        std::string("ALTER TYPE pgqueuer_status ADD VALUE IF NOT EXISTS '") + label + "';";
    EXPECT_EQ(std::count(all.begin(), all.end(), want), 1) << want;
  }
  EXPECT_EQ(Containing(all, "ADD VALUE").size(), 5u);
}

TEST(SchemaUpgradeTest, CreatesDequeueIndexes) {
  const Statements all = DefaultSchema().UpgradeStatements();
  EXPECT_THAT(Containing(all, "pgqueuer_ep_prio_id_idx"),
              ElementsAre("CREATE INDEX IF NOT EXISTS pgqueuer_ep_prio_id_idx ON pgqueuer "
                          "(entrypoint, priority DESC, id ASC) WHERE status = 'queued';"));
  EXPECT_THAT(Containing(all, "pgqueuer_ep_ea_idx"),
              ElementsAre("CREATE INDEX IF NOT EXISTS pgqueuer_ep_ea_idx ON pgqueuer "
                          "(entrypoint, execute_after) WHERE status = 'queued';"));
  EXPECT_THAT(Containing(all, "pgqueuer_unique_dedupe_key"),
              ElementsAre("CREATE UNIQUE INDEX IF NOT EXISTS pgqueuer_unique_dedupe_key ON "
                          "pgqueuer (dedupe_key) WHERE ((status IN ('queued', 'picked') AND "
                          "dedupe_key IS NOT NULL));"));
  EXPECT_THAT(Containing(all, "pgqueuer_log_job_id_status"),
              ElementsAre("CREATE INDEX IF NOT EXISTS pgqueuer_log_job_id_status ON pgqueuer_log "
                          "(job_id, created DESC);"));
  EXPECT_THAT(Containing(all, "pgqueuer_heartbeat_id_id1_idx"),
              ElementsAre("CREATE INDEX IF NOT EXISTS pgqueuer_heartbeat_id_id1_idx ON pgqueuer "
                          "(heartbeat ASC, id DESC) INCLUDE (id) WHERE status = 'picked';"));
}

TEST(SchemaUpgradeTest, StepsInSpecOrder) {
  const Statements all = DefaultSchema().UpgradeStatements();
  const std::vector<std::string> steps = {
      "ADD COLUMN IF NOT EXISTS updated ",
      "pgqueuer_updated_id_id1_idx",
      "CREATE OR REPLACE FUNCTION fn_pgqueuer_changed()",
      "ADD COLUMN IF NOT EXISTS heartbeat ",
      "pgqueuer_heartbeat_id_id1_idx",
      "ADD COLUMN IF NOT EXISTS queue_manager_id ",
      "pgqueuer_queue_manager_id_idx",
      "TABLE IF NOT EXISTS pgqueuer_schedules (",
      "ADD COLUMN IF NOT EXISTS execute_after ",
      "ADD VALUE IF NOT EXISTS 'successful'",
      "ADD VALUE IF NOT EXISTS 'deleted'",
      "ALTER TABLE pgqueuer_statistics ALTER COLUMN status TYPE pgqueuer_status",
      "TABLE IF NOT EXISTS pgqueuer_log (",
      "pgqueuer_log_created",
      "ADD COLUMN IF NOT EXISTS traceback ",
      "ADD COLUMN IF NOT EXISTS dedupe_key ",
      "pgqueuer_unique_dedupe_key",
      "pgqueuer_log_job_id_status",
      "ADD COLUMN IF NOT EXISTS headers ",
      "ADD COLUMN IF NOT EXISTS attempts ",
      "ADD VALUE IF NOT EXISTS 'failed'",
      "pgqueuer_ep_prio_id_idx",
      "pgqueuer_ep_ea_idx",
      "DROP INDEX IF EXISTS pgqueuer_log_not_aggregated;",
  };
  int previous = -1;
  for (const auto& step : steps) {
    const int at = IndexOf(all, step);
    ASSERT_GE(at, 0) << "missing: " << step;
    EXPECT_GT(at, previous) << "out of order: " << step;
    previous = at;
  }
  // The dropped worklist index is re-created right away.
  const int drop = IndexOf(all, "DROP INDEX IF EXISTS pgqueuer_log_not_aggregated;");
  ASSERT_LT(static_cast<std::size_t>(drop + 1), all.size());
  EXPECT_EQ(Squash(all[drop + 1]),
            "CREATE INDEX IF NOT EXISTS pgqueuer_log_not_aggregated ON pgqueuer_log ((1)) "
            "WHERE NOT aggregated;");
}

TEST(SchemaUpgradeTest, RebakesChannelIntoFunction) {
  const auto fns =
      Containing(Schema(AcmeBilling()).UpgradeStatements(), "CREATE OR REPLACE FUNCTION");
  ASSERT_EQ(fns.size(), 1u);
  EXPECT_THAT(fns[0], StartsWith("CREATE OR REPLACE FUNCTION billing.acme_fn_pgqueuer_changed()"));
  EXPECT_EQ(Count(fns[0], "'acme_ch_pgqueuer'"), 2u);
  EXPECT_THAT(fns[0], HasSubstr("'type', 'table_changed_event'"));
}

TEST(SchemaUpgradeTest, MissingLogTableIsCreatedUnloggedWhateverTheDurability) {
  // Quirk kept from PgQueuer (spec 1.9).
  for (Durability level : {Durability::kVolatile, Durability::kBalanced, Durability::kDurable}) {
    const auto logs =
        Containing(Schema(WithDurability(level)).UpgradeStatements(),
                   "TABLE IF NOT EXISTS pgqueuer_log (");
    ASSERT_EQ(logs.size(), 1u);
    EXPECT_THAT(logs[0], StartsWith("CREATE UNLOGGED TABLE IF NOT EXISTS pgqueuer_log ("));
  }
}

TEST(SchemaUpgradeTest, TargetsQualifiedNames) {
  const Statements all = Schema(AcmeBilling()).UpgradeStatements();
  const std::string sql = Squash(Joined(all));
  EXPECT_THAT(sql, HasSubstr("ALTER TABLE billing.acme_pgqueuer ADD COLUMN IF NOT EXISTS updated"));
  EXPECT_THAT(sql, HasSubstr("ALTER TYPE billing.acme_pgqueuer_status ADD VALUE IF NOT EXISTS"));
  EXPECT_THAT(sql, HasSubstr("CREATE INDEX IF NOT EXISTS acme_pgqueuer_ep_prio_id_idx ON "
                             "billing.acme_pgqueuer "));
  EXPECT_THAT(sql, HasSubstr("table_schema = 'billing'"));
  EXPECT_THAT(sql, Not(HasSubstr("current_schema()")));
  EXPECT_THAT(Squash(Joined(DefaultSchema().UpgradeStatements())),
              HasSubstr("table_schema = current_schema()"));
}

TEST(SchemaUpgradeTest, WidenIdBlocksOnlyWhenEnabled) {
  const Statements widened = Schema(WithWidenId(true)).UpgradeStatements();
  const Statements plain = Schema(WithWidenId(false)).UpgradeStatements();
  const auto blocks = Containing(widened, "ALTER COLUMN id TYPE BIGINT");
  ASSERT_EQ(blocks.size(), 3u);
  const char* tables[] = {"pgqueuer", "pgqueuer_statistics", "pgqueuer_schedules"};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_THAT(blocks[i], StartsWith("DO $"));
    EXPECT_THAT(blocks[i], HasSubstr(std::string("table_name = '") + tables[i] + "'"));
    EXPECT_THAT(blocks[i], HasSubstr(std::string("ALTER TABLE ") + tables[i] +
                                     " ALTER COLUMN id TYPE BIGINT;"));
    EXPECT_THAT(blocks[i], HasSubstr(std::string("pg_get_serial_sequence('") + tables[i] +
                                     "', 'id')"));
    EXPECT_THAT(blocks[i], HasSubstr("ALTER SEQUENCE %s AS BIGINT"));
    // Checks the current type first.
    EXPECT_THAT(blocks[i], HasSubstr("= 'integer' THEN"));
  }
  EXPECT_TRUE(Containing(plain, "ALTER COLUMN id TYPE BIGINT").empty());
  EXPECT_TRUE(Containing(plain, "ALTER SEQUENCE").empty());
  EXPECT_EQ(plain.size() + 3, widened.size());
  // Everything else is the same.
  EXPECT_TRUE(std::equal(plain.begin(), plain.end(), widened.begin()));
}

// --------------------------------------------------------------- uninstall

TEST(SchemaUninstallTest, DropsInOrderWithIfExists) {
  EXPECT_THAT(DefaultSchema().UninstallStatements(),
              ElementsAre("DROP TRIGGER IF EXISTS tg_pgqueuer_changed ON pgqueuer;",
                          "DROP FUNCTION IF EXISTS fn_pgqueuer_changed;",
                          "DROP TABLE IF EXISTS pgqueuer;",
                          "DROP TABLE IF EXISTS pgqueuer_statistics;",
                          "DROP TABLE IF EXISTS pgqueuer_schedules;",
                          "DROP TABLE IF EXISTS pgqueuer_log;",
                          "DROP TYPE IF EXISTS pgqueuer_status;",
                          "DROP TYPE IF EXISTS pgqueuer_statistics_status;"));
}

TEST(SchemaUninstallTest, QualifiedOrderTriggerFunctionTablesTypes) {
  const Statements all = Schema(AcmeBilling()).UninstallStatements();
  ExpectWellFormed(all);
  // Kinds must appear in the order trigger, function, table..., type...
  const std::vector<std::string> order = {"TRIGGER", "FUNCTION", "TABLE", "TYPE"};
  std::size_t rank = 0;
  std::set<std::string> tables;
  for (const auto& s : all) {
    ASSERT_THAT(s, StartsWith("DROP "));
    const std::string kind = s.substr(5, s.find(' ', 5) - 5);
    const auto it = std::find(order.begin(), order.end(), kind);
    ASSERT_NE(it, order.end()) << s;
    const auto r = static_cast<std::size_t>(it - order.begin());
    EXPECT_GE(r, rank) << s;
    rank = r;
    EXPECT_THAT(s, StartsWith("DROP " + kind + " IF EXISTS "));
    if (kind == "TABLE") tables.insert(s);
  }
  EXPECT_EQ(tables, (std::set<std::string>{
                        "DROP TABLE IF EXISTS billing.acme_pgqueuer;",
                        "DROP TABLE IF EXISTS billing.acme_pgqueuer_log;",
                        "DROP TABLE IF EXISTS billing.acme_pgqueuer_statistics;",
                        "DROP TABLE IF EXISTS billing.acme_pgqueuer_schedules;",
                    }));
  EXPECT_EQ(all.front(),
            "DROP TRIGGER IF EXISTS acme_tg_pgqueuer_changed ON billing.acme_pgqueuer;");
  EXPECT_EQ(all[1], "DROP FUNCTION IF EXISTS billing.acme_fn_pgqueuer_changed;");
  EXPECT_EQ(all[all.size() - 2], "DROP TYPE IF EXISTS billing.acme_pgqueuer_status;");
  EXPECT_EQ(all.back(), "DROP TYPE IF EXISTS billing.acme_pgqueuer_statistics_status;");
}

// ----------------------------------------------------------------- autovac

// "ALTER TABLE t SET (k = v, ...);" -> {k: v}.
std::map<std::string, std::string> SetOptions(const std::string& statement) {
  std::map<std::string, std::string> out;
  const std::regex pair(R"(([a-z_]+) = ([0-9.]+))");
  for (std::sregex_iterator it(statement.begin(), statement.end(), pair), end; it != end; ++it) {
    out[(*it)[1]] = (*it)[2];
  }
  return out;
}

// "ALTER TABLE t RESET (k, ...);" -> {k, ...}.
std::set<std::string> ResetOptions(const std::string& statement) {
  std::set<std::string> out;
  const auto open = statement.find('(');
  const auto close = statement.rfind(')');
  if (open == std::string::npos || close == std::string::npos) return out;
  const std::string inner = statement.substr(open + 1, close - open - 1);
  const std::regex word(R"([a-z_]+)");
  for (std::sregex_iterator it(inner.begin(), inner.end(), word), end; it != end; ++it) {
    out.insert(it->str());
  }
  return out;
}

const std::map<std::string, std::string> kHot = {
    {"autovacuum_vacuum_scale_factor", "0.01"}, {"autovacuum_vacuum_threshold", "1000"},
    {"autovacuum_analyze_scale_factor", "0.02"}, {"autovacuum_analyze_threshold", "500"},
    {"autovacuum_vacuum_cost_limit", "10000"},  {"autovacuum_vacuum_cost_delay", "0"},
    {"fillfactor", "70"},
};
const std::map<std::string, std::string> kCold = {
    {"autovacuum_vacuum_scale_factor", "0.95"},
    {"autovacuum_vacuum_threshold", "1000000"},
    {"autovacuum_analyze_scale_factor", "0.05"},
    {"autovacuum_analyze_threshold", "10000"},
};

std::set<std::string> Keys(const std::map<std::string, std::string>& m) {
  std::set<std::string> out;
  for (const auto& [k, v] : m) out.insert(k);
  return out;
}

TEST(SchemaAutovacTest, PresetValues) {
  const Statements all = DefaultSchema().AutovacStatements();
  ExpectWellFormed(all);
  ASSERT_EQ(all.size(), 4u);
  const std::map<std::string, const std::map<std::string, std::string>*> expected = {
      {"pgqueuer", &kHot},
      {"pgqueuer_schedules", &kHot},
      {"pgqueuer_log", &kCold},
      {"pgqueuer_statistics", &kCold},
  };
  std::set<std::string> seen;
  for (const auto& s : all) {
    const std::string q = Squash(s);
    ASSERT_THAT(q, StartsWith("ALTER TABLE "));
    const std::string table = q.substr(12, q.find(' ', 12) - 12);
    ASSERT_TRUE(expected.contains(table)) << q;
    seen.insert(table);
    EXPECT_THAT(q, StartsWith("ALTER TABLE " + table + " SET ("));
    EXPECT_EQ(SetOptions(q), *expected.at(table)) << q;
  }
  EXPECT_EQ(seen.size(), 4u);
}

TEST(SchemaAutovacTest, RollbackResetsTheSameOptions) {
  const Statements all = Schema(AcmeBilling()).AutovacStatements(/*rollback=*/true);
  ExpectWellFormed(all);
  ASSERT_EQ(all.size(), 4u);
  const std::map<std::string, std::set<std::string>> expected = {
      {"billing.acme_pgqueuer", Keys(kHot)},
      {"billing.acme_pgqueuer_schedules", Keys(kHot)},
      {"billing.acme_pgqueuer_log", Keys(kCold)},
      {"billing.acme_pgqueuer_statistics", Keys(kCold)},
  };
  std::set<std::string> seen;
  for (const auto& s : all) {
    const std::string q = Squash(s);
    const std::string table = q.substr(12, q.find(' ', 12) - 12);
    ASSERT_TRUE(expected.contains(table)) << q;
    seen.insert(table);
    EXPECT_THAT(q, StartsWith("ALTER TABLE " + table + " RESET ("));
    EXPECT_THAT(q, Not(HasSubstr("=")));
    EXPECT_EQ(ResetOptions(q), expected.at(table)) << q;
  }
  EXPECT_EQ(seen.size(), 4u);
}

// ------------------------------------------------------------------ render

TEST(SchemaRenderTest, JoinsWithBlankLines) {
  EXPECT_EQ(Schema::Render({}), "");
  EXPECT_EQ(Schema::Render({"SELECT 1;"}), "SELECT 1;\n");
  EXPECT_EQ(Schema::Render({"SELECT 1;", "SELECT 2;", "SELECT 3;"}),
            "SELECT 1;\n\nSELECT 2;\n\nSELECT 3;\n");
}

TEST(SchemaRenderTest, RendersEveryInstallStatementInOrder) {
  const Statements all = DefaultSchema().InstallStatements();
  const std::string text = Schema::Render(all);
  std::string expected;
  for (std::size_t i = 0; i < all.size(); ++i) {
    expected += all[i];
    expected += i + 1 < all.size() ? "\n\n" : "\n";
  }
  EXPECT_EQ(text, expected);
  EXPECT_EQ(text, Schema::Render(DefaultSchema().InstallStatements()));
}

// --------------------------------------------------------------- settings

using testing_util::LogicErrorMessage;

TEST(SchemaSettingsTest, RejectsInvalidSettings) {
  {
    DBSettings settings = DBSettings::WithPrefix();
    settings.channel = "bad-name";
    EXPECT_THAT(LogicErrorMessage([&] { Schema schema(settings); }), HasSubstr("bad-name"));
  }
  {
    DBSettings settings = DBSettings::WithPrefix();
    settings.queue_table = "pgqueuer; DROP TABLE x";
    EXPECT_THROW(Schema{settings}, LogicError);
  }
  {
    DBSettings settings = DBSettings::WithPrefix();
    settings.trigger = "billing.tg";  // triggers are never qualified
    EXPECT_THROW(Schema{settings}, LogicError);
  }
  {
    DBSettings settings = DBSettings::WithPrefix();
    settings.schema = "Billing";  // must be lower case
    EXPECT_THROW(Schema{settings}, LogicError);
  }
  EXPECT_THROW(Schema{DBSettings{}}, LogicError);
  EXPECT_NO_THROW(Schema{AcmeBilling()});
}

TEST(SchemaSettingsTest, KeepsItsSettings) {
  EXPECT_EQ(Schema(AcmeBilling()).settings(), AcmeBilling());
}

}  // namespace
}  // namespace pgq
