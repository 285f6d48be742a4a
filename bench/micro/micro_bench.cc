// Micro-benchmarks for the client-side work around each statement: the text
// encodings every parameter goes through (src/sql/literals.h), building a whole
// enqueue call, cron arithmetic, DSN redaction, and leasing a pooled
// connection. None needs a database except the pool group, which is registered
// only when PGQ_BENCH_DSN names one (ci/bench sets it).
//
//   build/bench/pgq_micro_bench [--benchmark_filter=REGEX] [--benchmark_format=json]

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pgq/driver.h"
#include "pgq/pool.h"
#include "pgq/queries.h"
#include "pgq/scheduler.h"
#include "pgq/settings.h"
#include "pgq/sql_params.h"
#include "sql/literals.h"

namespace {

// ---- encodings ---------------------------------------------------------------------------

void BM_ArrayLiteralInts(benchmark::State& state) {
  std::vector<std::int64_t> ids;
  for (std::int64_t i = 0; i < state.range(0); ++i) ids.push_back(1'000'000'000 + i * 7919);
  for (auto _ : state) {
    auto text = pgq::detail::ArrayLiteral(ids);
    benchmark::DoNotOptimize(text);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ArrayLiteralInts)->Arg(1000);

// Entrypoint names as the enqueue statement sends them (one per job).
void BM_ArrayLiteralStrings(benchmark::State& state) {
  std::vector<std::string> names;
  for (std::int64_t i = 0; i < state.range(0); ++i) {
    names.push_back("billing.send_invoice_" + std::to_string(i % 16));
  }
  for (auto _ : state) {
    auto text = pgq::detail::ArrayLiteral(names);
    benchmark::DoNotOptimize(text);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ArrayLiteralStrings)->Arg(1000);

// Nullable elements that need escaping (quotes, backslashes), e.g. JSON headers.
void BM_ArrayLiteralOptionalEscaped(benchmark::State& state) {
  std::vector<std::optional<std::string>> items;
  for (std::int64_t i = 0; i < state.range(0); ++i) {
    if (i % 4 == 0) {
      items.emplace_back(std::nullopt);
    } else {
      items.emplace_back(R"({"trace": "a\\b", "n": )" + std::to_string(i) + "}");
    }
  }
  for (auto _ : state) {
    auto text = pgq::detail::ArrayLiteral(items);
    benchmark::DoNotOptimize(text);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ArrayLiteralOptionalEscaped)->Arg(1000);

void BM_ParseArray(benchmark::State& state) {
  std::vector<std::string> names;
  for (std::int64_t i = 0; i < state.range(0); ++i) names.push_back("name " + std::to_string(i));
  const std::string text = pgq::detail::ArrayLiteral(names);
  for (auto _ : state) {
    auto items = pgq::detail::ParseArray(text);
    benchmark::DoNotOptimize(items);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ParseArray)->Arg(1000);

void BM_ByteaHex(benchmark::State& state) {
  std::string bytes(static_cast<std::size_t>(state.range(0)), '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 31 + 7);
  for (auto _ : state) {
    auto text = pgq::ByteaHex(bytes);
    benchmark::DoNotOptimize(text);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ByteaHex)->Arg(1024);

void BM_DecodeBytea(benchmark::State& state) {
  std::string bytes(static_cast<std::size_t>(state.range(0)), '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 31 + 7);
  const std::string hex = pgq::ByteaHex(bytes);
  for (auto _ : state) {
    auto out = pgq::detail::DecodeBytea(hex);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_DecodeBytea)->Arg(1024);

// ---- a whole enqueue call without a database -----------------------------------------------

// Answers the enqueue statement the way the server would (ord, id per job) and
// keeps the parameters so the compiler cannot drop their construction.
class CannedExecutor final : public pgq::Executor {
 public:
  explicit CannedExecutor(std::size_t jobs) {
    std::vector<std::vector<pgq::Param>> values;
    values.reserve(jobs);
    for (std::size_t i = 0; i < jobs; ++i) {
      values.push_back({std::to_string(i + 1), std::to_string(500'000 + i)});
    }
    rows_ = pgq::Rows({"ord", "id"}, std::move(values));
  }
  pgq::Rows Fetch(std::string_view sql, const pgq::Params& params) override {
    benchmark::DoNotOptimize(sql.data());
    std::size_t bytes = 0;
    for (const auto& p : params) bytes += p ? p->size() : 0;
    param_bytes = bytes;
    return rows_;
  }
  std::int64_t Execute(std::string_view, const pgq::Params&) override { return 0; }
  std::size_t param_bytes = 0;

 private:
  pgq::Rows rows_;
};

// ProducerQueries::Enqueue of N jobs with a 64-byte payload: builds the six
// array parameters and parses the ids back. The canned answer is copied on
// every call, which adds a little to what the real call costs client-side.
void BM_EnqueueParams(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  CannedExecutor executor(n);
  pgq::ProducerQueries queries(executor, pgq::DBSettings::WithPrefix());
  std::vector<pgq::NewJob> jobs(n);
  for (std::size_t i = 0; i < n; ++i) {
    jobs[i].entrypoint = "fetch";
    jobs[i].payload = std::string(64, static_cast<char>('a' + i % 26));
    jobs[i].priority = static_cast<std::int32_t>(i % 3);
  }
  for (auto _ : state) {
    auto ids = queries.Enqueue(jobs);
    benchmark::DoNotOptimize(ids);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["param_bytes"] = static_cast<double>(executor.param_bytes);
}
BENCHMARK(BM_EnqueueParams)->Arg(10)->Arg(1000);

// ---- cron and DSN handling -----------------------------------------------------------------

void BM_CronNext(benchmark::State& state, const char* expression) {
  const auto cron = pgq::CronExpression::Parse(expression);
  // 2024-03-10 12:34:56 UTC
  auto t = pgq::Clock::time_point(std::chrono::seconds(1'710'074'096));
  for (auto _ : state) {
    t = cron.Next(t);
    benchmark::DoNotOptimize(t);
    if (t > pgq::Clock::time_point(std::chrono::seconds(4'000'000'000))) {
      t = pgq::Clock::time_point(std::chrono::seconds(1'710'074'096));
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_CronNext, every_minute, "* * * * *");
BENCHMARK_CAPTURE(BM_CronNext, weekdays_3am, "0 3 * * 1-5");
BENCHMARK_CAPTURE(BM_CronNext, every_10s, "* * * * * */10");
BENCHMARK_CAPTURE(BM_CronNext, leap_day, "0 0 29 2 *");

void BM_CronParse(benchmark::State& state) {
  for (auto _ : state) {
    auto cron = pgq::CronExpression::Parse("*/15 9-17 * jan-jun mon-fri");
    benchmark::DoNotOptimize(cron);
  }
}
BENCHMARK(BM_CronParse);

void BM_RedactConninfo(benchmark::State& state, const char* conninfo) {
  for (auto _ : state) {
    auto text = pgq::RedactConninfo(conninfo);
    benchmark::DoNotOptimize(text);
  }
}
BENCHMARK_CAPTURE(BM_RedactConninfo, uri,
                  "postgresql://worker:s3cr%40t@db.internal:5432/jobs?sslmode=require"
                  "&application_name=pgq");
BENCHMARK_CAPTURE(BM_RedactConninfo, keyword_value,
                  "host=db.internal port=5432 dbname=jobs user=worker password='s3 cr\\'t' "
                  "sslmode=require");

// ---- connection pool (needs PGQ_BENCH_DSN) -------------------------------------------------

std::shared_ptr<pgq::ConnectionPool> SharedPool(const std::string& dsn) {
  static std::shared_ptr<pgq::ConnectionPool> pool = [&] {
    pgq::PoolSettings settings;
    settings.min_size = 4;
    settings.max_size = 4;
    return pgq::ConnectionPool::Create(pgq::ConnectionOptions::FromDsn(dsn), settings);
  }();
  return pool;
}

// Acquire + return of an idle connection: no server round trip.
void BM_PoolLease(benchmark::State& state, const std::string& dsn) {
  auto pool = SharedPool(dsn);
  for (auto _ : state) {
    auto lease = pool->Acquire();
    benchmark::DoNotOptimize(lease);
  }
  state.SetItemsProcessed(state.iterations());
}

// Lease + SELECT 1 + return: the floor under every statement the runtime sends.
void BM_PoolLeaseSelect1(benchmark::State& state, const std::string& dsn) {
  auto pool = SharedPool(dsn);
  for (auto _ : state) {
    auto lease = pool->Acquire();
    auto rows = lease.Fetch("SELECT 1");
    benchmark::DoNotOptimize(rows);
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const char* dsn_env = std::getenv("PGQ_BENCH_DSN");
  if (dsn_env != nullptr && *dsn_env != '\0') {
    const std::string dsn = dsn_env;
    benchmark::RegisterBenchmark("BM_PoolLease", BM_PoolLease, dsn)->Threads(1)->Threads(2);
    benchmark::RegisterBenchmark("BM_PoolLeaseSelect1", BM_PoolLeaseSelect1, dsn)
        ->Threads(1)
        ->Threads(4);
  } else {
    benchmark::AddCustomContext("pool benchmarks", "skipped (PGQ_BENCH_DSN is not set)");
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
