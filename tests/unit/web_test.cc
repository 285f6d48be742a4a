// The job console's pure parts: escaping, payload previews, Basic auth, the
// CSRF checks, form parsing, and the requests WebConsole refuses before it
// asks the database anything.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.h"
#include "pgq/error.h"
#include "web/auth.h"
#include "web/console.h"
#include "web/csrf.h"
#include "web/form.h"
#include "web/html.h"

namespace pgq::worker::web {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(WebHtmlTest, EscapesEveryMarkupCharacter) {
  EXPECT_EQ(HtmlEscape("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
  EXPECT_EQ(HtmlEscape(R"(a&b "c" 'd')"), "a&amp;b &quot;c&quot; &#39;d&#39;");
  EXPECT_EQ(HtmlEscape("plain ünïcode"), "plain ünïcode");
  EXPECT_EQ(UrlEncode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
}

TEST(WebHtmlTest, Utf8ValidationIsStrict) {
  EXPECT_TRUE(IsUtf8("ascii and \xc3\xa9 and \xe2\x82\xac and \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsUtf8("\xff"));
  EXPECT_FALSE(IsUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsUtf8("\xe2\x82"));          // cut short
}

TEST(WebHtmlTest, PayloadPreviewIsEscapedTextOrHex) {
  const std::string script = "<script>alert(1)</script>";
  const std::string text = PayloadHtml(script, static_cast<std::int64_t>(script.size()));
  EXPECT_THAT(text, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(text, Not(HasSubstr("<script>")));
  EXPECT_THAT(text, Not(HasSubstr("showing")));

  const std::string binary("\x00\xff<b>", 5);
  const std::string hex = PayloadHtml(binary, 5);
  EXPECT_THAT(hex, HasSubstr("00 ff 3c 62 3e"));
  EXPECT_THAT(hex, Not(HasSubstr("<b>")));

  // A preview cut inside a multi-byte character still shows as text.
  const std::string cut = PayloadHtml(std::string("ab\xc3", 3), 4);
  EXPECT_THAT(cut, HasSubstr(">ab</pre>"));
  EXPECT_THAT(cut, HasSubstr("showing 2 of 4 bytes"));
  EXPECT_THAT(PayloadHtml(std::nullopt, 0), HasSubstr("NULL"));
  EXPECT_EQ(HexDump(std::string(17, 'A')), "41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41\n41");
}

TEST(WebAuthTest, ConstantTimeEqualsComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secret2"));
  EXPECT_FALSE(ConstantTimeEquals("", "x"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST(WebAuthTest, Base64Decoding) {
  EXPECT_EQ(DecodeBase64("YWRtaW46czNjcmV0"), std::optional<std::string>("admin:s3cret"));
  EXPECT_EQ(DecodeBase64("YQ=="), std::optional<std::string>("a"));
  EXPECT_EQ(DecodeBase64("YWI="), std::optional<std::string>("ab"));
  EXPECT_FALSE(DecodeBase64("YQ=").has_value());
  EXPECT_FALSE(DecodeBase64("Y=Q=").has_value());
  EXPECT_FALSE(DecodeBase64("!!!!").has_value());
}

TEST(WebAuthTest, BasicAuthAcceptsOnlyTheConfiguredPair) {
  const BasicCredentials expected{"admin", "s3cret"};
  EXPECT_EQ(CheckBasicAuth("Basic YWRtaW46czNjcmV0", expected),
            std::optional<std::string>("admin"));
  EXPECT_EQ(CheckBasicAuth("basic  YWRtaW46czNjcmV0 ", expected),
            std::optional<std::string>("admin"));
  EXPECT_FALSE(CheckBasicAuth("Basic YWRtaW46d3Jvbmc=", expected));  // admin:wrong
  EXPECT_FALSE(CheckBasicAuth("Basic cm9vdDpzM2NyZXQ=", expected));  // root:s3cret
  EXPECT_FALSE(CheckBasicAuth("Bearer YWRtaW46czNjcmV0", expected));
  EXPECT_FALSE(CheckBasicAuth("", expected));
  EXPECT_FALSE(CheckBasicAuth("Basic YWRtaW4=", expected));  // no colon
  EXPECT_EQ(TrimCredential("pw\r\n"), "pw");
  EXPECT_EQ(TrimCredential("pw\n\n"), "pw\n");
}

HttpRequest Post(std::string origin, std::string referer, std::string cookie_token,
                 std::string form_token) {
  HttpRequest r;
  r.method = "POST";
  r.path = "/jobs/7/requeue";
  r.headers["host"] = "console.example:8080";
  if (!origin.empty()) r.headers["origin"] = origin;
  if (!referer.empty()) r.headers["referer"] = referer;
  if (!cookie_token.empty()) r.headers["cookie"] = "a=b; pgq_csrf=" + cookie_token + "; c=d";
  r.body = "csrf=" + form_token;
  return r;
}

TEST(WebCsrfTest, TokensAreRandomAndWellFormed) {
  const std::string a = NewCsrfToken();
  const std::string b = NewCsrfToken();
  EXPECT_TRUE(WellFormedToken(a));
  EXPECT_NE(a, b);
  EXPECT_FALSE(WellFormedToken(a.substr(1)));
  EXPECT_FALSE(WellFormedToken(std::string(64, 'g')));
  EXPECT_EQ(CookieValue("x=1; pgq_csrf=abc; y=2", "pgq_csrf"), "abc");
  EXPECT_EQ(CookieValue("xpgq_csrf=abc", "pgq_csrf"), "");
  EXPECT_THAT(CsrfCookieHeader(a), HasSubstr("HttpOnly; SameSite=Strict"));
}

TEST(WebCsrfTest, OriginOrRefererMustNameTheHost) {
  const std::string t = NewCsrfToken();
  EXPECT_TRUE(CsrfAllowed(Post("http://console.example:8080", "", t, t), t));
  EXPECT_TRUE(CsrfAllowed(Post("https://console.example:8080", "", t, t), t));  // behind TLS
  EXPECT_TRUE(CsrfAllowed(Post("", "http://console.example:8080/jobs/7", t, t), t));
  EXPECT_FALSE(CsrfAllowed(Post("http://evil.example", "", t, t), t));
  EXPECT_FALSE(CsrfAllowed(Post("http://console.example:8080.evil.example", "", t, t), t));
  EXPECT_FALSE(CsrfAllowed(Post("null", "", t, t), t));
  // An Origin wins over a matching Referer.
  EXPECT_FALSE(CsrfAllowed(Post("http://evil.example", "http://console.example:8080/", t, t), t));
  EXPECT_FALSE(CsrfAllowed(Post("", "", t, t), t));  // neither header
  EXPECT_FALSE(CsrfAllowed(Post("", "http://user@console.example:8080/", t, t), t));
}

TEST(WebCsrfTest, FormTokenMustMatchTheCookie) {
  const std::string t = NewCsrfToken();
  const std::string other = NewCsrfToken();
  const std::string origin = "http://console.example:8080";
  EXPECT_FALSE(CsrfAllowed(Post(origin, "", t, other), other));
  EXPECT_FALSE(CsrfAllowed(Post(origin, "", "", t), t));                   // no cookie
  EXPECT_FALSE(CsrfAllowed(Post(origin, "", "short", "short"), "short"));  // not ours
  EXPECT_FALSE(CsrfAllowed(Post(origin, "", t, ""), ""));
}

TEST(WebFormTest, ParsesUrlEncodedPairs) {
  const auto form = ParseForm("status=failed&entrypoint=a+b%2Fc&id=&bad=%zz&status=queued");
  EXPECT_EQ(form.at("status"), "failed");  // the first wins
  EXPECT_EQ(form.at("entrypoint"), "a b/c");
  EXPECT_EQ(form.at("id"), "");
  EXPECT_EQ(form.at("bad"), "%zz");
  EXPECT_TRUE(ParseForm("").empty());
}

// An executor that must not be reached: the console refuses first.
class NoDatabase final : public Executor {
 public:
  Rows Fetch(std::string_view sql, const Params&) override {
    ADD_FAILURE() << "unexpected statement: " << sql;
    throw LogicError("no database in this test");
  }
  std::int64_t Execute(std::string_view sql, const Params&) override {
    ADD_FAILURE() << "unexpected statement: " << sql;
    throw LogicError("no database in this test");
  }
};

HttpRequest Get(const std::string& path, const std::string& authorization = "") {
  HttpRequest r;
  r.method = "GET";
  r.path = path;
  r.remote_address = "127.0.0.1";
  r.headers["host"] = "console.example:8080";
  if (!authorization.empty()) r.headers["authorization"] = authorization;
  return r;
}

std::string HeaderOf(const HttpResponse& response, const std::string& name) {
  for (const auto& [n, v] : response.headers) {
    if (n == name) return v;
  }
  return "";
}

TEST(WebConsoleTest, WrongOrMissingCredentialsGet401) {
  NoDatabase db;
  ConsoleOptions options;
  options.credentials = BasicCredentials{"admin", "s3cret"};
  WebConsole console(options, db, DBSettings::WithPrefix());
  for (const std::string auth : {"", "Basic YWRtaW46d3Jvbmc=", "Basic !!"}) {
    const HttpResponse r = console.Handle(Get("/", auth));
    EXPECT_EQ(r.status, 401) << auth;
    EXPECT_THAT(HeaderOf(r, "WWW-Authenticate"), HasSubstr("Basic realm="));
    EXPECT_THAT(r.body, Not(HasSubstr("s3cret")));
  }
  // The stylesheet needs no database; with the right password it is served.
  const HttpResponse css = console.Handle(Get("/assets/console.css", "Basic YWRtaW46czNjcmV0"));
  EXPECT_EQ(css.status, 200);
  EXPECT_THAT(css.content_type, HasSubstr("text/css"));
  EXPECT_THAT(HeaderOf(css, "Content-Security-Policy"), HasSubstr("default-src 'none'"));
  EXPECT_THAT(HeaderOf(css, "Set-Cookie"), HasSubstr("pgq_csrf="));
}

TEST(WebConsoleTest, ActionsAreRefusedWithoutCsrfProofOrWhenReadOnly) {
  NoDatabase db;
  const std::string t = NewCsrfToken();
  const std::string origin = "http://console.example:8080";
  {
    WebConsole console(ConsoleOptions{}, db, DBSettings::WithPrefix());
    EXPECT_EQ(console.Handle(Post("http://evil.example", "", t, t)).status, 403);
    EXPECT_EQ(console.Handle(Post(origin, "", t, NewCsrfToken())).status, 403);
    EXPECT_EQ(console.Handle(Post("", "", t, t)).status, 403);
    HttpRequest get_action = Post(origin, "", t, t);
    get_action.method = "GET";
    EXPECT_EQ(console.Handle(get_action).status, 405);
    HttpRequest huge = Post(origin, "", t, t);
    huge.body_truncated = true;
    EXPECT_EQ(console.Handle(huge).status, 413);
  }
  ConsoleOptions read_only;
  read_only.read_only = true;
  WebConsole console(read_only, db, DBSettings::WithPrefix());
  const HttpResponse r = console.Handle(Post(origin, "", t, t));  // a valid request
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("read-only"));
}

TEST(WebConsoleTest, UnknownPathsAndBadFiltersAreRefusedWithoutQuerying) {
  NoDatabase db;
  WebConsole console(ConsoleOptions{}, db, DBSettings::WithPrefix());
  EXPECT_EQ(console.Handle(Get("/nope")).status, 404);
  EXPECT_EQ(console.Handle(Get("/jobs/abc")).status, 404);
  EXPECT_EQ(console.Handle(Get("/jobs/-1")).status, 404);
  HttpRequest bad = Get("/jobs");
  bad.query = "status=%3Cscript%3E";
  const HttpResponse r = console.Handle(bad);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("&lt;script&gt;"));
  EXPECT_THAT(r.body, Not(HasSubstr("<script>")));
  bad.query = "before=12x";
  EXPECT_EQ(console.Handle(bad).status, 400);
  HttpRequest post = Get("/");
  post.method = "POST";
  EXPECT_EQ(console.Handle(post).status, 405);
}

}  // namespace
}  // namespace pgq::worker::web

namespace pgq::worker {
namespace {

using ::testing::HasSubstr;

std::string WebConfigError(const std::string& web) {
  const std::string yaml =
      "database: {host: db}\nentrypoints:\n  a:\n    handler: {type: noop}\nweb:\n" + web;
  try {
    ParseConfig(yaml, "console.yaml", [](const char*) { return std::optional<std::string>(); });
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(WebConfigTest, DefaultsAreLoopbackWithoutAuth) {
  const WorkerConfig config =
      ParseConfig("database: {host: db}\nentrypoints:\n  a:\n    handler: {type: noop}\n",
                  "console.yaml", [](const char*) { return std::optional<std::string>(); });
  EXPECT_EQ(config.web.address, "127.0.0.1");
  EXPECT_EQ(config.web.port, 8080);
  EXPECT_FALSE(config.web.read_only);
  EXPECT_EQ(config.web.payload_preview, 4096);
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.2"));
  EXPECT_TRUE(IsLoopbackAddress("::1"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackAddress("10.1.2.3"));
}

TEST(WebConfigTest, ErrorsNameFileLineColumnAndKey) {
  EXPECT_EQ(WebConfigError("  address: 0.0.0.0\n"),
            "console.yaml:6:12: web.address: serving the console on 0.0.0.0 needs HTTP Basic "
            "auth (username_file and password_file); without it, bind a loopback address such "
            "as 127.0.0.1");
  EXPECT_THAT(WebConfigError("  username_file: /nonexistent/user\n"),
              HasSubstr("console.yaml:6:18: web.username_file: cannot read /nonexistent/user"));
  EXPECT_THAT(WebConfigError("  port: 0\n"), HasSubstr("console.yaml:6:9: web.port:"));
  EXPECT_THAT(WebConfigError("  read_only: maybe\n"), HasSubstr("web.read_only:"));
  EXPECT_THAT(WebConfigError("  payload_preview: -1\n"), HasSubstr("web.payload_preview:"));
  EXPECT_THAT(WebConfigError("  adress: 127.0.0.1\n"), HasSubstr("web.adress"));
  const std::string readable = std::string(PGQ_SOURCE_DIR) + "/README.md";
  EXPECT_THAT(WebConfigError("  username_file: " + readable + "\n"),
              HasSubstr("web.password_file: username_file and password_file go together"));
}

}  // namespace
}  // namespace pgq::worker
