#include "web/console.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <string_view>
#include <utility>

#include "pgq/error.h"
#include "web/assets.h"
#include "web/csrf.h"
#include "web/form.h"
#include "web/pages.h"

namespace pgq::worker::web {

// What one request carries through the handlers.
struct WebConsole::Context {
  std::string user;        // who acts (for the audit log and the header)
  std::string csrf_token;  // the session's token (cookie), maybe new
  bool new_token = false;  // plant it with Set-Cookie
};

namespace {

constexpr std::string_view kHtml = "text/html; charset=utf-8";

// Positive decimal id, or nullopt.
std::optional<JobId> ParseId(std::string_view text) {
  JobId value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value <= 0) return std::nullopt;
  return value;
}

void Harden(HttpResponse& response) {
  response.headers.emplace_back(
      "Content-Security-Policy",
      "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
      "frame-ancestors 'none'; base-uri 'none'");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("X-Frame-Options", "DENY");
  // Same-origin requests keep their Referer (a fallback of the origin check).
  response.headers.emplace_back("Referrer-Policy", "same-origin");
}

}  // namespace

WebConsole::WebConsole(ConsoleOptions options, Executor& executor, const DBSettings& settings)
    : options_(std::move(options)),
      queue_table_(settings.QueueTable()),
      queries_(executor, settings) {}

HttpResponse WebConsole::Handle(const HttpRequest& request) {
  Context context;
  if (options_.credentials) {
    const auto user = CheckBasicAuth(request.Header("authorization"), *options_.credentials);
    if (!user) {
      HttpResponse refused{401, "text/plain; charset=utf-8", "authentication required\n", {}};
      refused.headers.emplace_back("WWW-Authenticate", "Basic realm=\"pgq\", charset=\"UTF-8\"");
      Harden(refused);
      return refused;
    }
    context.user = *user;
  } else {
    context.user = "anonymous@" + request.remote_address;
  }
  context.csrf_token = CookieValue(request.Header("cookie"), kCsrfCookie);
  if (!WellFormedToken(context.csrf_token)) {
    context.csrf_token = NewCsrfToken();
    context.new_token = true;
  }
  HttpResponse response = Route(request, context);
  if (context.new_token) {
    response.headers.emplace_back("Set-Cookie", CsrfCookieHeader(context.csrf_token));
  }
  Harden(response);
  return response;
}

HttpResponse WebConsole::Route(const HttpRequest& request, Context& context) {
  const std::string& path = request.path;
  const bool get = request.method == "GET" || request.method == "HEAD";
  PageFrame frame{"", "", queue_table_, context.user, options_.read_only, context.csrf_token};
  auto page = [&](int status, std::string title, std::string active, const std::string& body) {
    frame.title = std::move(title);
    frame.active = std::move(active);
    return HttpResponse{status, std::string(kHtml), Page(frame, body), {}};
  };
  auto message = [&](int status, const std::string& heading, const std::string& text) {
    return page(status, heading, "", MessageBody(heading, text));
  };
  auto not_allowed = [&] {
    HttpResponse r = message(405, "Method not allowed", request.method + " is not allowed here");
    r.headers.emplace_back("Allow", get ? "POST" : "GET");
    return r;
  };

  if (path == kConsoleCssPath) {
    if (!get) return not_allowed();
    return {200, "text/css; charset=utf-8", std::string(kConsoleCss), {}};
  }
  if (path == "/" || path == "/overview") {
    if (!get) return not_allowed();
    return page(200, "Overview", "overview", OverviewBody(queries_.Overview(), queries_.Backlog()));
  }
  if (path == "/failures") {
    if (!get) return not_allowed();
    return page(200, "Failures", "failures", FailuresBody(queries_.Failures()));
  }
  if (path == "/jobs") {
    if (!get) return not_allowed();
    const auto form = ParseForm(request.query);
    JobFilter filter;
    auto field = [&](const char* name) -> std::string {
      const auto it = form.find(name);
      return it == form.end() ? std::string() : it->second;
    };
    try {
      if (const auto s = field("status"); !s.empty()) filter.status = ParseJobStatus(s);
    } catch (const LogicError&) {
      return message(400, "Bad request", "unknown status \"" + field("status") + "\"");
    }
    if (const auto e = field("entrypoint"); !e.empty()) filter.entrypoint = e;
    for (const char* name : {"id", "before"}) {
      const std::string text = field(name);
      if (text.empty()) continue;
      const auto id = ParseId(text);
      if (!id) return message(400, "Bad request", std::string(name) + " must be a job id");
      (std::string_view(name) == "id" ? filter.id : filter.before) = id;
    }
    return page(200, "Jobs", "jobs", JobsBody(filter, queries_.ListJobs(filter)));
  }
  if (path.starts_with("/jobs/")) {
    std::string_view rest = std::string_view(path).substr(6);
    const bool requeue = rest.ends_with("/requeue");
    if (requeue) rest.remove_suffix(8);
    const auto id = ParseId(rest);
    if (!id) return message(404, "Not found", "no such page");
    if (requeue) {
      if (request.method != "POST") return not_allowed();
      return Requeue(request, context, *id);
    }
    if (!get) return not_allowed();
    const JobDetail detail = queries_.Detail(*id, options_.payload_preview);
    if (!detail.job && detail.log.empty()) {
      return message(404, "Not found",
                     "job " + std::to_string(*id) +
                         " is not in the queue "
                         "table and has no log rows");
    }
    return page(
        200, "Job " + std::to_string(*id), "jobs",
        JobBody(*id, detail, options_.payload_preview, !options_.read_only, context.csrf_token));
  }
  return message(404, "Not found", "no such page");
}

HttpResponse WebConsole::Requeue(const HttpRequest& request, Context& context, JobId id) {
  PageFrame frame{"Refused",         "", queue_table_, context.user, options_.read_only,
                  context.csrf_token};
  auto refuse = [&](int status, const std::string& why) {
    spdlog::warn("web audit: user={} action=requeue job={} refused: {}", context.user, id, why);
    return HttpResponse{status, std::string(kHtml), Page(frame, MessageBody("Refused", why)), {}};
  };
  if (options_.read_only) return refuse(403, "the console is read-only");
  if (request.body_truncated) return refuse(413, "request body too large");
  const auto form = ParseForm(request.body);
  const auto token = form.find("csrf");
  if (!CsrfAllowed(request, token == form.end() ? std::string_view() : token->second)) {
    return refuse(403, "cross-site request refused (origin or form token does not match)");
  }
  const std::int64_t moved = queries_.Requeue({id});
  spdlog::info("web audit: user={} action=requeue job={} requeued={}", context.user, id, moved);
  HttpResponse response{303,
                        "text/plain; charset=utf-8",
                        moved > 0 ? "requeued\n" : "not held; nothing to requeue\n",
                        {}};
  response.headers.emplace_back("Location", "/jobs/" + std::to_string(id));
  return response;
}

}  // namespace pgq::worker::web
