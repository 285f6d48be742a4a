// The producer examples run as users run them: the batching producer from
// many threads, the transactional (outbox) enqueue, and the HTTP service
// that enqueues from request threads, over real sockets.

#include <gmock/gmock.h>

#include <algorithm>
#include <csignal>
#include <mutex>
#include <set>
#include <thread>

#include "pg_fixture.h"
#include "worker_process.h"

namespace pgq {
namespace {

using ::testing::HasSubstr;
using testing::PgTest;
using testing::RunCommand;

class ProducerExamplesTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped()) return;
    Install();
  }
  std::string Env() const {
    return "PGQUEUER_DSN='" + dsn_ + "' PGQUEUER_SCHEMA=" + settings().schema + " ";
  }
  std::int64_t Jobs(const std::string& entrypoint) {
    return Count("SELECT count(*) FROM " + settings().QueueTable() + " WHERE entrypoint = $1",
                 {entrypoint});
  }
};

TEST_F(ProducerExamplesTest, BatchingExampleSharesStatementsAcrossThreads) {
  auto result = RunCommand(Env() + PGQ_BATCHING_EXAMPLE + " 8 25 demo.batching");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("enqueued 200 jobs from 8 threads"));
  EXPECT_EQ(Jobs("demo.batching"), 200);
}

TEST_F(ProducerExamplesTest, TransactionalExampleCommitsOrdersWithTheirJobs) {
  const std::string orders = "orders_" + token_;
  auto result = RunCommand(Env() + PGQ_TRANSACTIONAL_EXAMPLE + " " + orders + " desk fail lamp");
  const std::int64_t kept = Count("SELECT count(*) FROM " + orders);
  const std::int64_t matched =
      Count("SELECT count(*) FROM " + settings().QueueTable() + " q JOIN " + orders +
            " o ON convert_from(q.payload, 'UTF8') = o.id::text WHERE q.entrypoint = 'orders.ship'");
  admin().Execute("DROP TABLE IF EXISTS " + orders);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("committed 2 orders with their jobs"));
  EXPECT_EQ(kept, 2);     // the rolled-back order is gone ...
  EXPECT_EQ(matched, 2);  // ... with its job; each kept order has its job
  EXPECT_EQ(Jobs("orders.ship"), 2);
}

TEST_F(ProducerExamplesTest, ServiceEnqueuesFromRequestThreadsOverHttp) {
  const int port = testing::FreePort();
  testing::WorkerProcess service(
      {PGQ_SERVICE_EXAMPLE, std::to_string(port), "8"},
      {"PGQUEUER_DSN=" + dsn_, "PGQUEUER_SCHEMA=" + settings().schema});
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  bool up = false;
  for (int i = 0; i < 1000 && !up && service.Running(); ++i) {
    up = testing::HttpGet(base + "/healthz").status == 200;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(up) << service.Output();

  constexpr int kClients = 16;
  constexpr int kRequests = 10;
  std::mutex mu;
  std::set<std::string> bodies;
  std::vector<long> statuses;
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int r = 0; r < kRequests; ++r) {
        auto reply = testing::HttpPost(base + "/jobs/http.demo",
                                       std::to_string(c) + "/" + std::to_string(r));
        std::scoped_lock lock(mu);
        statuses.push_back(reply.status);
        bodies.insert(reply.body);
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 201L), kClients * kRequests);
  EXPECT_EQ(bodies.size(), static_cast<std::size_t>(kClients * kRequests));  // distinct ids
  EXPECT_THAT(*bodies.begin(), HasSubstr("\"id\": "));

  const std::vector<std::string> key{"Idempotency-Key: invoice-7"};
  EXPECT_EQ(testing::HttpPost(base + "/jobs/http.demo", "once", key).status, 201);
  auto again = testing::HttpPost(base + "/jobs/http.demo", "twice", key);
  EXPECT_EQ(again.status, 409);
  EXPECT_THAT(again.body, HasSubstr("invoice-7"));
  EXPECT_EQ(testing::HttpGet(base + "/nothing-here").status, 404);

  service.Signal(SIGTERM);
  ASSERT_EQ(service.Wait(), 0) << service.Output();
  EXPECT_THAT(service.Output(), HasSubstr("enqueued 161 jobs"));
  EXPECT_EQ(Jobs("http.demo"), 161);
}

}  // namespace
}  // namespace pgq
