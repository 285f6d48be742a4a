#include <nlohmann/json.hpp>
#include <set>

#include "pgq/error.h"
#include "pgq/queries.h"
#include "pgq/sql_params.h"
#include "queries/new_job.h"
#include "queries/query_context.h"
#include "sql/literals.h"

namespace pgq {
namespace {

using detail::ArrayLiteral;
using detail::CheckedHeaders;

std::vector<std::string> KeysFromMessage(const std::string& message) {
  // "Key (dedupe_key)=(k1) already exists."
  std::vector<std::string> keys;
  const std::string marker = "Key (dedupe_key)=(";
  auto pos = message.find(marker);
  if (pos != std::string::npos) {
    pos += marker.size();
    const auto end = message.find(") already exists", pos);
    if (end != std::string::npos) keys.push_back(message.substr(pos, end - pos));
  }
  return keys;
}

}  // namespace

namespace detail {

// Headers must be a JSON object or null: anything else breaks Python
// workers' validation of the whole dequeue batch (spec 1.12).
std::string CheckedHeaders(const std::optional<std::string>& headers) {
  if (!headers) return "null";
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(*headers);
  } catch (const nlohmann::json::exception& e) {
    throw LogicError(std::string("job headers are not valid JSON: ") + e.what());
  }
  if (!parsed.is_object() && !parsed.is_null()) {
    throw LogicError("job headers must be a JSON object or null, got " +
                     std::string(parsed.type_name()));
  }
  return parsed.dump();
}

void CheckNewJob(const NewJob& job) {
  if (job.entrypoint.empty()) throw LogicError("a job needs an entrypoint");
  CheckedHeaders(job.headers);
}

}  // namespace detail

ProducerQueries::ProducerQueries(Executor& executor, DBSettings settings)
    : ProducerQueries(detail::MakeQueryContext(executor, nullptr, std::move(settings))) {}

ProducerQueries::ProducerQueries(std::shared_ptr<const detail::QueryContext> context)
    : context_(std::move(context)) {}

const DBSettings& ProducerQueries::settings() const noexcept { return context_->settings; }

JobId ProducerQueries::Enqueue(const NewJob& job) {
  return *Enqueue(std::vector<NewJob>{job}, OnConflict::kRaise).front();
}

std::vector<std::optional<JobId>> ProducerQueries::Enqueue(const std::vector<NewJob>& jobs,
                                                           OnConflict on_conflict) {
  if (jobs.empty()) return {};
  std::vector<std::int64_t> priorities;
  std::vector<std::string> entrypoints;
  std::vector<std::optional<std::string>> payloads, delays, keys, headers;
  priorities.reserve(jobs.size());
  entrypoints.reserve(jobs.size());
  payloads.reserve(jobs.size());
  delays.reserve(jobs.size());
  keys.reserve(jobs.size());
  headers.reserve(jobs.size());
  for (const auto& job : jobs) {
    if (job.entrypoint.empty()) throw LogicError("a job needs an entrypoint");
    priorities.push_back(job.priority);
    entrypoints.push_back(job.entrypoint);
    payloads.push_back(job.payload ? std::optional(ByteaHex(*job.payload)) : std::nullopt);
    // No delay and no headers go as SQL NULL, which the statement turns into
    // INTERVAL '0' and JSON null: the same rows, with fewer values for the
    // server to parse (about 5% of a 60-job statement's throughput).
    delays.push_back(job.execute_after.count() != 0
                         ? std::optional(detail::IntervalLiteral(job.execute_after))
                         : std::nullopt);
    keys.push_back(job.dedupe_key);
    headers.push_back(job.headers ? std::optional(CheckedHeaders(job.headers)) : std::nullopt);
  }
  const Params params{ArrayLiteral(priorities), ArrayLiteral(entrypoints), ArrayLiteral(payloads),
                      ArrayLiteral(delays),     ArrayLiteral(keys),        ArrayLiteral(headers)};
  Rows rows;
  try {
    rows = context_->executor.Fetch(
        on_conflict == OnConflict::kSkip ? context_->sql.enqueue_skip : context_->sql.enqueue_raise,
        params);
  } catch (const DatabaseError& e) {
    if (e.sqlstate() != "23505") throw;
    // Report every key that blocked the batch: repeats inside it and live
    // jobs that hold one. The follow-up query fails inside an aborted
    // caller transaction; the key from the server message remains.
    std::set<std::string> conflicting;
    for (auto& key : KeysFromMessage(e.what())) conflicting.insert(std::move(key));
    std::set<std::string> seen;
    std::vector<std::string> batch_keys;
    for (const auto& key : keys) {
      if (!key) continue;
      if (!seen.insert(*key).second) conflicting.insert(*key);
      batch_keys.push_back(*key);
    }
    try {
      auto live =
          context_->executor.Fetch(context_->sql.live_dedupe_keys, {ArrayLiteral(batch_keys)});
      for (std::size_t r = 0; r < live.size(); ++r) conflicting.insert(live.Text(r, "dedupe_key"));
    } catch (const Error&) {
    }
    std::vector<std::string> list(conflicting.begin(), conflicting.end());
    std::string joined;
    for (const auto& key : list) joined += (joined.empty() ? "" : ", ") + key;
    throw DuplicateJobError("duplicate dedupe key(s), nothing was enqueued: " + joined,
                            std::move(list));
  }
  std::vector<std::optional<JobId>> ids;
  ids.reserve(rows.size());
  const std::size_t id_col = rows.Index("id");
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const auto& cell = rows.At(r, id_col);
    ids.push_back(cell ? std::optional(detail::ParseInt64(*cell)) : std::nullopt);
  }
  return ids;
}

std::vector<QueueCount> ProducerQueries::QueueSize() {
  auto rows = context_->executor.Fetch(context_->sql.queue_size);
  std::vector<QueueCount> out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out.push_back({rows.Text(r, "entrypoint"), static_cast<std::int32_t>(rows.Int(r, "priority")),
                   ParseJobStatus(rows.Text(r, "status")), rows.Int(r, "count")});
  }
  return out;
}

}  // namespace pgq
