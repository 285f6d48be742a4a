// Index health and REINDEX CONCURRENTLY of the bloated indexes. The
// statements, and why they are shaped as they are, are in
// src/queries/sql/index_health.sql and reindex_*.sql.

#include "pgq/index_maintenance.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "pgq/error.h"
#include "queries/sql_files.h"

namespace pgq {
namespace detail {

struct IndexSql {
  explicit IndexSql(const DBSettings& s)
      : health(SqlStatement("index_health", s)),
        try_lock(SqlStatement("reindex_try_lock", s)),
        unlock(SqlStatement("reindex_unlock", s)),
        timeouts(SqlStatement("reindex_timeouts", s)),
        leftovers(SqlStatement("reindex_leftovers", s)),
        reindex(SqlTemplate("reindex_index", s)),
        drop(SqlTemplate("schema_drop_index", s)) {}
  std::string health, try_lock, unlock, timeouts, leftovers;
  StatementTemplate reindex, drop;
};

}  // namespace detail

namespace {

using SteadyClock = std::chrono::steady_clock;

std::string Millis(std::chrono::milliseconds value) {
  return std::to_string(std::max<std::int64_t>(value.count(), 0)) + "ms";
}

// Holds the reindex lock and the session timeouts; gives both back on every
// way out (the connection goes back to its owner as it came).
class Session {
 public:
  Session(Executor& executor, const detail::IndexSql& sql) : executor_(executor), sql_(sql) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() {
    try {
      if (!old_lock_timeout_.empty()) {
        executor_.Fetch(sql_.timeouts, {old_lock_timeout_, old_statement_timeout_});
      }
      if (locked_) executor_.Fetch(sql_.unlock);
    } catch (...) {  // a broken connection releases both anyway
    }
  }
  bool Lock() {
    locked_ = executor_.Fetch(sql_.try_lock).Text(0, "won") == "t";
    return locked_;
  }
  void SetTimeouts(const ReindexPolicy& policy) {
    const auto rows = executor_.Fetch(
        sql_.timeouts, {Millis(policy.lock_timeout), Millis(policy.statement_timeout)});
    old_lock_timeout_ = rows.Text(0, "lock_timeout");
    old_statement_timeout_ = rows.Text(0, "statement_timeout");
  }

 private:
  Executor& executor_;
  const detail::IndexSql& sql_;
  bool locked_ = false;
  std::string old_lock_timeout_, old_statement_timeout_;
};

}  // namespace

IndexMaintenance::IndexMaintenance(Executor& executor, DBSettings settings)
    : executor_(executor),
      sql_(std::make_shared<const detail::IndexSql>([&] {
        settings.Validate();
        return settings;
      }())) {}

std::vector<IndexSize> IndexMaintenance::Indexes() {
  const auto rows = executor_.Fetch(sql_->health);
  std::vector<IndexSize> out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out.push_back({rows.Text(r, "table_name"), rows.Text(r, "index_name"),
                   rows.Text(r, "qualified"), rows.Int(r, "bytes"), rows.Int(r, "entries"),
                   rows.Int(r, "table_rows"), rows.Int(r, "estimated_bytes")});
  }
  return out;
}

std::string IndexMaintenance::DropLeftovers() {
  try {
    const auto leftovers = executor_.Fetch(sql_->leftovers);
    for (std::size_t r = 0; r < leftovers.size(); ++r) {
      executor_.Execute(sql_->drop.Render(
          {{"concurrently", "CONCURRENTLY "}, {"qualified_index", leftovers.Text(r, "qualified")}}));
    }
    return {};
  } catch (const DatabaseError& e) {
    return e.what();
  }
}

ReindexReport IndexMaintenance::ReindexBloated(const ReindexPolicy& policy) {
  ReindexReport report;
  Session session(executor_, *sql_);
  if (!session.Lock()) return report;
  report.ran = true;
  std::vector<IndexSize> chosen;
  for (auto& index : Indexes()) {
    if (index.bytes >= policy.min_bytes && index.BloatRatio() >= policy.min_ratio) {
      chosen.push_back(std::move(index));
    }
  }
  if (policy.dry_run) {
    for (auto& index : chosen) report.indexes.push_back({std::move(index), 0, {}, {}});
    return report;
  }
  session.SetTimeouts(policy);
  // An earlier run's failed rebuild may have left an invalid copy behind.
  report.leftovers_error = DropLeftovers();
  for (auto& index : chosen) {
    ReindexResult result;
    result.before = std::move(index);
    const auto start = SteadyClock::now();
    try {
      executor_.Execute(sql_->reindex.Render({{"index", result.before.qualified}}));
    } catch (const DatabaseError& e) {
      result.error = e.what();
      // The failed rebuild's invalid copy would slow every write.
      if (const auto drop = DropLeftovers(); !drop.empty()) {
        result.error += "; dropping its invalid copy failed too (the next run retries): " + drop;
      }
    }
    result.took = SteadyClock::now() - start;
    if (result.error.empty()) {
      for (const auto& now : Indexes()) {
        if (now.qualified == result.before.qualified) result.bytes_after = now.bytes;
      }
    }
    report.indexes.push_back(std::move(result));
  }
  return report;
}

}  // namespace pgq
