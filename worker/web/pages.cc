#include "web/pages.h"

#include <optional>

#include "web/assets.h"
#include "web/html.h"

namespace pgq::worker::web {
namespace {

std::string Esc(std::string_view text) { return HtmlEscape(text); }

std::string Num(std::int64_t value) { return std::to_string(value); }

std::string Wait(const std::optional<double>& seconds) {
  return seconds ? Esc(FormatAge(*seconds)) : "<span class=\"muted\">–</span>";
}

std::string StatusCell(JobStatus status) {
  const std::string name(ToString(status));
  return "<span class=\"status-" + name + "\">" + Esc(name) + "</span>";
}

std::string JobLink(JobId id) { return "<a href=\"/jobs/" + Num(id) + "\">" + Num(id) + "</a>"; }

// /jobs?... with the filter's set fields (and a cursor when given).
std::string JobsUrl(const JobFilter& filter, std::optional<JobId> before) {
  std::string query;
  auto add = [&](std::string_view name, const std::string& value) {
    query += (query.empty() ? "?" : "&") + std::string(name) + "=" + UrlEncode(value);
  };
  if (filter.status) add("status", std::string(ToString(*filter.status)));
  if (filter.entrypoint) add("entrypoint", *filter.entrypoint);
  if (filter.id) add("id", Num(*filter.id));
  if (before) add("before", Num(*before));
  return "/jobs" + query;
}

std::string Card(std::string_view label, const std::string& value_html, bool bad = false) {
  return std::string("<div class=\"card") + (bad ? " bad" : "") + "\"><div class=\"muted\">" +
         Esc(label) + "</div><div class=\"value\">" + value_html + "</div></div>";
}

}  // namespace

std::string Page(const PageFrame& frame, const std::string& body_html) {
  auto nav = [&](std::string_view key, std::string_view href, std::string_view label) {
    return std::string("<a href=\"") + std::string(href) + "\"" +
           (frame.active == key ? " class=\"active\"" : "") + ">" + std::string(label) + "</a>";
  };
  return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>" +
         Esc(frame.title) + " · pgq</title><link rel=\"stylesheet\" href=\"" +
         std::string(kConsoleCssPath) + "\"></head><body><header><strong>pgq</strong><nav>" +
         nav("overview", "/", "Overview") + nav("jobs", "/jobs", "Jobs") +
         nav("failures", "/failures", "Failures") + "</nav><span class=\"muted\">" +
         Esc(frame.queue) + " · " + Esc(frame.user) + (frame.read_only ? " · read-only" : "") +
         "</span></header><main>" + body_html + "</main></body></html>\n";
}

std::string OverviewBody(const ConsoleOverview& overview,
                         const std::vector<EntrypointBacklog>& backlog) {
  std::string html = "<h1>Overview</h1><div class=\"cards\">" +
                     Card("queued", Num(overview.queued)) +
                     Card("in flight", Num(overview.picked)) +
                     Card("held failed", "<a href=\"/failures\">" + Num(overview.failed) + "</a>",
                          overview.failed > 0) +
                     Card("oldest queued wait", Wait(overview.oldest_wait_seconds)) + "</div>";
  html += "<h2>Backlog by entrypoint</h2>";
  if (backlog.empty()) return html + "<p class=\"muted\">The queue is empty.</p>";
  html +=
      "<table id=\"backlog\"><thead><tr><th>entrypoint</th><th class=\"num\">queued</th>"
      "<th class=\"num\">in flight</th><th class=\"num\">held failed</th>"
      "<th class=\"num\">oldest wait</th></tr></thead><tbody>";
  for (const auto& row : backlog) {
    JobFilter by;
    by.entrypoint = row.entrypoint;
    html += "<tr><td><a href=\"" + Esc(JobsUrl(by, std::nullopt)) + "\">" + Esc(row.entrypoint) +
            "</a></td><td class=\"num\">" + Num(row.queued) + "</td><td class=\"num\">" +
            Num(row.picked) + "</td><td class=\"num\">" + Num(row.failed) +
            "</td><td class=\"num\">" + Wait(row.oldest_wait_seconds) + "</td></tr>";
  }
  return html + "</tbody></table>";
}

std::string JobsBody(const JobFilter& filter, const JobPage& page) {
  std::string html = "<h1>Jobs</h1><form class=\"filters\" method=\"get\" action=\"/jobs\">";
  html += "<label>status<select name=\"status\"><option value=\"\">any</option>";
  for (const JobStatus s : {JobStatus::kQueued, JobStatus::kPicked, JobStatus::kFailed}) {
    const std::string name(ToString(s));
    html += "<option value=\"" + name + "\"" + (filter.status == s ? " selected" : "") + ">" +
            name + "</option>";
  }
  html += "</select></label><label>entrypoint<input name=\"entrypoint\" value=\"" +
          Esc(filter.entrypoint.value_or("")) +
          "\"></label><label>job id<input name=\"id\" inputmode=\"numeric\" value=\"" +
          (filter.id ? Num(*filter.id) : "") +
          "\"></label><button type=\"submit\">Filter</button>"
          "<a href=\"/jobs\">clear</a></form>";
  if (page.jobs.empty()) {
    html += "<p class=\"muted\" id=\"no-jobs\">No jobs match.</p>";
  } else {
    html +=
        "<table id=\"jobs\"><thead><tr><th class=\"num\">id</th><th>entrypoint</th>"
        "<th>status</th><th class=\"num\">priority</th><th class=\"num\">attempts</th>"
        "<th>created</th><th>updated</th><th>execute after</th>"
        "<th class=\"num\">payload bytes</th></tr></thead><tbody>";
    for (const auto& job : page.jobs) {
      html += "<tr><td class=\"num\">" + JobLink(job.id) + "</td><td>" + Esc(job.entrypoint) +
              "</td><td>" + StatusCell(job.status) + "</td><td class=\"num\">" + Num(job.priority) +
              "</td><td class=\"num\">" + Num(job.attempts) + "</td><td>" +
              Esc(FormatTime(job.created)) + "</td><td>" + Esc(FormatTime(job.updated)) +
              "</td><td>" + Esc(FormatTime(job.execute_after)) + "</td><td class=\"num\">" +
              (job.payload_bytes ? Num(*job.payload_bytes) : "NULL") + "</td></tr>";
    }
    html += "</tbody></table>";
  }
  html += "<div class=\"pager\">";
  if (filter.before) {
    html +=
        "<a id=\"first-page\" href=\"" + Esc(JobsUrl(filter, std::nullopt)) + "\">first page</a>";
  }
  if (page.next_before) {
    html += "<a id=\"next-page\" href=\"" + Esc(JobsUrl(filter, page.next_before)) +
            "\">older jobs</a>";
  }
  return html + "</div>";
}

std::string JobBody(JobId id, const JobDetail& detail, std::int64_t payload_preview, bool actions,
                    const std::string& csrf_token) {
  std::string html = "<h1>Job " + Num(id) + "</h1>";
  if (detail.job) {
    const Job& job = *detail.job;
    html += "<dl class=\"fields\"><dt>status</dt><dd id=\"job-status\">" + StatusCell(job.status) +
            "</dd><dt>entrypoint</dt><dd>" + Esc(job.entrypoint) + "</dd><dt>priority</dt><dd>" +
            Num(job.priority) + "</dd><dt>attempts</dt><dd>" + Num(job.attempts) +
            "</dd><dt>dedupe key</dt><dd>" +
            (job.dedupe_key ? Esc(*job.dedupe_key) : "<span class=\"muted\">–</span>") +
            "</dd><dt>worker</dt><dd>" +
            (job.queue_manager_id.empty() ? "<span class=\"muted\">–</span>"
                                          : Esc(job.queue_manager_id)) +
            "</dd><dt>created</dt><dd>" + Esc(FormatTime(job.created)) +
            "</dd><dt>updated</dt><dd>" + Esc(FormatTime(job.updated)) +
            "</dd><dt>execute after</dt><dd>" + Esc(FormatTime(job.execute_after)) +
            "</dd><dt>heartbeat</dt><dd>" + Esc(FormatTime(job.heartbeat)) + "</dd></dl>";
    if (actions && job.status == JobStatus::kFailed) {
      html += "<form id=\"requeue\" method=\"post\" action=\"/jobs/" + Num(id) +
              "/requeue\"><input type=\"hidden\" name=\"csrf\" value=\"" + Esc(csrf_token) +
              "\"><button type=\"submit\">Requeue</button></form>";
    }
    html += "<h2>Headers</h2><pre class=\"headers\">" + Esc(job.headers) + "</pre>";
    html += "<h2>Payload</h2>";
    if (payload_preview <= 0) {
      html += "<p class=\"muted\">Payloads are hidden (web.payload_preview is 0).</p>";
    } else {
      html += PayloadHtml(job.payload, detail.payload_bytes.value_or(0));
    }
  } else {
    html +=
        "<p class=\"muted\" id=\"not-in-queue\">Not in the queue table: the job finished "
        "(or was deleted); its log history follows.</p>";
  }
  if (detail.traceback) {
    html += "<h2>Traceback</h2><pre class=\"traceback\">" + Esc(*detail.traceback) + "</pre>";
  }
  html += "<h2>Log history</h2>";
  if (detail.log.empty()) return html + "<p class=\"muted\">No log rows.</p>";
  html +=
      "<table id=\"log\"><thead><tr><th>time</th><th>status</th><th>entrypoint</th>"
      "<th class=\"num\">priority</th></tr></thead><tbody>";
  for (const auto& entry : detail.log) {
    html += "<tr><td>" + Esc(FormatTime(entry.created)) + "</td><td>" + StatusCell(entry.status) +
            "</td><td>" + Esc(entry.entrypoint) + "</td><td class=\"num\">" + Num(entry.priority) +
            "</td></tr>";
  }
  return html + "</tbody></table>";
}

std::string FailuresBody(const std::vector<FailureGroup>& groups) {
  std::string html = "<h1>Held failures</h1>";
  if (groups.empty()) return html + "<p class=\"muted\" id=\"no-failures\">No held jobs.</p>";
  html +=
      "<table id=\"failures\"><thead><tr><th>entrypoint</th><th class=\"num\">jobs</th>"
      "<th>first held</th><th>last held</th><th class=\"num\">newest</th>"
      "<th>latest error</th></tr></thead><tbody>";
  for (const auto& g : groups) {
    JobFilter by;
    by.status = JobStatus::kFailed;
    by.entrypoint = g.entrypoint;
    std::string error;
    if (g.exception_type) error = *g.exception_type;
    if (g.exception_message) error += (error.empty() ? "" : ": ") + *g.exception_message;
    html += "<tr><td><a href=\"" + Esc(JobsUrl(by, std::nullopt)) + "\">" + Esc(g.entrypoint) +
            "</a></td><td class=\"num\">" + Num(g.jobs) + "</td><td>" +
            Esc(FormatTime(g.first_held)) + "</td><td>" + Esc(FormatTime(g.last_held)) +
            "</td><td class=\"num\">" + JobLink(g.newest_id) + "</td><td>" +
            (error.empty() ? "<span class=\"muted\">–</span>" : Esc(error)) + "</td></tr>";
  }
  return html + "</tbody></table>";
}

std::string MessageBody(const std::string& heading, const std::string& text) {
  return "<h1>" + Esc(heading) + "</h1><p class=\"error\">" + Esc(text) + "</p>";
}

}  // namespace pgq::worker::web
