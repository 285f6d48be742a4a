#include "handlers/http_handler.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include "handlers/secret_values.h"
#include "pgq/error.h"
#include "util/text.h"

namespace pgq::worker {
namespace {

using std::chrono::milliseconds;

/// Bytes of an HTTP error response quoted in the message.
constexpr std::size_t kHttpBodyPrefix = 512;

void EnsureCurlGlobal() {
  static const bool initialised = [] {
    const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
      throw std::runtime_error(std::string("cannot initialise libcurl: ") + curl_easy_strerror(rc));
    }
    return true;
  }();
  (void)initialised;
}

struct CurlUrlDeleter {
  void operator()(CURLU* url) const noexcept { curl_url_cleanup(url); }
};
struct CurlEasyDeleter {
  void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
struct CurlListDeleter {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};

/// What may appear in messages about a URL: scheme, host, port and path;
/// never the user info (user:password@) and never the query or fragment,
/// which often carry tokens.
struct UrlParts {
  std::string safe;
  std::vector<std::string> secrets;  // password as written and decoded
};

UrlParts InspectUrl(const std::string& url) {
  UrlParts parts;
  std::unique_ptr<CURLU, CurlUrlDeleter> handle(curl_url());
  if (!handle || curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    parts.safe = "<unparsable URL>";
    return parts;
  }
  auto get = [&](CURLUPart part, unsigned flags) {
    char* text = nullptr;
    std::string out;
    if (curl_url_get(handle.get(), part, &text, flags) == CURLUE_OK && text != nullptr) {
      out = text;
    }
    curl_free(text);
    return out;
  };
  const std::string port = get(CURLUPART_PORT, 0);
  parts.safe = get(CURLUPART_SCHEME, 0) + "://" + get(CURLUPART_HOST, 0) +
               (port.empty() ? "" : ":" + port) + get(CURLUPART_PATH, 0);
  for (const std::string& secret :
       {get(CURLUPART_PASSWORD, 0), get(CURLUPART_PASSWORD, CURLU_URLDECODE)}) {
    if (!secret.empty()) parts.secrets.push_back(secret);
  }
  return parts;
}

std::string HeaderLine(const std::string& name, const std::string& value) {
  std::string clean = value;
  clean.erase(std::remove_if(clean.begin(), clean.end(),
                             [](char c) { return c == '\r' || c == '\n' || c == '\0'; }),
              clean.end());
  // "Name:" would make libcurl drop the header; "Name;" sends it empty.
  if (clean.empty()) return name + ";";
  return name + ": " + clean;
}

bool SameHeaderName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

struct Transfer {
  std::string body;  // first kHttpBodyPrefix bytes of the response
  std::stop_token stop;
};

std::size_t OnBody(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  if (transfer->body.size() < kHttpBodyPrefix) {
    transfer->body.append(data, std::min(bytes, kHttpBodyPrefix - transfer->body.size()));
  }
  return bytes;  // the rest is read and discarded
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Transfer*>(user)->stop.stop_requested() ? 1 : 0;
}

class HttpHandler {
 public:
  explicit HttpHandler(const HandlerConfig& config) : url_(config.url), timeout_(config.timeout) {
    if (url_.empty()) throw LogicError("http handler: `url` is empty");
    EnsureCurlGlobal();
    url_parts_ = InspectUrl(url_);
    for (const auto& [name, value] : config.http_headers) extra_.emplace_back(name, value);
    header_files_ = config.http_header_files;
  }

  void Run(const Invocation& inv) const;

 private:
  /// Removes any trace of the URL's credentials from a message.
  std::string Scrub(std::string message) const {
    for (const auto& secret : url_parts_.secrets) {
      for (auto at = message.find(secret); at != std::string::npos; at = message.find(secret, at)) {
        message.replace(at, secret.size(), "****");
      }
    }
    return ValidUtf8(message);
  }

  std::string url_;
  UrlParts url_parts_;
  std::vector<std::pair<std::string, std::string>> extra_;
  std::map<std::string, std::string> header_files_;  // read per request
  milliseconds timeout_;  // <= 0: no limit
};

void HttpHandler::Run(const Invocation& inv) const {
  std::unique_ptr<CURL, CurlEasyDeleter> handle(curl_easy_init());
  if (!handle) throw std::runtime_error("http: cannot create a libcurl handle");
  CURL* curl = handle.get();

  // Ours first; a configured header of the same name replaces ours.
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/octet-stream"}};
  headers.insert(headers.end(), inv.http_headers.begin(), inv.http_headers.end());
  std::unique_ptr<curl_slist, CurlListDeleter> list;
  auto add = [&](const std::string& line) {
    curl_slist* next = curl_slist_append(list.get(), line.c_str());
    if (next == nullptr) throw std::runtime_error("http: out of memory building headers");
    if (next != list.get()) {  // the first node becomes the head
      (void)list.release();
      list.reset(next);
    }
  };
  auto extra = extra_;
  for (auto& [name, value] : ReadSecretValues(header_files_, "headers_from_files")) {
    extra.emplace_back(name, std::move(value));
  }
  for (const auto& [name, value] : headers) {
    const bool overridden = std::any_of(
        extra.begin(), extra.end(), [&](const auto& e) { return SameHeaderName(e.first, name); });
    if (!overridden) add(HeaderLine(name, value));
  }
  for (const auto& [name, value] : extra) add(HeaderLine(name, value));
  add("Expect:");  // no 100-continue round trip for large bodies

  Transfer transfer;
  transfer.stop = inv.stop;
  const std::string_view body = inv.payload.value_or(std::string_view{});
  std::array<char, CURL_ERROR_SIZE> error{};

  curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500  // 7.85
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "pgq-worker");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::max<milliseconds::rep>(timeout_.count(), 0)));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error.data());

  const CURLcode rc = curl_easy_perform(curl);
  const std::string& where = url_parts_.safe;
  if (rc == CURLE_OK) {
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300) return;
    const std::string message = Scrub(
        WithDetail("HTTP " + std::to_string(code) + " from " + where, TrimTrailingSpace(transfer.body)));
    if (code >= 400 && code < 500) throw PermanentFailure(message);
    if (code >= 300 && code < 400) {
      throw std::runtime_error(message + " (redirects are not followed)");
    }
    throw std::runtime_error(message);
  }
  if (rc == CURLE_ABORTED_BY_CALLBACK && inv.stop.stop_requested()) {
    spdlog::info("http {}: cancelled; request to {} aborted", inv.label, where);
    return;
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    throw std::runtime_error("HTTP request to " + where + " timed out after " +
                             std::to_string(timeout_.count()) + " ms");
  }
  const std::string detail = error[0] != '\0' ? TrimTrailingSpace(error.data()) : curl_easy_strerror(rc);
  const std::string message = Scrub("HTTP request to " + where + " failed: " + detail);
  if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
    throw PermanentFailure(message);  // a configuration error: retrying cannot help
  }
  throw std::runtime_error(message);
}

}  // namespace

Runner MakeHttpRunner(const HandlerConfig& config) {
  auto handler = std::make_shared<const HttpHandler>(config);
  return [handler](const Invocation& inv) { handler->Run(inv); };
}

}  // namespace pgq::worker
