// Request parsing the module and spa-authd share (core/http_fields.h,
// core/cookies.h, core/origin.h, core/query.h): table tests of the
// spellings a client can choose, so that nginx, the module and an upstream
// cannot read one request three ways.
#include <string>
#include <vector>

#include "core/cookies.h"
#include "core/http_fields.h"
#include "core/origin.h"
#include "core/query.h"
#include "tests/unit/helpers.h"

using namespace spa::core;

namespace {

using Lines = std::vector<std::string_view>;

struct UpgradeCase {
  Lines lines;
  bool websocket;
};

}  // namespace

START_TEST(upgrade_spellings) {
  const UpgradeCase cases[] = {
      {{"websocket"}, true},
      {{"WebSocket"}, true},
      {{"WEBSOCKET"}, true},
      {{"websocket\t"}, true},
      {{"\twebsocket"}, true},
      {{" websocket "}, true},
      {{"websocket/13"}, true},
      {{"h2c, websocket"}, true},
      {{"websocket, h2c"}, true},
      {{",,websocket,,"}, true},
      {{", , websocket"}, true},
      {{"\"websocket\""}, true},
      {{"h2c", "websocket"}, true},   // two header lines are one list
      {{"", "websocket"}, true},
      {{"h2c"}, false},
      {{""}, false},
      {{",,,"}, false},
      {{}, false},
      {{"websockets"}, false},
      {{"web socket"}, false},
      {{"xwebsocket"}, false},
      {{"\"h2c, websocket\""}, false},  // one quoted element, not two
  };
  for (const auto& c : cases) {
    bool got = upgrade_offers(c.lines, "websocket");
    ck_assert_msg(got == c.websocket, "Upgrade \"%s\"...: got %d", c.lines.empty() ? "" : std::string(c.lines[0]).c_str(),
                  got);
  }
}
END_TEST

START_TEST(connection_spellings) {
  ck_assert(list_contains(Lines{"Upgrade"}, "upgrade"));
  ck_assert(list_contains(Lines{"keep-alive, Upgrade"}, "upgrade"));
  ck_assert(list_contains(Lines{"keep-alive,\tUPGRADE\t"}, "upgrade"));
  ck_assert(list_contains(Lines{"close", "upgrade"}, "upgrade"));
  ck_assert(!list_contains(Lines{"upgraded"}, "upgrade"));
  ck_assert(!list_contains(Lines{"keep-alive"}, "upgrade"));
  ck_assert(!list_contains(Lines{}, "upgrade"));
  auto e = list_elements(std::string_view("a, \"b,c\" ,,\td\t, "));
  ck_assert_uint_eq(e.size(), 3);
  ck_assert(e[0] == "a" && e[1] == "\"b,c\"" && e[2] == "d");
  ck_assert(trim_ows(" \t x \t") == "x");
  ck_assert(iequals("WebSocket", "websocket") && !iequals("websocket", "websocke"));
}
END_TEST

START_TEST(field_names_fold_as_lenient_upstreams_read_them) {
  ck_assert(fold_field_name("X-User-Id") == "x-user-id");
  ck_assert(fold_field_name("X_User_Id") == "x-user-id");
  ck_assert(fold_field_name("x_USER-iD") == "x-user-id");
  ck_assert(fold_field_name("X.User.Id") == "x-user-id");
  ck_assert(fold_field_name("X-User-Id2") == "x-user-id2");
  ck_assert(fold_field_name("") == "");
  ck_assert(may_mention("a=1; __HOST-SPA_AT=x", {"__Host-spa_at"}) && may_mention("%5F_x", {"y"}));
  ck_assert(!may_mention("theme=dark; lang=en", {"__Host-spa_at", "__Secure-spa_rt"}) && !may_mention("", {"a"}));
  ck_assert(folded_equals("X_User_Id", "x-user-id") && !folded_equals("X_User_Ids", "x-user-id"));
  ck_assert(folded_starts_with("X.USER.role", "x-user-") && !folded_starts_with("X-Use", "x-user-"));
}
END_TEST

START_TEST(subprotocol_pairs) {
  std::string_view token;
  std::string rest;
  ck_assert(subprotocol_bearer(Lines{"bearer, a.b.c"}, token, rest));
  ck_assert(token == "a.b.c" && rest == "bearer");
  ck_assert(subprotocol_bearer(Lines{"bearer,\ta.b.c\t, chat"}, token, rest));
  ck_assert(token == "a.b.c" && rest == "bearer, chat");
  ck_assert(subprotocol_bearer(Lines{"chat, bearer", "a.b.c"}, token, rest));  // the pair across two lines
  ck_assert(token == "a.b.c" && rest == "chat, bearer");
  ck_assert(!subprotocol_bearer(Lines{"bearer"}, token, rest));
  ck_assert(!subprotocol_bearer(Lines{"chat, a.b.c"}, token, rest));
  ck_assert(!subprotocol_bearer(Lines{"Bearer, a.b.c"}, token, rest));  // subprotocols are case-sensitive
  ck_assert(!subprotocol_bearer(Lines{}, token, rest));
}
END_TEST

START_TEST(cookie_names_are_exact) {
  struct Case {
    const char* header;
    const char* want;  // nullptr: not found
  };
  const Case cases[] = {
      {"__Host-spa_at=T", "T"},
      {"a=1; __Host-spa_at=T; b=2", "T"},
      {"a=1;__Host-spa_at=T", "T"},
      {"a=1;\t__Host-spa_at = T ", "T"},
      {"__HOST-spa_at=T", nullptr},
      {"__host-spa_at=T", nullptr},
      {"__Host-SPA_AT=T", nullptr},
      {"x__Host-spa_at=T", nullptr},
      {"__Host-spa_at_x=T", nullptr},
      {"__Host-spa_at", nullptr},           // no '=': a nameless value
      {"a=__Host-spa_at=T", nullptr},       // inside another value
      {"__HOST-spa_at=X; __Host-spa_at=T", "T"},
      {"__Host-spa_at=T1; __Host-spa_at=T2", "T1"},  // the first wins
      {"__Host-spa_at=", ""},
      {";;; __Host-spa_at=T ;;", "T"},
      {"", nullptr},
  };
  for (const auto& c : cases) {
    auto v = find_cookie(std::string_view(c.header), "__Host-spa_at");
    if (c.want == nullptr) {
      ck_assert_msg(!v, "\"%s\": found a cookie", c.header);
    } else {
      ck_assert_msg(v && *v == c.want, "\"%s\": wanted \"%s\"", c.header, c.want);
    }
  }
  ck_assert(find_cookie(Lines{"a=1", "__Host-spa_at=T"}, "__Host-spa_at") == std::string_view("T"));
  ck_assert(!find_cookie(Lines{"a=1", "__HOST-spa_at=T"}, "__Host-spa_at"));
  ck_assert(!find_cookie(std::string_view("=T"), ""));
}
END_TEST

START_TEST(cookie_removal) {
  bool removed;
  std::vector<std::string> names = {"__Host-spa_at"};
  ck_assert(remove_cookies("a=1; __Host-spa_at=T; b=2", names, removed) == "a=1; b=2" && removed);
  ck_assert(remove_cookies("__Host-spa_at=T", names, removed).empty() && removed);
  ck_assert(remove_cookies("a=1;__HOST-spa_at=T;b=2", names, removed) == "a=1; b=2" && removed);
  ck_assert(remove_cookies("a=1; b=__Host-spa_at=T", names, removed) == "a=1; b=__Host-spa_at=T" && !removed);
  ck_assert(remove_cookies("a=1", names, removed) == "a=1" && !removed);
}
END_TEST

// A reader of a token cookie refuses a name carried twice: a sibling host
// can plant `__Secure-spa_rt` with Domain= beside ours, and a spelling some
// other reader takes for the name counts as a carrier too.
START_TEST(cookie_carried_twice_is_a_duplicate) {
  struct Case {
    Lines lines;
    const char* value;  // nullptr: no exact pair
    size_t carriers;
  };
  const Case cases[] = {
      {{"__Secure-spa_rt=R"}, "R", 1},
      {{"a=1; __Secure-spa_rt=R; b=2"}, "R", 1},
      {{"__Secure-spa_rt="}, "", 1},
      {{""}, nullptr, 0},
      {{}, nullptr, 0},
      {{"a=1"}, nullptr, 0},
      {{"__Secure-spa_rt=A; __Secure-spa_rt=B"}, "A", 2},            // the planting case
      {{"__Secure-spa_rt=A", "__Secure-spa_rt=B"}, "A", 2},          // one line each (HTTP/2)
      {{"a=1", "__Secure-spa_rt=R"}, "R", 1},
      {{"%5F_Secure-spa_rt=X; __Secure-spa_rt=R"}, "R", 2},          // percent-encoded name
      {{"__Secure-spa_rt=R; %5f_secure%2Dspa_rt=X"}, "R", 2},
      {{"__secure-spa_rt=X; __Secure-spa_rt=R"}, "R", 2},            // another case
      {{"__SECURE-SPA_RT=X"}, nullptr, 1},
      {{"\v__Secure-spa_rt=X; __Secure-spa_rt=R"}, "R", 2},          // whitespace trim() reads
      {{"\f__Secure-spa_rt\f=X; __Secure-spa_rt=R"}, "R", 2},
      {{"\xA0__Secure-spa_rt=X; __Secure-spa_rt=R"}, "R", 2},        // NBSP as Latin-1
      {{"\xC2\xA0__Secure-spa_rt\xC2\xA0=X; __Secure-spa_rt=R"}, "R", 2},  // and as UTF-8
      {{"%20__Secure-spa_rt=X; __Secure-spa_rt=R"}, "R", 2},
      {{"a=1,__Secure-spa_rt=X; __Secure-spa_rt=R"}, "R", 2},        // ','-split readers
      {{"a=1, __Secure-spa_rt=X", "__Secure-spa_rt=R"}, "R", 2},
      {{"__Secure-spa_rt=R,__Secure-spa_rt=X"}, "R,__Secure-spa_rt=X", 2},
      {{"list=a,b,c; __Secure-spa_rt=R"}, "R", 1},
      {{"a=__Secure-spa_rt=X; __Secure-spa_rt=R"}, "R", 1},          // inside a value: nobody reads that
      {{"__Secure-spa_rt; __Secure-spa_rt=R"}, "R", 1},              // no '=': a nameless value
      {{"__Secure-spa_rtx=X; x__Secure-spa_rt=Y; __Secure-spa_rt=R"}, "R", 1},
      {{"__Secure-spa_r%74=X"}, nullptr, 1},
      {{"__Secure-spa_rt%=X; __Secure-spa_rt=R"}, "R", 1},           // a '%' that decodes to nothing else
  };
  for (const auto& c : cases) {
    auto got = lookup_cookie(c.lines, "__Secure-spa_rt");
    std::string shown = c.lines.empty() ? "" : std::string(c.lines[0]);
    ck_assert_msg(got.carriers == c.carriers, "\"%s\": %zu carriers, wanted %zu", shown.c_str(), got.carriers,
                  c.carriers);
    ck_assert_msg(got.duplicate() == (c.carriers > 1), "\"%s\": duplicate()", shown.c_str());
    if (c.value == nullptr) ck_assert_msg(!got.value, "\"%s\": found a value", shown.c_str());
    else ck_assert_msg(got.value && *got.value == c.value, "\"%s\": wanted \"%s\"", shown.c_str(), c.value);
  }
  // Every carrier the lookup counts is one removal takes away.
  for (const auto& c : cases) {
    for (auto line : c.lines) {
      bool removed;
      std::string rest = remove_cookies(line, {"__Secure-spa_rt"}, removed);
      ck_assert_msg(lookup_cookie(Lines{rest}, "__Secure-spa_rt").carriers == 0, "\"%s\" left \"%s\"",
                    std::string(line).c_str(), rest.c_str());
    }
  }
  ck_assert(lookup_cookie(Lines{"=T"}, "").carriers == 0);
}
END_TEST

START_TEST(origins_compare_scheme_host_and_port) {
  struct Case {
    const char* origin;
    const char* scheme;
    const char* host;
    bool same;
  };
  const Case cases[] = {
      {"https://app.example.com", "https", "app.example.com", true},
      {"https://app.example.com", "https", "app.example.com:443", true},
      {"https://app.example.com:443", "https", "app.example.com", true},
      {"https://APP.example.com", "https", "app.EXAMPLE.com", true},
      {"https://localhost:8443", "https", "localhost:8443", true},
      {"http://localhost:8080", "http", "localhost:8080", true},
      {"http://[::1]:8080", "http", "[::1]:8080", true},
      {"http://app.example.com", "https", "app.example.com", false},   // scheme
      {"https://app.example.com", "http", "app.example.com", false},
      {"https://app.example.com:8443", "https", "app.example.com", false},  // port
      {"https://app.example.com", "https", "app.example.com:8443", false},
      {"http://app.example.com:443", "https", "app.example.com", false},
      {"https://evil.example", "https", "app.example.com", false},
      {"https://app.example.com.evil.example", "https", "app.example.com", false},
      {"null", "https", "app.example.com", false},
      {"", "https", "app.example.com", false},
      {"https://app.example.com/", "https", "app.example.com", false},
      {"https://user@app.example.com", "https", "app.example.com", false},
      {"https://app.example.com:", "https", "app.example.com", false},
      {"https://app.example.com:99999", "https", "app.example.com", false},
      {"ftp://app.example.com", "ftp", "app.example.com", false},
      {"https://app.example.com", "https", "", false},
  };
  for (const auto& c : cases)
    ck_assert_msg(same_origin(c.origin, c.scheme, c.host) == c.same, "%s vs %s://%s", c.origin, c.scheme, c.host);
  std::vector<std::string> allowed = {"https://app.example.com", "http://localhost:5173"};
  ck_assert(origin_listed("https://app.example.com", allowed));
  ck_assert(origin_listed("https://app.example.com:443", allowed));
  ck_assert(origin_listed("http://LOCALHOST:5173", allowed));
  ck_assert(!origin_listed("http://app.example.com", allowed));
  ck_assert(!origin_listed("https://app.example.com:444", allowed));
  ck_assert(!origin_listed("null", allowed));
  ck_assert(!origin_listed("", allowed));
}
END_TEST

START_TEST(query_tokens_removed_and_secrets_redacted) {
  bool removed;
  std::vector<std::string> names = {"access_token"};
  ck_assert(remove_query_params("access_token=T", names, removed).empty() && removed);
  ck_assert(remove_query_params("a=1&access_token=T&b=2", names, removed) == "a=1&b=2" && removed);
  ck_assert(remove_query_params("a=1&ACCESS_TOKEN=T", names, removed) == "a=1" && removed);
  ck_assert(remove_query_params("a=1&access%5Ftoken=T", names, removed) == "a=1" && removed);
  ck_assert(remove_query_params("access_token=T1&access_token=T2&x", names, removed) == "x" && removed);
  ck_assert(remove_query_params("a=access_token", names, removed) == "a=access_token" && !removed);
  ck_assert(remove_query_params("", names, removed).empty() && !removed);

  ck_assert(redact_query("code=abc&state=xyz&x=1", {}) == "code=[redacted]&state=[redacted]&x=1");
  ck_assert(redact_query("at=T&x=1", {"at"}) == "at=[redacted]&x=1");
  ck_assert(redact_query("%63ode=abc", {}) == "%63ode=[redacted]");
  ck_assert(redact_query("Access_Token=T&&id_token=I&token=t", {}) ==
            "Access_Token=[redacted]&&id_token=[redacted]&token=[redacted]");
  ck_assert(redact_query("codex=1&xcode=2", {}) == "codex=1&xcode=2");
  // The spellings other parsers read as "code": ';' separators, PHP's
  // code[], leading '+' or spaces, encoded spaces and NULs, double encoding.
  ck_assert(redact_query("x=1;code=S", {}) == "x=1;code=[redacted]");
  ck_assert(redact_query("code[]=S&state[a]=T", {}) == "code[]=[redacted]&state[a]=[redacted]");
  ck_assert(redact_query("+code=S&%20state=T", {}) == "+code=[redacted]&%20state=[redacted]");
  ck_assert(redact_query("code%20=S&code%00=T", {}) == "code%20=[redacted]&code%00=[redacted]");
  ck_assert(redact_query("%2563ode=S&%25252563ode=T", {}) == "%2563ode=[redacted]&%25252563ode=[redacted]");
  ck_assert(redact_query("c%6fde=S;x=2", {}) == "c%6fde=[redacted];x=2");
  ck_assert(redact_query("decode=1;encode=2", {}) == "decode=1;encode=2");
  ck_assert(redact_request_line("GET /cb?code=abc&state=s HTTP/1.1", {}) ==
            "GET /cb?code=[redacted]&state=[redacted] HTTP/1.1");
  ck_assert(redact_request_line("GET /ws?at=T", {"at"}) == "GET /ws?at=[redacted]");
  ck_assert(redact_request_line("GET /plain HTTP/1.1", {}) == "GET /plain HTTP/1.1");
}
END_TEST

START_TEST(bearer_subprotocols_removed_in_any_case) {
  std::string rest;
  ck_assert(remove_bearer_subprotocols({"bearer, T1"}, rest) && rest == "bearer");
  ck_assert(remove_bearer_subprotocols({"chat, Bearer, T2"}, rest) && rest == "chat, Bearer");
  ck_assert(remove_bearer_subprotocols({"BEARER, T3", "bearer, T4, chat"}, rest) && rest == "BEARER, bearer, chat");
  ck_assert(!remove_bearer_subprotocols({"chat, v2"}, rest));
  ck_assert(!remove_bearer_subprotocols({"chat, bearer"}, rest));  // nothing after it
  // Found by fuzz_fields: a marker is never taken for a token, so the one
  // the reader takes always goes, however the names are stacked.
  ck_assert(remove_bearer_subprotocols({"Bearer, bearer, T5"}, rest) && rest == "Bearer, bearer");
  ck_assert(remove_bearer_subprotocols({"Bearer", "bearer,,T6, chat"}, rest) && rest == "Bearer, bearer, chat");
  ck_assert(remove_bearer_subprotocols({"bearer, Bearer, chat"}, rest) && rest == "bearer");  // the reader takes "Bearer"
  std::string_view taken;
  std::string unused;
  ck_assert(subprotocol_bearer({"BEARER, bearer, T7"}, taken, unused) && taken == "T7");
  ck_assert(remove_bearer_subprotocols({"BEARER, bearer, T7"}, rest) && rest.find("T7") == std::string::npos);
  // Reading stays exact: "Bearer" is not our subprotocol.
  std::string_view token;
  ck_assert(!subprotocol_bearer({"Bearer, T5"}, token, rest));
}
END_TEST

// What leaves for the upstream is cut as generously as the logs are
// redacted: every spelling some framework reads as the token's name.
START_TEST(token_carriers_removed_generously) {
  bool removed;
  for (const char* q : {"access_token[]=T&x=1", "x=1;access_token=T", "+access_token=T&x=1", "%2561ccess_token=T&x=1",
                        "access_token%00=T&x=1", "access_token%20=T&x=1", "access_token%5B0%5D=T&x=1", "ACCESS_TOKEN=T&x=1"}) {
    std::string rest = remove_query_params(q, {"access_token"}, removed);
    ck_assert_msg(removed && rest == "x=1", "%s -> %s", q, rest.c_str());
  }
  ck_assert(remove_query_params("a=1;b=2&c=3", {"access_token"}, removed) == "a=1;b=2&c=3" && !removed);
  ck_assert(remove_query_params("a=1;at=T&c=3", {"at"}, removed) == "a=1&c=3" && removed);
  // Cookies split at ',' by some servers, and percent-encoded names.
  ck_assert(remove_cookies("a=1,__Host-spa_at=T; b=2", {"__Host-spa_at"}, removed) == "a=1; b=2" && removed);
  ck_assert(remove_cookies("a=1, __Secure-spa_rt=R", {"__Secure-spa_rt"}, removed) == "a=1" && removed);
  ck_assert(remove_cookies("%5F_Host-spa_at=T; b=2", {"__Host-spa_at"}, removed) == "b=2" && removed);
  ck_assert(remove_cookies("list=a,b,c; d=4", {"__Host-spa_at"}, removed) == "list=a,b,c; d=4" && !removed);
  // Whitespace a lenient reader trims around a name.
  ck_assert(remove_cookies("\v__Host-spa_at=T; b=2", {"__Host-spa_at"}, removed) == "b=2" && removed);
  ck_assert(remove_cookies("%20__Host-spa_at=T; b=2", {"__Host-spa_at"}, removed) == "b=2" && removed);
  ck_assert(remove_cookies("a=1, \xC2\xA0__Host-spa_at=T", {"__Host-spa_at"}, removed) == "a=1" && removed);
  ck_assert(remove_cookies("\xC3\xA0__Host-spa_at=T", {"__Host-spa_at"}, removed) == "\xC3\xA0__Host-spa_at=T" &&
            !removed);
  // Log buffers: masked in place, same length.
  std::string line = "code=SECRET&x=1;state=S2&c%6fde[]=S3";
  mask_query_secrets(line.data(), line.size(), {});
  ck_assert_str_eq(line.c_str(), "code=******&x=1;state=**&c%6fde[]=**");
}
END_TEST

Suite* http_fields_suite() {
  Suite* s = suite_create("http_fields");
  TCase* tc = tcase_create("core");
  tcase_add_test(tc, upgrade_spellings);
  tcase_add_test(tc, connection_spellings);
  tcase_add_test(tc, field_names_fold_as_lenient_upstreams_read_them);
  tcase_add_test(tc, subprotocol_pairs);
  tcase_add_test(tc, cookie_names_are_exact);
  tcase_add_test(tc, cookie_removal);
  tcase_add_test(tc, cookie_carried_twice_is_a_duplicate);
  tcase_add_test(tc, origins_compare_scheme_host_and_port);
  tcase_add_test(tc, query_tokens_removed_and_secrets_redacted);
  tcase_add_test(tc, bearer_subprotocols_removed_in_any_case);
  tcase_add_test(tc, token_carriers_removed_generously);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(http_fields_suite);
