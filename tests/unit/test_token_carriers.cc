// Where a request carries a token (core/token_carriers.h): the Bearer
// header read exactly, Authorization values recognised generously, and the
// token cookie refused when it is carried twice.
#include <string>
#include <vector>

#include "core/token_carriers.h"
#include "tests/unit/helpers.h"

namespace {

using namespace spa::core;
using Lines = std::vector<std::string_view>;

START_TEST(bearer_header_read_exactly) {
  struct Case {
    const char* value;
    const char* token;  // nullptr: no token
  };
  const Case cases[] = {
      {"Bearer T", "T"},
      {"bearer T", "T"},
      {"BEARER T", "T"},
      {"Bearer    T  ", "T"},
      {"Bearer a.b.c", "a.b.c"},
      {"Bearer ", nullptr},
      {"Bearer    ", nullptr},
      {"Bearer", nullptr},
      {"Bearer\tT", nullptr},  // the scheme is followed by one space
      {"Basic dXNlcjpwYXNz", nullptr},
      {"BearerT", nullptr},
      {"", nullptr},
  };
  for (const auto& c : cases) {
    auto token = bearer_token(c.value);
    if (c.token == nullptr) {
      ck_assert_msg(!token, "\"%s\" gave a token", c.value);
    } else {
      ck_assert_msg(token && *token == c.token, "\"%s\"", c.value);
    }
  }
}
END_TEST

START_TEST(authorization_that_may_carry_a_token) {
  for (const char* v : {"Bearer T", "bearer", "JWT x", "token x", "Token", " \tBearer T", "eyJhbGciOi.eyJzdWIi.sig",
                        "Basic eyJh.b.c", "Custom eyJhbGciOi.x.y"})
    ck_assert_msg(may_carry_token(v), "\"%s\" kept", v);
  for (const char* v : {"Basic dXNlcjpwYXNz", "Digest username=\"a\"", "", "eyJ.no-dots", "Basic eyJhbGciOi.x",
                        "Bearerish T"})
    ck_assert_msg(!may_carry_token(v), "\"%s\" removed", v);
}
END_TEST

START_TEST(token_cookie) {
  std::string_view token;
  ck_assert(cookie_token(Lines{"a=1; __Host-spa_at=T; b=2"}, "__Host-spa_at", token) == Status::kOk && token == "T");
  ck_assert(cookie_token(Lines{"a=1", "__Host-spa_at=T2"}, "__Host-spa_at", token) == Status::kOk && token == "T2");
  ck_assert(cookie_token(Lines{"a=1"}, "__Host-spa_at", token) == Status::kMissing);
  ck_assert(cookie_token(Lines{}, "__Host-spa_at", token) == Status::kMissing);
  ck_assert(cookie_token(Lines{"__Host-spa_at="}, "__Host-spa_at", token) == Status::kMissing);
  // Names are exact (RFC 6265); a second carrier is a planted cookie.
  ck_assert(cookie_token(Lines{"__HOST-spa_at=T"}, "__Host-spa_at", token) == Status::kMissing);
  ck_assert(cookie_token(Lines{"__Host-spa_at=A; __Host-spa_at=B"}, "__Host-spa_at", token) ==
            Status::kDuplicateCookie);
  ck_assert(cookie_token(Lines{"__Host-spa_at=A", "__Host-spa_at=B"}, "__Host-spa_at", token) ==
            Status::kDuplicateCookie);
  ck_assert(cookie_token(Lines{"__Host-spa_at=A; __host-spa_at=B"}, "__Host-spa_at", token) ==
            Status::kDuplicateCookie);
}
END_TEST

}  // namespace

Suite* token_carriers_suite() {
  Suite* s = suite_create("token_carriers");
  TCase* t = tcase_create("core");
  tcase_add_test(t, bearer_header_read_exactly);
  tcase_add_test(t, authorization_that_may_carry_a_token);
  tcase_add_test(t, token_cookie);
  suite_add_tcase(s, t);
  return s;
}

REGISTER_SUITE(token_carriers_suite);
