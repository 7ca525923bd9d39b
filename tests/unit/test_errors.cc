// The one error channel (authd/errors.h): every Errc has one status and
// one code, store errors map in one place, and a route that throws is
// answered 500 and logged by the exception's type and the request id,
// never by its text. And the route table (authd/routes.cc): the daemon's
// own routes beside the API's.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "authd/errors.h"
#include "authd/oauth.h"
#include "authd/routes.h"
#include "authd/server.h"
#include "authd/service_types.h"
#include "tests/unit/auth_world.h"
#include "tests/unit/helpers.h"

using namespace spa::authd;

namespace {

// The last Errc (authd/errors.h lists the API codes last).
constexpr Errc kLast = Errc::kAccessDenied;

// Everything `fn` writes to stdout (where log_event writes), as text.
template <class F>
std::string stdout_of(F fn) {
  std::fflush(stdout);
  char path[] = "/tmp/spa-stdout-XXXXXX";
  int fd = mkstemp(path);
  int saved = dup(1);
  dup2(fd, 1);
  fn();
  std::fflush(stdout);
  dup2(saved, 1);
  close(saved);
  close(fd);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  unlink(path);
  return text.str();
}

// One request through the server's connection handler; the whole answer.
std::string one_exchange(http::Server& server, const std::string& request) {
  int sv[2];
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ck_assert_int_eq(write(sv[1], request.data(), request.size()), static_cast<ssize_t>(request.size()));
  server.handle_connection(sv[0]);
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = read(sv[1], buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
  close(sv[1]);
  return got;
}

std::string get(http::Server& server, const std::string& path) {
  return one_exchange(server, "GET " + path + " HTTP/1.1\r\nHost: authd\r\nX-Request-Id: req-42\r\n\r\n");
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

struct NoNetwork final : HttpClient {
  HttpResult get(const std::string&, const std::vector<std::string>&) override { return {0, "", "no network"}; }
  HttpResult post_form(const std::string&, const std::string&, const std::vector<std::string>&) override {
    return {0, "", "no network"};
  }
};

}  // namespace

START_TEST(every_errc_has_one_status_and_code) {
  ck_assert_int_eq(http_status(Errc::kOk), 200);
  ck_assert(error_code(Errc::kOk).empty());
  for (int i = 1; i <= static_cast<int>(kLast); ++i) {
    auto e = static_cast<Errc>(i);
    std::string code(error_code(e));
    ck_assert_msg(http_status(e) >= 400 && http_status(e) <= 599, "Errc %d: status %d", i, http_status(e));
    ck_assert_msg(!code.empty() && code.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string::npos,
                  "Errc %d: code '%s'", i, code.c_str());
  }
  // The codes clients and the docs know (DESIGN.md, docs/authd.md).
  const std::pair<Errc, std::pair<int, const char*>> known[] = {
      {Errc::kStoreFull, {503, "store_full"}},
      {Errc::kStoreReplaced, {503, "store_unavailable"}},
      {Errc::kStoreUnwritable, {503, "store_unavailable"}},
      {Errc::kStoreFailed, {500, "internal_error"}},
      {Errc::kInternal, {500, "internal_error"}},
      {Errc::kInvalidRequest, {400, "invalid_request"}},
      {Errc::kValidationFailed, {400, "validation_failed"}},
      {Errc::kDuplicateCookie, {400, "duplicate_cookie"}},
      {Errc::kInvalidToken, {401, "invalid_token"}},
      {Errc::kInvalidCredentials, {401, "invalid_credentials"}},
      {Errc::kInvalidCode, {401, "invalid_code"}},
      {Errc::kReauthenticationRequired, {401, "reauthentication_required"}},
      {Errc::kEmailNotVerified, {403, "email_not_verified"}},
      {Errc::kMfaRequired, {403, "mfa_required"}},
      {Errc::kOriginNotAllowed, {403, "origin_not_allowed"}},
      {Errc::kUsernameTaken, {409, "username_taken"}},
      {Errc::kAccountLocked, {423, "account_locked"}},
      {Errc::kMailRateLimited, {429, "mail_rate_limited"}},
      {Errc::kProviderUnavailable, {502, "provider_unavailable"}},
      {Errc::kProviderBusy, {503, "provider_busy"}},
      {Errc::kServerBusy, {503, "server_busy"}},
      {Errc::kKeysUnavailable, {503, "unavailable"}},
      {Errc::kInvalidState, {400, "invalid_state"}},
      {Errc::kAccessDenied, {403, "access_denied"}},
  };
  for (const auto& [e, wire] : known) {
    std::string code(error_code(e));
    ck_assert_int_eq(http_status(e), wire.first);
    ck_assert_str_eq(code.c_str(), wire.second);
  }
  Outcome o = Outcome::error(Errc::kAccountLocked, "too many failed attempts; try again later", 60);
  ck_assert(!o.ok());
  ck_assert(o.errc == Errc::kAccountLocked);
  ck_assert_int_eq(o.status, 423);
  ck_assert_str_eq(o.code.c_str(), "account_locked");
  ck_assert_int_eq(o.retry_after, 60);
  ck_assert(Outcome().ok());
}
END_TEST

START_TEST(store_errors_map_in_one_place) {
  Outcome full = store_failure({Errc::kStoreFull, "store_full"});
  ck_assert_int_eq(full.status, 503);
  ck_assert_str_eq(full.code.c_str(), "store_full");
  Outcome replaced = store_failure({Errc::kStoreReplaced, "store_replaced"});
  ck_assert_int_eq(replaced.status, 503);
  ck_assert_str_eq(replaced.code.c_str(), "store_unavailable");
  // The file system refused a write (the store logs it, once per episode).
  std::string quiet = stdout_of([&] { replaced = store_failure({Errc::kStoreUnwritable, "LMDB commit: EPERM"}); });
  ck_assert_int_eq(replaced.status, 503);
  ck_assert_str_eq(replaced.code.c_str(), "store_unavailable");
  ck_assert(quiet.empty());
  Outcome other;
  std::string log = stdout_of([&] { other = store_failure({Errc::kStoreFailed, "MDB_PANIC: something broke"}); });
  ck_assert_int_eq(other.status, 500);
  ck_assert_str_eq(other.code.c_str(), "internal_error");
  ck_assert_str_eq(other.message.c_str(), "internal error");  // the reason is the log's, not the client's
  ck_assert(has(log, "\"store_failed\"") && has(log, "MDB_PANIC"));
}
END_TEST

START_TEST(a_route_that_throws_is_logged_by_type_and_answers_500) {
  AuthServer server;
  server.http().Get("/boom", [](const http::Request&, http::Response&) {
    throw std::out_of_range("the secret 4f1c was in the request");
  });
  server.http().Get("/odd", [](const http::Request&, http::Response&) { throw 42; });
  std::string answer, odd;
  std::string log = stdout_of([&] {
    answer = get(server.http(), "/boom");
    odd = get(server.http(), "/odd");
  });
  ck_assert_msg(answer.rfind("HTTP/1.1 500 ", 0) == 0, "%s", answer.c_str());
  ck_assert(has(answer, "\"code\":\"internal_error\"") && has(answer, "\"message\":\"internal error\""));
  ck_assert(has(answer, "Cache-Control: no-store"));
  ck_assert(odd.rfind("HTTP/1.1 500 ", 0) == 0);
  // One line per exception: its type and the request id; never its text.
  ck_assert_msg(has(log, "\"event\":\"route_exception\"") && has(log, "\"type\":\"std::out_of_range\""), "%s",
                log.c_str());
  ck_assert(has(log, "\"type\":\"int\""));
  ck_assert(has(log, "\"request_id\":\"req-42\""));
  ck_assert(!has(log, "4f1c") && !has(answer, "4f1c"));
}
END_TEST

START_TEST(one_table_holds_the_api_and_the_daemon_routes) {
  test::AuthWorld w;
  NoNetwork network;
  OAuthLogin oauth(w.config, *w.service, w.store, network, [&w] { return w.now; });
  AuthServer server;
  register_routes(server, *w.service, oauth, w.config, {[] { return "one 1\n"; }, [] { return "two 2\n"; }});
  http::Server& http = server.http();
  std::string health = get(http, "/health");
  ck_assert(health.rfind("HTTP/1.1 200 ", 0) == 0 && has(health, "\"status\":\"ok\"") && has(health, "req-42"));
  std::string metrics = get(http, "/metrics");
  ck_assert(metrics.rfind("HTTP/1.1 200 ", 0) == 0 && has(metrics, "\none 1\ntwo 2\n"));
  // The registry's families come first; every route of the table has its histogram.
  ck_assert(has(metrics, "\r\n\r\n# HELP spa_authd_logins_total "));
  ck_assert(has(metrics, "spa_authd_request_duration_seconds_count{method=\"PATCH\",route=\"/api/v1/admin/users/{id}\"} "));
  ck_assert(has(metrics, "spa_authd_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/oauth/{provider}/callback\"} "));
  ck_assert(has(metrics, "Content-Type: text/plain; version=0.0.4"));
  std::string jwks = get(http, "/api/v1/auth/jwks.json");
  ck_assert(jwks.rfind("HTTP/1.1 200 ", 0) == 0 && has(jwks, "Cache-Control: public, max-age=60"));
  ck_assert(has(jwks, "application/jwk-set+json") && has(jwks, "\"keys\""));
  ck_assert_int_eq(unlink(w.config.jwks_file.c_str()), 0);
  std::string gone = get(http, "/api/v1/auth/jwks.json");
  ck_assert(gone.rfind("HTTP/1.1 503 ", 0) == 0 && has(gone, "\"code\":\"unavailable\""));
  ck_assert(has(gone, "\"message\":\"keys not published\"") && has(gone, "Cache-Control: no-store"));
  // The API's routes answer from the same table.
  std::string me = get(http, "/api/v1/auth/me");
  ck_assert(me.rfind("HTTP/1.1 401 ", 0) == 0 && has(me, "WWW-Authenticate: Bearer realm=\"spa\""));
  ck_assert(has(me, "\"code\":\"invalid_token\"") && has(me, "\"message\":\"no access token\""));
  std::string unknown = get(http, "/api/v1/oauth/nobody/start");
  ck_assert(unknown.rfind("HTTP/1.1 404 ", 0) == 0 && has(unknown, "\"code\":\"unknown_provider\""));
}
END_TEST

Suite* errors_suite() {
  Suite* s = suite_create("errors");
  TCase* tc = tcase_create("authd");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, every_errc_has_one_status_and_code);
  tcase_add_test(tc, store_errors_map_in_one_place);
  tcase_add_test(tc, a_route_that_throws_is_logged_by_type_and_answers_500);
  tcase_add_test(tc, one_table_holds_the_api_and_the_daemon_routes);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(errors_suite);
