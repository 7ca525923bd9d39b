// spa-authd's HTTP edge (authd/http_edge.h): what a request head may say,
// decided before a byte of the body is read. One row per spelling a client
// (or a confused proxy) can choose.
#include <string>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "authd/http_edge.h"
#include "authd/http_server.h"
#include "tests/unit/helpers.h"

using namespace spa::authd::http;

namespace {

struct HeadCase {
  const char* method;
  const char* target;
  std::vector<std::pair<const char*, const char*>> fields;
  int status;  // 0: accepted
  const char* version = "HTTP/1.1";
};

Request head(const HeadCase& c) {
  Request r;
  r.method = c.method;
  r.target = c.target;
  r.version = c.version;
  for (const auto& [k, v] : c.fields) r.headers.emplace(k, v);
  return r;
}

const std::pair<const char*, const char*> kHost{"Host", "localhost"};
const std::pair<const char*, const char*> kJson{"Content-Type", "application/json"};

}  // namespace

START_TEST(heads) {
  const HeadCase cases[] = {
      {"GET", "/health", {kHost}, 0},
      {"HEAD", "/health", {kHost}, 0},
      {"GET", "/health", {}, 0, "HTTP/1.0"},
      {"GET", "/health", {}, 400},                                  // HTTP/1.1 without Host
      {"GET", "/health", {kHost, {"host", "other"}}, 400},          // two Hosts
      {"GET", "/health", {kHost}, 505, "HTTP/2.0"},
      // Methods: the five routes use; the rest known (405) or not (501).
      {"PUT", "/health", {kHost}, 405},
      {"OPTIONS", "/health", {kHost}, 405},
      {"TRACE", "/health", {kHost}, 405},
      {"CONNECT", "/health", {kHost}, 405},
      {"PRI", "/health", {kHost}, 501},
      {"get", "/health", {kHost}, 501},
      // Framing: Content-Length only, one line, digits, at most 64 KiB.
      {"POST", "/x", {kHost, kJson, {"Content-Length", "2"}}, 0},
      {"POST", "/x", {kHost, {"Content-Length", "0"}}, 0},
      {"POST", "/x", {kHost, kJson, {"Content-Length", "65536"}}, 0},
      {"POST", "/x", {kHost, kJson, {"Content-Length", "65537"}}, 413},
      {"POST", "/x", {kHost, kJson, {"Content-Length", "99999999999999999999"}}, 400},
      {"POST", "/x", {kHost, kJson, {"Content-Length", "2"}, {"Content-Length", "2"}}, 400},
      {"POST", "/x", {kHost, kJson, {"Content-Length", "2, 2"}}, 400},
      {"POST", "/x", {kHost, kJson, {"Content-Length", "+2"}}, 400},
      {"POST", "/x", {kHost, kJson, {"Transfer-Encoding", "chunked"}}, 411},
      {"POST", "/x", {kHost, kJson, {"Transfer-Encoding", "gzip, chunked"}}, 411},
      {"POST", "/x", {kHost, kJson, {"Transfer-Encoding", "chunked"}, {"Content-Length", "2"}}, 400},
      {"GET", "/x", {kHost, {"Content-Length", "1"}}, 400},         // GET takes no body
      {"GET", "/x", {kHost, {"Content-Length", "0"}}, 0},           // what nginx sends
      {"DELETE", "/x", {kHost, kJson, {"Content-Length", "2"}}, 0},
      // Content codings: none, not even identity, whatever the length.
      {"POST", "/x", {kHost, kJson, {"Content-Length", "2"}, {"Content-Encoding", "br"}}, 415},
      {"POST", "/x", {kHost, kJson, {"Content-Length", "2"}, {"Content-Encoding", "gzip"}}, 415},
      {"POST", "/x", {kHost, kJson, {"Content-Length", "2"}, {"Content-Encoding", "identity"}}, 415},
      {"POST", "/x", {kHost, kJson, {"Content-Length", "2"}, {"Content-Encoding", ""}}, 415},
      {"POST", "/x", {kHost, {"Content-Length", "0"}, {"content-encoding", "x-unknown"}}, 415},
      // Bodies are JSON.
      {"POST", "/x", {kHost, {"Content-Type", "Application/JSON; charset=utf-8"}, {"Content-Length", "2"}}, 0},
      {"POST", "/x", {kHost, {"Content-Type", "multipart/form-data; boundary=x"}, {"Content-Length", "2"}}, 415},
      {"POST", "/x", {kHost, {"Content-Type", "application/x-www-form-urlencoded"}, {"Content-Length", "2"}}, 415},
      {"POST", "/x", {kHost, {"Content-Type", "text/plain"}, {"Content-Length", "2"}}, 415},
      {"POST", "/x", {kHost, {"Content-Length", "2"}}, 415},
      {"POST", "/x", {kHost, kJson, kJson, {"Content-Length", "2"}}, 400},
      // Expect: only 100-continue.
      {"POST", "/x", {kHost, kJson, {"Content-Length", "2"}, {"Expect", "100-continue"}}, 0},
      {"POST", "/x", {kHost, kJson, {"Content-Length", "2"}, {"Expect", "100-Continue"}}, 0},
      {"POST", "/x", {kHost, kJson, {"Content-Length", "2"}, {"Expect", "200-ok"}}, 417},
      // Range and If-Range are not read at all.
      {"GET", "/x", {kHost, {"Range", "bytes=0-0,0-0,0-0"}, {"If-Range", "x"}}, 0},
      {"GET", "/x", {kHost, {"Range", "garbage"}}, 0},
      // Singletons authd reads.
      {"GET", "/x", {kHost, {"Authorization", "Bearer a"}, {"Authorization", "Bearer b"}}, 400},
      {"GET", "/x", {kHost, {"Origin", "https://a"}, {"Origin", "https://b"}}, 400},
      {"GET", "/x", {kHost, {"Cookie", "a=1"}, {"Cookie", "b=2"}}, 0},  // HTTP/2 sends cookies apart
  };
  for (const auto& c : cases) {
    Request req = head(c);
    size_t length = 0;
    bool expect = false;
    auto r = check_request_head(req, length, expect);
    int got = r ? r->status : 0;
    ck_assert_msg(got == c.status, "%s %s: got %d, want %d", c.method, c.target, got, c.status);
  }
  HeadCase many{"GET", "/x", {kHost}, 0};
  Request req = head(many);
  for (size_t i = 1; i < kMaxFieldLines; ++i) req.headers.emplace("X-" + std::to_string(i), "v");
  size_t length = 0;
  bool expect = false;
  ck_assert(!check_request_head(req, length, expect));  // 100 field lines
  req.headers.emplace("X-last", "v");
  auto r = check_request_head(req, length, expect);
  ck_assert(r && r->status == 431);  // 101
}
END_TEST

START_TEST(content_length_and_expect_reported) {
  Request req = head({"POST", "/x", {kHost, kJson, {"Content-Length", "17"}, {"Expect", " 100-continue "}}, 0});
  size_t length = 0;
  bool expect = false;
  ck_assert(!check_request_head(req, length, expect));
  ck_assert_uint_eq(length, 17);
  ck_assert(expect);
  req = head({"POST", "/x", {kHost, {"Content-Length", "0"}, {"Expect", "100-continue"}}, 0});
  ck_assert(!check_request_head(req, length, expect));
  ck_assert(!expect);  // nothing to wait for
}
END_TEST

START_TEST(targets) {
  struct Case {
    const char* target;
    int status;
    const char* path;
  };
  const Case cases[] = {
      {"/", 0, "/"},
      {"/api/v1/auth/jwks.json", 0, "/api/v1/auth/jwks.json"},
      {"/api/v1/oauth/my-idp_2/callback?code=a", 0, "/api/v1/oauth/my-idp_2/callback"},
      {"/api/v1/auth/../admin/users", 400, ""},
      {"/api/v1/auth/./me", 400, ""},
      {"/api/v1/auth/..", 400, ""},
      {"//api/v1/auth/me", 400, ""},
      {"/api/v1//auth/me", 400, ""},
      {"/api/v1/auth/me/", 400, ""},
      {"/api/v1/admin%2Fusers", 400, ""},
      {"/api/v1/auth/%2e%2e/admin/users", 400, ""},
      {"/api/v1/auth/m%65", 400, ""},
      {"/api/v1/auth/me;x=1", 400, ""},
      {"/api/v1/auth/me\\x", 400, ""},
      {"/api/v1/auth/me#frag", 400, ""},
      {"/api/v1/auth/me?a=1#frag", 400, ""},
      {"*", 400, ""},
      {"http://evil/api/v1/auth/me", 400, ""},
      {"api/v1/auth/me", 400, ""},
  };
  for (const auto& c : cases) {
    std::string path;
    Params params;
    auto r = parse_target(c.target, path, params);
    ck_assert_msg((r ? r->status : 0) == c.status, "%s: got %d", c.target, r ? r->status : 0);
    if (!r) ck_assert_str_eq(path.c_str(), c.path);
  }
  std::string path;
  Params params;
  ck_assert(!parse_target(std::string(kMaxTargetBytes, 'a').replace(0, 1, "/"), path, params));
  auto r = parse_target(std::string(kMaxTargetBytes + 1, 'a').replace(0, 1, "/"), path, params);
  ck_assert(r && r->status == 414);
}
END_TEST

START_TEST(queries) {
  std::string path;
  Params params;
  ck_assert(!parse_target("/p?redirect_to=%2Fapp%3Fx%3D1&limit=5&flag&&iss=https%3A%2F%2Fidp&n=a+b", path, params));
  ck_assert_str_eq(params.find("redirect_to")->second.c_str(), "/app?x=1");
  ck_assert_str_eq(params.find("limit")->second.c_str(), "5");
  ck_assert(params.count("flag") && params.find("flag")->second.empty());
  ck_assert_str_eq(params.find("iss")->second.c_str(), "https://idp");
  ck_assert_str_eq(params.find("n")->second.c_str(), "a b");
  // Each name once, after decoding: no "first one wins" for anyone to guess.
  ck_assert(parse_target("/p?code=a&code=b", path, params)->status == 400);
  ck_assert(parse_target("/p?code=a&%63ode=b", path, params)->status == 400);
  // Malformed escapes, control characters, ';' (a separator to the module).
  ck_assert(parse_target("/p?a=%zz", path, params)->status == 400);
  ck_assert(parse_target("/p?a=%4", path, params)->status == 400);
  ck_assert(parse_target("/p?a=%0a", path, params)->status == 400);
  ck_assert(parse_target("/p?a=%00", path, params)->status == 400);
  ck_assert(parse_target("/p?a=1;code=x", path, params)->status == 400);
  ck_assert(parse_target("/p?=x", path, params)->status == 400);
  ck_assert(parse_target("/p?a=\"x\"", path, params)->status == 400);
}
END_TEST

// A connection's time runs from accept, not from when a worker takes it:
// one that waited in the queue past request_timeout_ms is answered only
// if its whole request is already there, and otherwise closed at once
// (idle connections cannot hold the queue behind them for a timeout each).
START_TEST(the_request_deadline_runs_from_accept) {
  Server server(ServerOptions{1, 4, 3000, 1000});
  std::vector<int> statuses;
  server.Get("/health", [](const Request&, Response& res) { res.set_content("ok", "text/plain"); });
  server.set_logger([&](const Request&, const Response& res) { statuses.push_back(res.status); });
  auto long_ago = std::chrono::steady_clock::now() - std::chrono::seconds(60);
  auto answer_of = [](int fd) {
    std::string got;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
    return got;
  };
  // Its request arrived while it waited: served.
  int sv[2];
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  std::string request = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  ck_assert_int_eq(::write(sv[1], request.data(), request.size()), static_cast<ssize_t>(request.size()));
  server.handle_connection(sv[0], long_ago);
  ck_assert(answer_of(sv[1]).rfind("HTTP/1.1 200 ", 0) == 0);
  ::close(sv[1]);
  // Nothing sent in all that time: closed unanswered, without waiting
  // for a timeout of its own (the call returns; a 408 would be logged).
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  server.handle_connection(sv[0], long_ago);
  ck_assert(answer_of(sv[1]).empty());  // not .c_str() of a temporary: ck_assert_str_eq keeps the pointer
  ::close(sv[1]);
  // Half a head: 408, at once.
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ck_assert_int_eq(::write(sv[1], "GET /health HTTP/1.1\r\n", 22), 22);
  server.handle_connection(sv[0], long_ago);
  ck_assert(answer_of(sv[1]).rfind("HTTP/1.1 408 ", 0) == 0);
  ::close(sv[1]);
  ck_assert_uint_eq(statuses.size(), 2);
  ck_assert_int_eq(statuses[0], 200);
  ck_assert_int_eq(statuses[1], 408);
}
END_TEST

Suite* http_edge_suite() {
  Suite* s = suite_create("http_edge");
  TCase* tc = tcase_create("authd");
  tcase_add_test(tc, heads);
  tcase_add_test(tc, content_length_and_expect_reported);
  tcase_add_test(tc, targets);
  tcase_add_test(tc, queries);
  tcase_add_test(tc, the_request_deadline_runs_from_accept);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(http_edge_suite);
