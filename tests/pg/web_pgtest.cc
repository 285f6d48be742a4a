// `pgq web` end to end: the console as a child process against a real
// database, over real sockets: screens, escaping, Basic auth, the CSRF
// checks of the requeue action, and read-only mode.

#include <gmock/gmock.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

#include "pg_fixture.h"
#include "worker_process.h"

namespace pgq {
namespace {

using testing::FreePort;
using ::testing::HasSubstr;
using testing::HttpGet;
using testing::HttpPost;
using ::testing::Not;
using testing::QueriesPgTest;
using testing::WorkerProcess;
using namespace std::chrono_literals;

constexpr const char* kPassword = "s3cret-Pw";
// base64("admin:s3cret-Pw")
constexpr const char* kAuthorization = "Authorization: Basic YWRtaW46czNjcmV0LVB3";
// A well-formed session token: the double-submit check wants cookie == form.
const std::string kToken(64, 'a');

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

class WebTest : public QueriesPgTest {
 protected:
  void SetUp() override {
    QueriesPgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    char tmpl[] = "/tmp/pgq-web-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ + "/dsn") << dsn_ << "\n";
    std::ofstream(dir_ + "/user") << "admin\n";
    std::ofstream(dir_ + "/password") << kPassword;
    port_ = FreePort();
  }
  void TearDown() override {
    process_.reset();
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
    QueriesPgTest::TearDown();
  }

  // Starts `pgq web` with this web: section and waits until it answers.
  void Start(const std::string& web) {
    const std::string config = dir_ + "/config.yaml";
    std::ofstream(config) << "database:\n  dsn_file: " << dir_
                          << "/dsn\nqueue:\n  schema: " << settings().schema
                          << "\n  channel: " << settings().channel
                          << "\nentrypoints:\n  unused:\n    handler:\n      type: noop\n"
                          << "logging:\n  format: text\nweb:\n  address: 127.0.0.1\n  port: "
                          << port_ << "\n"
                          << web;
    process_ = std::make_unique<WorkerProcess>(
        std::vector<std::string>{PGQ_BINARY, "web", "--config", config},
        std::vector<std::string>{});
    ASSERT_TRUE(WaitUntil([&] { return HttpGet(Url("/assets/console.css", true)).status == 200; }))
        << process_->Output();
  }
  std::string Url(const std::string& path, bool authenticated,
                  const std::string& password = kPassword) const {
    return "http://" + (authenticated ? "admin:" + password + "@" : std::string()) +
           "127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string Origin() const { return "Origin: http://127.0.0.1:" + std::to_string(port_); }
  testing::HttpResult Requeue(JobId id, const std::string& origin,
                              const std::string& form_token = kToken) {
    return HttpPost(Url("/jobs/" + std::to_string(id) + "/requeue", false), "csrf=" + form_token,
                    {kAuthorization, origin, "Cookie: pgq_csrf=" + kToken,
                     "Content-Type: application/x-www-form-urlencoded"});
  }
  std::string StatusOf(JobId id) {
    return Scalar("SELECT status::text FROM " + settings().QueueTable() + " WHERE id = $1",
                  {std::to_string(id)});
  }
  // Enqueues, claims and holds (status 'failed') one job.
  JobId Held(const std::string& entrypoint) {
    NewJob job;
    job.entrypoint = entrypoint;
    const JobId id = q().Enqueue(job);
    const auto claimed =
        q().Dequeue({1, {{entrypoint, 0}}, Worker(), std::nullopt, std::chrono::seconds(30)});
    EXPECT_EQ(claimed.size(), 1u);
    q().Complete({{id, JobStatus::kFailed,
                   std::string(R"({"exception_type": "RuntimeError",)"
                               R"( "exception_message": "disk <full>"})")}});
    return id;
  }

  std::string dir_;
  int port_ = 0;
  std::unique_ptr<WorkerProcess> process_;
};

TEST_F(WebTest, ServesEveryScreenEscapedBehindBasicAuth) {
  NewJob xss;
  xss.entrypoint = "xss<b>";
  xss.payload = "<script>alert(1)</script>";
  const JobId xss_id = q().Enqueue(xss);
  const JobId held = Held("mailer");
  Start("  username_file: " + dir_ + "/user\n  password_file: " + dir_ + "/password\n");

  EXPECT_EQ(HttpGet(Url("/", false)).status, 401);
  EXPECT_EQ(HttpGet(Url("/", true, "wrong")).status, 401);
  EXPECT_EQ(HttpGet(Url("/jobs", true, "wrong")).status, 401);

  const auto overview = HttpGet(Url("/", true));
  ASSERT_EQ(overview.status, 200) << overview.body;
  EXPECT_THAT(overview.body, HasSubstr("xss&lt;b&gt;"));
  EXPECT_THAT(overview.body, Not(HasSubstr("xss<b>")));
  EXPECT_THAT(overview.body, HasSubstr("mailer"));

  const auto jobs = HttpGet(Url("/jobs?entrypoint=xss%3Cb%3E", true));
  ASSERT_EQ(jobs.status, 200);
  EXPECT_THAT(jobs.body, HasSubstr("/jobs/" + std::to_string(xss_id) + "\""));
  EXPECT_THAT(jobs.body, Not(HasSubstr("/jobs/" + std::to_string(held) + "\"")));

  const auto detail = HttpGet(Url("/jobs/" + std::to_string(xss_id), true));
  ASSERT_EQ(detail.status, 200);
  EXPECT_THAT(detail.body, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(detail.body, Not(HasSubstr("<script>")));

  const auto failures = HttpGet(Url("/failures", true));
  ASSERT_EQ(failures.status, 200);
  EXPECT_THAT(failures.body, HasSubstr("mailer"));
  EXPECT_THAT(failures.body, HasSubstr("RuntimeError: disk &lt;full&gt;"));

  const auto held_page = HttpGet(Url("/jobs/" + std::to_string(held), true));
  EXPECT_THAT(held_page.body, HasSubstr("id=\"requeue\""));
  EXPECT_THAT(held_page.body, HasSubstr("disk &lt;full&gt;"));  // the traceback
  EXPECT_EQ(HttpGet(Url("/jobs/999999999", true)).status, 404);
}

TEST_F(WebTest, RequeueNeedsSameOriginAndTheSessionTokenAndIsAudited) {
  const JobId held = Held("mailer");
  Start("  username_file: " + dir_ + "/user\n  password_file: " + dir_ + "/password\n");

  EXPECT_EQ(Requeue(held, "Origin: http://evil.example").status, 403);
  EXPECT_EQ(Requeue(held, Origin(), std::string(64, 'b')).status, 403);  // token != cookie
  EXPECT_EQ(StatusOf(held), "failed");

  const auto done = Requeue(held, Origin());
  EXPECT_EQ(done.status, 303) << done.body;
  EXPECT_EQ(StatusOf(held), "queued");
  EXPECT_TRUE(WaitUntil([&] {
    return process_->Output().find("web audit: user=admin action=requeue job=" +
                                   std::to_string(held) + " requeued=1") != std::string::npos;
  })) << process_->Output();
  EXPECT_THAT(process_->Output(), HasSubstr("cross-site request refused"));
  EXPECT_THAT(process_->Output(), Not(HasSubstr(kPassword)));
}

TEST_F(WebTest, ReadOnlyHidesAndRefusesTheAction) {
  const JobId held = Held("mailer");
  Start("  read_only: true\n  username_file: " + dir_ + "/user\n  password_file: " + dir_ +
        "/password\n");
  const auto page = HttpGet(Url("/jobs/" + std::to_string(held), true));
  ASSERT_EQ(page.status, 200);
  EXPECT_THAT(page.body, Not(HasSubstr("id=\"requeue\"")));
  EXPECT_THAT(page.body, HasSubstr("read-only"));
  EXPECT_EQ(Requeue(held, Origin()).status, 403);
  EXPECT_EQ(StatusOf(held), "failed");
}

TEST_F(WebTest, WithoutAuthOnlyLoopbackIsAllowed) {
  const std::string config = dir_ + "/open.yaml";
  std::ofstream(config) << "database:\n  dsn_file: " << dir_
                        << "/dsn\nentrypoints:\n  unused:\n    handler:\n      type: noop\n"
                        << "web:\n  address: 0.0.0.0\n  port: " << port_ << "\n";
  WorkerProcess open({PGQ_BINARY, "web", "--config", config}, {});
  EXPECT_EQ(open.Wait(30), 2) << open.Output();
  EXPECT_THAT(open.Output(), HasSubstr("open.yaml:"));
  EXPECT_THAT(open.Output(), HasSubstr("web.address: serving the console on 0.0.0.0 needs"));

  // On loopback without credentials the screens are open.
  Start("");
  EXPECT_EQ(HttpGet(Url("/", false)).status, 200);
  EXPECT_EQ(HttpGet(Url("/failures", false)).status, 200);
}

}  // namespace
}  // namespace pgq
