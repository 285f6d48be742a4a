#include "pg_fixture.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

namespace pgq::testing {

std::string TestDsn() {
  const char* dsn = std::getenv("PGQ_TEST_DSN");
  return dsn ? dsn : "";
}

std::string RandomToken() {
  static std::mt19937_64 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  static std::mutex mu;
  std::scoped_lock lock(mu);
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out = "t";
  for (int i = 0; i < 10; ++i) out.push_back(kChars[rng() % (sizeof kChars - 1)]);
  return out;
}

void PgTest::SetUp() {
  dsn_ = TestDsn();
  if (dsn_.empty()) {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") {
      FAIL() << "PGQ_TEST_DSN is not set under CI=true: the PostgreSQL tests must run";
    }
    GTEST_SKIP() << "PGQ_TEST_DSN is not set; run through ci/test";
  }
  token_ = RandomToken();
  settings_ = DBSettings::WithPrefix();
  settings_.schema = "pgq_test_" + token_;
  settings_.channel = token_ + "_ch";
  settings_.Validate();
  admin_ = std::make_unique<ConnectionDriver>(Options());
  admin_->Execute("CREATE SCHEMA " + settings_.schema);
}

void PgTest::TearDown() {
  if (admin_) {
    try {
      admin_->Execute("DROP SCHEMA IF EXISTS " + settings_.schema + " CASCADE");
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cleanup failed: " << e.what();
    }
  }
}

ConnectionOptions PgTest::Options() const { return ConnectionOptions::FromDsn(dsn_); }

void PgTest::Install() { Schema(settings_).Install(*admin_, /*create_schema=*/false); }

std::string PgTest::Scalar(const std::string& sql, const Params& params) {
  auto rows = admin_->Fetch(sql, params);
  if (rows.empty()) return "";
  return rows.At(0, 0).value_or("");
}

std::int64_t PgTest::Count(const std::string& sql, const Params& params) {
  return std::stoll(Scalar(sql, params));
}

bool PgTest::FillWithoutStatistics(const std::string& entrypoint, int jobs) {
  admin().Execute("ALTER TABLE " + settings().QueueTable() + " SET (autovacuum_enabled = false)");
  std::vector<NewJob> batch(static_cast<std::size_t>(jobs));
  for (auto& job : batch) job.entrypoint = entrypoint;
  ProducerQueries(admin(), settings()).Enqueue(batch);
  admin().Execute("SELECT pg_stat_force_next_flush()");  // PG 15: publish the counters now
  Queries queries(admin(), settings());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (queries.QueueStatistics().changed_since_analyze < jobs) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::int64_t PgTest::QueueAnalyzeCount() {
  return Count("SELECT analyze_count FROM pg_stat_user_tables WHERE relid = '" +
               settings().QueueTable() + "'::regclass");
}

NotificationCallback NotificationLog::Callback() {
  return [this](const Notification& n) {
    {
      std::scoped_lock lock(mu_);
      received_.push_back(n);
    }
    cv_.notify_all();
  };
}

std::vector<Notification> NotificationLog::UntilPayload(const std::string& payload,
                                                        std::chrono::seconds timeout) {
  std::unique_lock lock(mu_);
  auto found = [&] {
    for (const auto& n : received_) {
      if (n.payload == payload) return true;
    }
    return false;
  };
  if (!cv_.wait_for(lock, timeout, found)) {
    ADD_FAILURE() << "marker notification '" << payload << "' never arrived";
    return {};
  }
  std::vector<Notification> before;
  std::size_t i = 0;
  for (; i < received_.size() && received_[i].payload != payload; ++i) {
    before.push_back(received_[i]);
  }
  received_.erase(received_.begin(), received_.begin() + static_cast<std::ptrdiff_t>(i + 1));
  return before;
}

bool NotificationLog::WaitFor(const std::function<bool(const std::vector<Notification>&)>& predicate,
                              std::chrono::seconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return predicate(received_); });
}

std::vector<Notification> NotificationLog::Snapshot() {
  std::scoped_lock lock(mu_);
  return received_;
}

CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe)) result.output += buffer.data();
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

void QueriesPgTest::SetUp() {
  PgTest::SetUp();
  if (IsSkipped() || HasFatalFailure()) return;
  Install();
  driver_ = std::make_unique<ConnectionDriver>(Options());
  queries_ = std::make_unique<Queries>(*driver_, settings());
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace pgq::testing
