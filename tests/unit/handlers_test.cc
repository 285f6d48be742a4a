// Handlers built from configuration, without a database: exec (real child
// processes), http (a local CivetWeb server) and the built-ins. The sql
// handler is covered by tests/pg/handlers_pgtest.cc.

#include "handlers/handlers.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <CivetServer.h>
#include <gtest/gtest.h>

#include "pgq/error.h"
#include "pgq/queries.h"
#include "pgq/runtime.h"
#include "pgq/scheduler.h"
#include "runtime/records.h"

namespace pgq::worker {
namespace {

using std::chrono::milliseconds;
using Type = HandlerConfig::Type;

Job SampleJob() {
  Job job;
  job.id = 4711;
  job.entrypoint = "resize_image";
  job.headers = R"({"trace_id": "abc-123"})";
  job.attempts = 2;
  job.payload = std::string("bytes\0with\xff nul\n", 16);
  return job;
}

void RunJob(const Handler& handler, const Job& job, std::stop_token stop = {}) {
  Resources resources;
  JobContext ctx{job, std::move(stop), resources};
  handler(ctx);
}

void RunSchedule(const ScheduleHandler& handler, const std::string& name) {
  ScheduleRow row;
  row.id = 7;
  row.entrypoint = name;
  row.expression = "* * * * *";
  Resources resources;
  ScheduleContext ctx{row, resources};
  handler(ctx);
}

/// Runs `fn` and returns the message of the exception of type E it throws
/// (failing the test if it throws nothing or something else).
template <typename E, typename Fn>
std::string ThrownMessage(Fn&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "unexpected exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no exception";
  return {};
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Waits (up to 10 s) until `path` holds a complete line; returns it.
std::string WaitForLine(const std::filesystem::path& path) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    const std::string text = ReadFile(path);
    if (!text.empty() && text.back() == '\n') return text;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return {};
}

/// True when no process of group `pgid` exists any more.
bool GroupGone(pid_t pgid) { return ::kill(-pgid, 0) != 0 && errno == ESRCH; }

bool SigpipeBlockedHere() {
  sigset_t mask;
  sigemptyset(&mask);
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  return sigismember(&mask, SIGPIPE) == 1;
}

// ------------------------------------------------------------------- exec

class ExecHandlerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Commands killed here leave orphans (the `sleep 30 &` of a timed-out
    // shell). In a container the worker is often PID 1 and inherits such
    // orphans; make this process their reaper too, so that the handler's
    // own reaping is what keeps the process table clean (this sandbox's
    // PID 1 does not reap).
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  }

  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "pgq-handlers-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    out_ = dir_ / "out";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  /// An exec handler running `sh -c script` with OUT set to out_.
  HandlerConfig Shell(const std::string& script, milliseconds timeout = milliseconds(30000)) {
    HandlerConfig config;
    config.type = Type::kExec;
    config.command = {"/bin/sh", "-c", script};
    config.env = {{"OUT", out_.string()}};
    config.timeout = timeout;
    return config;
  }

  pid_t RecordedPgid() {
    const std::string line = WaitForLine(out_);
    EXPECT_FALSE(line.empty()) << "the script did not record its pid";
    return line.empty() ? 0 : static_cast<pid_t>(std::stol(line));
  }

  std::filesystem::path dir_;
  std::filesystem::path out_;
};

TEST_F(ExecHandlerTest, PassesPayloadBytesOnStdin) {
  const Job job = SampleJob();
  RunJob(MakeHandler(Shell(R"(cat > "$OUT")"), {}), job);
  EXPECT_EQ(ReadFile(out_), *job.payload);  // including the NUL and 0xFF bytes
  EXPECT_FALSE(SigpipeBlockedHere());
}

TEST_F(ExecHandlerTest, NullPayloadGivesEmptyStdin) {
  Job job = SampleJob();
  job.payload.reset();
  RunJob(MakeHandler(Shell(R"(wc -c | tr -d ' ' > "$OUT")"), {}), job);
  EXPECT_EQ(ReadFile(out_), "0\n");
}

TEST_F(ExecHandlerTest, SetsJobEnvironment) {
  HandlerConfig config =
      Shell(R"(printf '%s|%s|%s|%s|%s|%s' "$PGQ_JOB_ID" "$PGQ_ENTRYPOINT" "$PGQ_HEADERS" )"
            R"("$PGQ_ATTEMPTS" "$EXTRA" "${PATH:+has-path}" > "$OUT")");
  config.env["EXTRA"] = "configured value";
  config.env["PGQ_JOB_ID"] = "cannot override";
  RunJob(MakeHandler(config, {}), SampleJob());
  EXPECT_EQ(ReadFile(out_),
            R"(4711|resize_image|{"trace_id": "abc-123"}|2|configured value|has-path)");
}

TEST_F(ExecHandlerTest, EnvFromFilesIsReadOnEveryRun) {
  const auto key = dir_ / "api-key";
  std::ofstream(key) << "first-value\n";
  HandlerConfig config = Shell(R"(printf '%s' "$API_KEY" > "$OUT")");
  config.env_files = {{"API_KEY", key.string()}};
  const Handler handler = MakeHandler(config, {});
  RunJob(handler, SampleJob());
  EXPECT_EQ(ReadFile(out_), "first-value");
  std::ofstream(key) << "rotated-value\n";  // a rotated Secret: no restart
  RunJob(handler, SampleJob());
  EXPECT_EQ(ReadFile(out_), "rotated-value");
  std::filesystem::remove(key);
  const std::string message = ThrownMessage<std::runtime_error>([&] { RunJob(handler, SampleJob()); });
  EXPECT_EQ(message, "cannot read env_from_files.API_KEY (" + key.string() +
                         "): No such file or directory");
}

TEST_F(ExecHandlerTest, NonZeroExitCarriesStatusAndStderrTail) {
  const Handler handler =
      MakeHandler(Shell("echo first-line-marker >&2; head -c 102400 /dev/zero | tr '\\0' x >&2; "
                        "printf '\\nlast-line-marker\\n' >&2; exit 7"),
                  {});
  std::string message;
  try {
    RunJob(handler, SampleJob());
    ADD_FAILURE() << "no exception";
  } catch (const PermanentFailure& e) {
    ADD_FAILURE() << "a failed command must stay retryable: " << e.what();
  } catch (const std::runtime_error& e) {
    message = e.what();
  }
  EXPECT_EQ(message.rfind("command exited with status 7: ", 0), 0u) << message.substr(0, 200);
  EXPECT_NE(message.find("last-line-marker"), std::string::npos);
  EXPECT_EQ(message.find("first-line-marker"), std::string::npos);
  EXPECT_LE(message.size(), 4096u + 64u);  // only the tail of 100 KiB
  EXPECT_GE(message.size(), 4000u);
}

TEST_F(ExecHandlerTest, MessageIsValidUtf8ForTheTraceback) {
  const Job job = SampleJob();
  const std::string message = ThrownMessage<std::runtime_error>(
      [&] { RunJob(MakeHandler(Shell(R"(printf 'bad \377\376 bytes\n' >&2; exit 3)"), {}), job); });
  EXPECT_NE(message.find("bad \xEF\xBF\xBD\xEF\xBF\xBD bytes"), std::string::npos) << message;
  // The runtime encodes the message as JSON; invalid UTF-8 would throw.
  EXPECT_NO_THROW(pgq::detail::TracebackJson(job, "qm", "std::runtime_error", message, message));
}

TEST_F(ExecHandlerTest, DeathBySignalIsReported) {
  const std::string message = ThrownMessage<std::runtime_error>(
      [&] { RunJob(MakeHandler(Shell("echo dying >&2; kill -KILL $$"), {}), SampleJob()); });
  EXPECT_EQ(message, "command killed by signal 9 (SIGKILL): dying");
}

TEST_F(ExecHandlerTest, SuccessIgnoresStderr) {
  EXPECT_NO_THROW(RunJob(MakeHandler(Shell("echo warning >&2; exit 0"), {}), SampleJob()));
}

TEST_F(ExecHandlerTest, TimeoutKillsTheWholeProcessGroup) {
  const Handler handler = MakeHandler(
      Shell(R"(echo $$ > "$OUT"; echo started >&2; sleep 30 & sleep 30)", milliseconds(300)), {});
  const std::string message =
      ThrownMessage<std::runtime_error>([&] { RunJob(handler, SampleJob()); });
  EXPECT_EQ(message, "command timed out after 300 ms: started");
  const pid_t pgid = RecordedPgid();
  ASSERT_GT(pgid, 1);
  EXPECT_TRUE(GroupGone(pgid)) << "a process of group " << pgid << " survived";
}

TEST_F(ExecHandlerTest, TimeoutEscalatesToSigkill) {
  // The shell and its children ignore SIGTERM: only SIGKILL ends them.
  const Handler handler = MakeHandler(
      Shell(R"(trap '' TERM; echo $$ > "$OUT"; sleep 30 & sleep 30)", milliseconds(200)), {});
  const std::string message =
      ThrownMessage<std::runtime_error>([&] { RunJob(handler, SampleJob()); });
  EXPECT_EQ(message, "command timed out after 200 ms");
  const pid_t pgid = RecordedPgid();
  ASSERT_GT(pgid, 1);
  EXPECT_TRUE(GroupGone(pgid));
}

TEST_F(ExecHandlerTest, BackgroundLeftoversAreStoppedAfterSuccess) {
  const Handler handler = MakeHandler(Shell(R"(echo $$ > "$OUT"; sleep 30 &)"), {});
  EXPECT_NO_THROW(RunJob(handler, SampleJob()));
  const pid_t pgid = RecordedPgid();
  ASSERT_GT(pgid, 1);
  EXPECT_TRUE(GroupGone(pgid));
}

TEST_F(ExecHandlerTest, CancellationStopsTheCommand) {
  const Handler handler =
      MakeHandler(Shell(R"(echo $$ > "$OUT"; sleep 30 & sleep 30)", milliseconds(0)), {});
  std::stop_source stop;
  std::jthread canceller([&] {
    if (!WaitForLine(out_).empty()) stop.request_stop();
  });
  // A cancelled handler returns; the runtime then records the job as
  // cancelled because its token was set.
  EXPECT_NO_THROW(RunJob(handler, SampleJob(), stop.get_token()));
  canceller.join();
  ASSERT_TRUE(stop.stop_requested());
  const pid_t pgid = RecordedPgid();
  ASSERT_GT(pgid, 1);
  EXPECT_TRUE(GroupGone(pgid));
}

TEST_F(ExecHandlerTest, MissingProgramIsAPermanentFailure) {
  HandlerConfig config;
  config.type = Type::kExec;
  config.command = {"/nonexistent/pgq-no-such-program", "arg"};
  std::string message =
      ThrownMessage<PermanentFailure>([&] { RunJob(MakeHandler(config, {}), SampleJob()); });
  EXPECT_NE(message.find("/nonexistent/pgq-no-such-program"), std::string::npos) << message;
  EXPECT_NE(message.find("No such file or directory"), std::string::npos) << message;

  config.command = {"pgq-no-such-program-on-path"};  // PATH lookup
  message = ThrownMessage<PermanentFailure>([&] { RunJob(MakeHandler(config, {}), SampleJob()); });
  EXPECT_NE(message.find("pgq-no-such-program-on-path"), std::string::npos) << message;
}

TEST_F(ExecHandlerTest, LargeOutputsAndInputDoNotDeadlock) {
  // 1 MiB on stdout and on stderr before the command reads its 1 MiB stdin.
  Job job = SampleJob();
  job.payload = std::string(1 << 20, 'p');
  RunJob(MakeHandler(Shell("head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2; "
                           R"(wc -c | tr -d ' ' > "$OUT")"),
                     {}),
         job);
  EXPECT_EQ(ReadFile(out_), "1048576\n");
}

TEST_F(ExecHandlerTest, CommandThatIgnoresStdinDoesNotRaiseSigpipe) {
  // Without SIGPIPE handling the write to the closed pipe would kill this
  // test process.
  Job job = SampleJob();
  job.payload = std::string(4 << 20, 'p');
  EXPECT_NO_THROW(RunJob(MakeHandler(Shell("exec 0<&-; exit 0"), {}), job));
  EXPECT_FALSE(SigpipeBlockedHere());
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  EXPECT_NE(sigismember(&pending, SIGPIPE), 1);
}

TEST_F(ExecHandlerTest, ScheduleGetsNameAndEmptyStdin) {
  const ScheduleHandler handler = MakeScheduleHandler(
      Shell(R"({ printf '%s:%s:' "$PGQ_SCHEDULE" "${PGQ_JOB_ID:-none}"; wc -c | tr -d ' '; })"
            R"( > "$OUT")"),
      {});
  RunSchedule(handler, "nightly_cleanup");
  EXPECT_EQ(ReadFile(out_), "nightly_cleanup:none:0\n");
}

TEST_F(ExecHandlerTest, EmptyCommandIsRejected) {
  HandlerConfig config;
  config.type = Type::kExec;
  EXPECT_THROW(MakeHandler(config, {}), LogicError);
}

// ------------------------------------------------------------------- http

/// What the server saw of one request.
struct SeenRequest {
  std::string uri;
  std::string body;
  std::map<std::string, std::string> headers;
};

/// A CivetWeb server on 127.0.0.1:<free port>. Paths: /ok (200), /missing
/// (404), /busy (503), /moved (302), /slow (blocks until Release()). One
/// server serves the whole suite: CivetWeb needs ~2 s to stop after it has
/// served a request.
class TestServer : public CivetHandler {
 public:
  TestServer() {
    server_ = std::make_unique<CivetServer>(
        std::vector<std::string>{"listening_ports", "127.0.0.1:0", "num_threads", "8"});
    for (const char* path : {"/ok", "/missing", "/busy", "/moved", "/slow"}) {
      server_->addHandler(path, this);
    }
    const auto ports = server_->getListeningPorts();
    port_ = ports.empty() ? 0 : ports.front();
  }
  ~TestServer() override {
    Release();
    server_->close();
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  int port() const { return port_; }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  /// Lets the /slow requests that arrived so far finish.
  void Release() {
    {
      std::scoped_lock lock(mu_);
      ++generation_;
    }
    cv_.notify_all();
  }
  /// Forgets the requests seen so far.
  void Reset() {
    std::scoped_lock lock(mu_);
    seen_.clear();
    slow_entered_ = false;
  }
  /// Waits until a /slow request arrived.
  bool WaitForSlow() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return slow_entered_; });
  }
  std::vector<SeenRequest> Seen() {
    std::scoped_lock lock(mu_);
    return seen_;
  }

  bool handlePost(CivetServer*, mg_connection* conn) override {
    const mg_request_info* info = mg_get_request_info(conn);
    SeenRequest request;
    request.uri = info->local_uri != nullptr ? info->local_uri : "";
    for (int i = 0; i < info->num_headers; ++i) {
      request.headers[info->http_headers[i].name] = info->http_headers[i].value;
    }
    std::array<char, 8192> buffer{};
    for (int n; (n = mg_read(conn, buffer.data(), buffer.size())) > 0;) {
      request.body.append(buffer.data(), static_cast<std::size_t>(n));
    }
    {
      std::unique_lock lock(mu_);
      seen_.push_back(request);
      if (request.uri == "/slow") {
        slow_entered_ = true;
        cv_.notify_all();
        const std::uint64_t arrived = generation_;
        cv_.wait(lock, [&] { return generation_ != arrived; });
      }
    }
    if (request.uri == "/ok" || request.uri == "/slow") return Reply(conn, 200, "OK", "fine");
    if (request.uri == "/missing") {
      return Reply(conn, 404, "Not Found", "no such resource: " + std::string(600, 'z'));
    }
    if (request.uri == "/moved") return Reply(conn, 302, "Found", "elsewhere");
    return Reply(conn, 503, "Service Unavailable", "try again later");
  }

 private:
  static bool Reply(mg_connection* conn, int status, const char* text, const std::string& body) {
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
              "Connection: close\r\n\r\n",
              status, text, body.size());
    mg_write(conn, body.data(), body.size());
    return true;
  }

  std::mutex mu_;  // guards seen_, generation_, slow_entered_
  std::condition_variable cv_;
  std::vector<SeenRequest> seen_;
  std::uint64_t generation_ = 0;
  bool slow_entered_ = false;
  int port_ = 0;
  std::unique_ptr<CivetServer> server_;
};

class HttpHandlerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new TestServer(); }
  static void TearDownTestSuite() {
    delete server_;  // releases waiting /slow requests first
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_GT(server_->port(), 0);
    server_->Reset();
  }
  void TearDown() override { server_->Release(); }

  static HandlerConfig Http(const std::string& url, milliseconds timeout = milliseconds(10000)) {
    HandlerConfig config;
    config.type = Type::kHttp;
    config.url = url;
    config.timeout = timeout;
    return config;
  }

  /// A port on 127.0.0.1 where nothing listens.
  static int ClosedPort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
  }

  static TestServer* server_;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)
};

TestServer* HttpHandlerTest::server_ = nullptr;

TEST_F(HttpHandlerTest, PostsPayloadAndJobHeaders) {
  HandlerConfig config = Http(server_->Url("/ok"));
  config.http_headers = {{"X-Custom", "custom value"}};
  const Job job = SampleJob();
  RunJob(MakeHandler(config, {}), job);

  const auto seen = server_->Seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].body, *job.payload);  // exact bytes, NUL and 0xFF included
  EXPECT_EQ(seen[0].headers.at("Content-Type"), "application/octet-stream");
  EXPECT_EQ(seen[0].headers.at("X-Pgq-Job-Id"), "4711");
  EXPECT_EQ(seen[0].headers.at("X-Pgq-Entrypoint"), "resize_image");
  EXPECT_EQ(seen[0].headers.at("X-Pgq-Headers"), R"({"trace_id": "abc-123"})");
  EXPECT_EQ(seen[0].headers.at("X-Custom"), "custom value");
}

TEST_F(HttpHandlerTest, HeadersFromFilesAreReadOnEveryRequest) {
  const auto dir = std::filesystem::temp_directory_path() / ("pgq-token-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto token = dir / "token";
  std::ofstream(token) << "Bearer first\n";
  HandlerConfig config = Http(server_->Url("/ok"));
  config.http_header_files = {{"Authorization", token.string()}};
  const Handler handler = MakeHandler(config, {});
  RunJob(handler, SampleJob());
  std::ofstream(token) << "Bearer rotated\n";
  RunJob(handler, SampleJob());
  std::ofstream(token) << "Bearer x\r\nX-Injected: 1\n";
  const std::string message = ThrownMessage<std::runtime_error>([&] { RunJob(handler, SampleJob()); });
  std::filesystem::remove_all(dir);
  const auto seen = server_->Seen();
  ASSERT_EQ(seen.size(), 2u);  // the multi-line value was never sent
  EXPECT_EQ(seen[0].headers.at("Authorization"), "Bearer first");
  EXPECT_EQ(seen[1].headers.at("Authorization"), "Bearer rotated");
  EXPECT_EQ(message, "headers_from_files.Authorization (" + token.string() +
                         ") holds more than one line");
}

TEST_F(HttpHandlerTest, ConfiguredHeaderReplacesOurs) {
  HandlerConfig config = Http(server_->Url("/ok"));
  config.http_headers = {{"content-type", "application/json"}};
  RunJob(MakeHandler(config, {}), SampleJob());
  const auto seen = server_->Seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].headers.count("Content-Type") + seen[0].headers.count("content-type"), 1u);
  const auto it = seen[0].headers.find("content-type");
  ASSERT_NE(it, seen[0].headers.end());
  EXPECT_EQ(it->second, "application/json");
}

TEST_F(HttpHandlerTest, ClientErrorIsPermanent) {
  const std::string message = ThrownMessage<PermanentFailure>(
      [&] { RunJob(MakeHandler(Http(server_->Url("/missing")), {}), SampleJob()); });
  const std::string prefix = "HTTP 404 from " + server_->Url("/missing") + ": no such resource: ";
  EXPECT_EQ(message.rfind(prefix, 0), 0u) << message;
  EXPECT_EQ(message.size(), prefix.size() + 512 - std::string("no such resource: ").size());
}

TEST_F(HttpHandlerTest, ServerErrorIsRetryable) {
  std::string message;
  try {
    RunJob(MakeHandler(Http(server_->Url("/busy")), {}), SampleJob());
    ADD_FAILURE() << "no exception";
  } catch (const PermanentFailure& e) {
    ADD_FAILURE() << "5xx must stay retryable: " << e.what();
  } catch (const std::runtime_error& e) {
    message = e.what();
  }
  EXPECT_EQ(message, "HTTP 503 from " + server_->Url("/busy") + ": try again later");
}

TEST_F(HttpHandlerTest, RedirectsAreNotFollowed) {
  const std::string message = ThrownMessage<std::runtime_error>(
      [&] { RunJob(MakeHandler(Http(server_->Url("/moved")), {}), SampleJob()); });
  EXPECT_NE(message.find("HTTP 302"), std::string::npos) << message;
  EXPECT_EQ(server_->Seen().size(), 1u);
}

TEST_F(HttpHandlerTest, TimeoutIsRetryable) {
  std::string message;
  try {
    RunJob(MakeHandler(Http(server_->Url("/slow"), milliseconds(300)), {}), SampleJob());
    ADD_FAILURE() << "no exception";
  } catch (const PermanentFailure& e) {
    ADD_FAILURE() << "a timeout must stay retryable: " << e.what();
  } catch (const std::runtime_error& e) {
    message = e.what();
  }
  EXPECT_EQ(message, "HTTP request to " + server_->Url("/slow") + " timed out after 300 ms");
}

TEST_F(HttpHandlerTest, CancellationAbortsTheRequest) {
  const Handler handler = MakeHandler(Http(server_->Url("/slow"), milliseconds(0)), {});
  std::stop_source stop;
  std::jthread canceller([&] {
    if (server_->WaitForSlow()) stop.request_stop();
  });
  EXPECT_NO_THROW(RunJob(handler, SampleJob(), stop.get_token()));
  canceller.join();
  EXPECT_TRUE(stop.stop_requested());
}

TEST_F(HttpHandlerTest, ConnectionErrorIsRetryable) {
  const std::string url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/ok";
  std::string message;
  try {
    RunJob(MakeHandler(Http(url), {}), SampleJob());
    ADD_FAILURE() << "no exception";
  } catch (const PermanentFailure& e) {
    ADD_FAILURE() << "a refused connection must stay retryable: " << e.what();
  } catch (const std::runtime_error& e) {
    message = e.what();
  }
  EXPECT_EQ(message.rfind("HTTP request to " + url + " failed: ", 0), 0u) << message;
}

TEST_F(HttpHandlerTest, UrlCredentialsNeverAppearInMessages) {
  const std::string secret = "Secret-Marker";
  const std::string credentials = "user:" + secret + "@";
  const std::string missing = "http://" + credentials +
                              "127.0.0.1:" + std::to_string(server_->port()) +
                              "/missing?token=Query-Marker";
  std::string message =
      ThrownMessage<PermanentFailure>([&] { RunJob(MakeHandler(Http(missing), {}), SampleJob()); });
  EXPECT_NE(message.find("HTTP 404 from " + server_->Url("/missing") + ":"), std::string::npos)
      << message;
  EXPECT_EQ(message.find(secret), std::string::npos) << message;
  EXPECT_EQ(message.find("user:"), std::string::npos) << message;
  EXPECT_EQ(message.find("Query-Marker"), std::string::npos) << message;

  const std::string refused =
      "http://" + credentials + "127.0.0.1:" + std::to_string(ClosedPort()) + "/ok";
  message = ThrownMessage<std::runtime_error>(
      [&] { RunJob(MakeHandler(Http(refused), {}), SampleJob()); });
  EXPECT_EQ(message.find(secret), std::string::npos) << message;

  const std::string slow =
      "http://" + credentials + "127.0.0.1:" + std::to_string(server_->port()) + "/slow";
  message = ThrownMessage<std::runtime_error>(
      [&] { RunJob(MakeHandler(Http(slow, milliseconds(200)), {}), SampleJob()); });
  EXPECT_EQ(message.find(secret), std::string::npos) << message;
}

TEST_F(HttpHandlerTest, SchedulePostsEmptyBody) {
  RunSchedule(MakeScheduleHandler(Http(server_->Url("/ok")), {}), "nightly_report");
  const auto seen = server_->Seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].body, "");
  EXPECT_EQ(seen[0].headers.at("X-Pgq-Schedule"), "nightly_report");
  EXPECT_EQ(seen[0].headers.count("X-Pgq-Job-Id"), 0u);
}

TEST_F(HttpHandlerTest, EmptyUrlIsRejected) { EXPECT_THROW(MakeHandler(Http(""), {}), LogicError); }

// -------------------------------------------------------------- built-ins

TEST(BuiltinHandlerTest, NoopSucceeds) {
  HandlerConfig config;
  config.type = Type::kNoop;
  EXPECT_NO_THROW(RunJob(MakeHandler(config, {}), SampleJob()));
  EXPECT_NO_THROW(RunSchedule(MakeScheduleHandler(config, {}), "tick"));
}

TEST(BuiltinHandlerTest, FailThrowsTheConfiguredMessage) {
  HandlerConfig config;
  config.type = Type::kFail;
  config.message = "demo failure";
  EXPECT_EQ(
      ThrownMessage<std::runtime_error>([&] { RunJob(MakeHandler(config, {}), SampleJob()); }),
      "demo failure");
  EXPECT_EQ(ThrownMessage<std::runtime_error>(
                [&] { RunSchedule(MakeScheduleHandler(config, {}), "tick"); }),
            "demo failure");
}

TEST(BuiltinHandlerTest, SleepWaitsForItsDuration) {
  HandlerConfig config;
  config.type = Type::kSleep;
  config.duration = milliseconds(50);
  const auto start = std::chrono::steady_clock::now();
  RunJob(MakeHandler(config, {}), SampleJob());
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(50));
  RunSchedule(MakeScheduleHandler(config, {}), "tick");
}

TEST(BuiltinHandlerTest, SleepReturnsEarlyWhenCancelled) {
  HandlerConfig config;
  config.type = Type::kSleep;
  config.duration = std::chrono::seconds(30);
  const Handler handler = MakeHandler(config, {});
  const auto start = std::chrono::steady_clock::now();

  std::stop_source already;
  already.request_stop();
  RunJob(handler, SampleJob(), already.get_token());

  std::stop_source later;
  std::jthread canceller([&] {
    std::this_thread::sleep_for(milliseconds(50));
    later.request_stop();
  });
  RunJob(handler, SampleJob(), later.get_token());
  EXPECT_TRUE(later.stop_requested());
  // Generous bound: both calls together must end well before one full sleep.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

TEST(BuiltinHandlerTest, SqlNeedsAPool) {
  HandlerConfig config;
  config.type = Type::kSql;
  config.statement = "SELECT 1";
  EXPECT_THROW(MakeHandler(config, {}), LogicError);
}

}  // namespace
}  // namespace pgq::worker
