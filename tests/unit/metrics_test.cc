// The worker's Metrics: series created at 0 for configured names, schedule
// events turned into counters, histograms and timestamps. The live exposition
// over a real socket (and promtool on it) is tests/pg/worker_pgtest.cc.

#include "metrics/metrics.h"

#include <gmock/gmock.h>

#include <chrono>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace pgq::worker {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The value of the series exactly as exposed, or nullopt without such a line.
std::optional<double> Value(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

// Each series has the expected value.
void ExpectSeries(const std::string& text,
                  const std::vector<std::pair<std::string, double>>& expected) {
  for (const auto& [series, value] : expected) EXPECT_EQ(Value(text, series), value) << series;
}

TEST(MetricsTest, PrepareCreatesEverySeriesOfConfiguredNamesAtZero) {
  Metrics metrics("1.2.3");
  metrics.Prepare({"a.one", "b.two"}, {"nightly"});
  const std::string text = metrics.Serialize();
  for (const std::string e : {"a.one", "b.two"}) {
    const std::string ep = "entrypoint=\"" + e + "\"";
    for (const char* outcome : {"successful", "exception", "canceled", "failed", "retried"}) {
      EXPECT_EQ(Value(text, "pgq_jobs_total{" + ep + ",outcome=\"" + outcome + "\"}"), 0.0)
          << e << " " << outcome;
    }
    EXPECT_EQ(Value(text, "pgq_jobs_claimed_total{" + ep + "}"), 0.0);
    EXPECT_EQ(Value(text, "pgq_jobs_in_flight{" + ep + "}"), 0.0);
    EXPECT_EQ(Value(text, "pgq_job_duration_seconds_count{" + ep + "}"), 0.0);
    EXPECT_EQ(Value(text, "pgq_job_wait_seconds_count{" + ep + "}"), 0.0);
    EXPECT_EQ(Value(text, "pgq_queue_lag_seconds{" + ep + "}"), 0.0);
    EXPECT_EQ(Value(text, "pgq_queue_depth{" + ep + ",status=\"queued\"}"), 0.0);
    EXPECT_EQ(Value(text, "pgq_queue_depth{" + ep + ",status=\"picked\"}"), 0.0);
  }
  ExpectSeries(text,
               {
                   {"pgq_schedule_runs_total{outcome=\"successful\",schedule=\"nightly\"}", 0},
                   {"pgq_schedule_runs_total{outcome=\"exception\",schedule=\"nightly\"}", 0},
                   {"pgq_schedule_duration_seconds_count{schedule=\"nightly\"}", 0},
                   {"pgq_schedule_last_success_timestamp_seconds{schedule=\"nightly\"}", 0},
                   {"pgq_schedule_next_run_timestamp_seconds{schedule=\"nightly\"}", 0},
               });
  // No series for names nobody configured.
  EXPECT_THAT(text, Not(HasSubstr("entrypoint=\"c.")));
}

TEST(MetricsTest, JobEventsCountOnThePreparedSeries) {
  Metrics metrics("1.2.3");
  metrics.Prepare({"a.one"}, {});
  metrics.OnJobsClaimed("a.one", 3);
  metrics.OnJobStarted("a.one", std::chrono::milliseconds(5));
  metrics.OnJobFinished("a.one", "successful", std::chrono::milliseconds(2));
  // A sampled depth without the entrypoint's rows puts the prepared gauge to 0.
  metrics.SetQueueDepth({});
  const std::string text = metrics.Serialize();
  ExpectSeries(text, {
                         {"pgq_jobs_claimed_total{entrypoint=\"a.one\"}", 3},
                         {"pgq_jobs_total{entrypoint=\"a.one\",outcome=\"successful\"}", 1},
                         {"pgq_jobs_total{entrypoint=\"a.one\",outcome=\"exception\"}", 0},
                         {"pgq_jobs_in_flight{entrypoint=\"a.one\"}", 0},
                         {"pgq_job_duration_seconds_count{entrypoint=\"a.one\"}", 1},
                         {"pgq_queue_depth{entrypoint=\"a.one\",status=\"queued\"}", 0},
                     });
}

TEST(MetricsTest, ScheduleRunsSetOutcomesDurationsAndTimestamps) {
  Metrics metrics("1.2.3");
  metrics.Prepare({}, {"nightly", "hourly"});
  const auto before = std::chrono::system_clock::now();
  metrics.OnScheduleRun("nightly", "successful", std::chrono::milliseconds(1500));
  metrics.OnScheduleRun("hourly", "exception", std::chrono::milliseconds(20));
  const auto after = std::chrono::system_clock::now();
  const auto due = std::chrono::system_clock::time_point(std::chrono::seconds(1'900'000'000));
  metrics.OnScheduleNextRun("nightly", due);

  const std::string text = metrics.Serialize();
  const auto epoch = [](std::chrono::system_clock::time_point t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
  };
  ExpectSeries(text,
               {
                   {"pgq_schedule_runs_total{outcome=\"successful\",schedule=\"nightly\"}", 1},
                   {"pgq_schedule_runs_total{outcome=\"exception\",schedule=\"hourly\"}", 1},
                   {"pgq_schedule_runs_total{outcome=\"successful\",schedule=\"hourly\"}", 0},
                   {"pgq_schedule_duration_seconds_sum{schedule=\"nightly\"}", 1.5},
                   {"pgq_schedule_duration_seconds_bucket{schedule=\"nightly\",le=\"1\"}", 0},
                   {"pgq_schedule_duration_seconds_bucket{schedule=\"nightly\",le=\"2.5\"}", 1},
                   // A failed run is no success.
                   {"pgq_schedule_last_success_timestamp_seconds{schedule=\"hourly\"}", 0},
                   {"pgq_schedule_next_run_timestamp_seconds{schedule=\"nightly\"}", 1'900'000'000},
               });
  const double success =
      Value(text, "pgq_schedule_last_success_timestamp_seconds{schedule=\"nightly\"}").value_or(-1);
  EXPECT_GE(success, epoch(before));
  EXPECT_LE(success, epoch(after));
}

TEST(MetricsTest, ConnectionEventsCarryTheirEndpoint) {
  // One endpoint: the LISTEN connection is the pool endpoint's.
  Metrics single("1.2.3");
  single.OnConnectError("connect");
  single.OnConnectError("read_only");
  single.OnListenerUp(true);
  const std::string one = single.Serialize();
  ExpectSeries(one, {
                        {"pgq_driver_errors_total{endpoint=\"pool\",kind=\"connect\"}", 1},
                        {"pgq_driver_errors_total{endpoint=\"pool\",kind=\"read_only\"}", 1},
                        {"pgq_driver_reconnects_total{endpoint=\"pool\"}", 0},
                        {"pgq_listener_up{endpoint=\"pool\"}", 1},
                    });
  EXPECT_THAT(one, Not(HasSubstr("endpoint=\"listener\"")));

  // database.listener: the LISTEN connection's events count apart from the pool's.
  auto metrics = std::make_shared<Metrics>("1.2.3", true);
  ListenerEndpointObserver listener(metrics);
  listener.OnConnectError("connect");
  listener.OnConnectError("connect");
  listener.OnReconnect();
  metrics->OnConnectError("connect");
  metrics->OnStateViolation(true, false);
  metrics->OnListenerUp(false);
  const std::string two = metrics->Serialize();
  ExpectSeries(two, {
                        {"pgq_driver_errors_total{endpoint=\"listener\",kind=\"connect\"}", 2},
                        {"pgq_driver_errors_total{endpoint=\"listener\",kind=\"read_only\"}", 0},
                        {"pgq_driver_errors_total{endpoint=\"pool\",kind=\"connect\"}", 1},
                        {"pgq_driver_errors_total{endpoint=\"pool\","
                         "kind=\"state_in_transaction\"}",
                         1},
                        {"pgq_driver_reconnects_total{endpoint=\"listener\"}", 1},
                        {"pgq_driver_reconnects_total{endpoint=\"pool\"}", 0},
                        {"pgq_listener_up{endpoint=\"listener\"}", 0},
                    });
  EXPECT_FALSE(Value(two, "pgq_listener_up{endpoint=\"pool\"}"));
}

TEST(MetricsTest, HeldJobRetentionAndIndexSizesAreExposed) {
  Metrics metrics("1.2.3");
  metrics.Prepare({"a.one", "b.two"}, {});
  metrics.SetHeldRetention(std::chrono::hours(24 * 14));
  PruneReport report;
  report.ran = true;
  report.log_rows = 10;
  report.held_jobs = 4;
  report.held_log_rows = 28;
  report.held_by_entrypoint = {{"a.one", 3}, {"b.two", 1}};
  metrics.OnPruned(report);
  metrics.SetHeldAges({{"a.one", 3, 90.5}, {"b.two", 1, 30}});
  // b.two's held jobs were requeued: its age drops to 0, a.one keeps its value.
  metrics.SetHeldAges({{"a.one", 2, 150}});
  metrics.SetIndexSizes({{"log", "pgqueuer_log_pkey", "public.pgqueuer_log_pkey", 8192000, 1000,
                          1000, 16384}});
  const std::string text = metrics.Serialize();
  ExpectSeries(text, {
                         {"pgq_pruned_rows_total{table=\"held\"}", 4},
                         {"pgq_pruned_rows_total{table=\"log\"}", 38},
                         {"pgq_retention_held_older_than_seconds", 14 * 24 * 3600},
                         {"pgq_held_oldest_age_seconds{entrypoint=\"a.one\"}", 150},
                         {"pgq_held_oldest_age_seconds{entrypoint=\"b.two\"}", 0},
                         {"pgq_index_size_bytes{index=\"pgqueuer_log_pkey\",table=\"log\"}",
                          8192000},
                         {"pgq_index_estimated_bytes{index=\"pgqueuer_log_pkey\",table=\"log\"}",
                          16384},
                     });
}

}  // namespace
}  // namespace pgq::worker
