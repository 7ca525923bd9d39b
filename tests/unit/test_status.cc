// The status table (core/status.h): every $spa_auth_result, its HTTP
// status, error code and challenge, as clients see them.
#include <set>
#include <string>

#include "core/status.h"
#include "tests/unit/helpers.h"

namespace {

using namespace spa::core;

START_TEST(every_status_has_one_line) {
  std::set<std::string> names;
  size_t n = 0;
  for (Status s : test::all_statuses()) {
    StatusInfo info = status_info(s);
    std::string name(info.name);
    ck_assert_msg(name != "unknown" && !name.empty(), "status %zu has no line", n);
    ck_assert_msg(names.insert(name).second, "\"%s\" named twice", name.c_str());
    ck_assert(status_name(s) == info.name);
    ck_assert(status_description(s) == info.description);
    ck_assert(!info.description.empty());
    if (s == Status::kOk) {
      ck_assert_int_eq(info.http, 0);
    } else {
      ck_assert_msg(info.http == 401 || info.http == 403 || info.http == 503, "%s: HTTP %d", name.c_str(), info.http);
      ck_assert(!info.error_code.empty());
    }
    ++n;
  }
  ck_assert_uint_gt(n, static_cast<size_t>(Status::kDuplicateCookie));
  // Past the last status: the fallback, never a real name.
  std::string past(status_name(static_cast<Status>(n)));
  ck_assert_str_eq(past.c_str(), "unknown");
}
END_TEST

START_TEST(refusals_map_as_documented) {
  struct Case {
    Status s;
    int http;
    const char* code;
  };
  const Case cases[] = {
      {Status::kMissing, 401, "missing_token"},
      {Status::kBadSignature, 401, "invalid_token"},
      {Status::kWrongAudience, 401, "invalid_token"},
      {Status::kRevoked, 401, "invalid_token"},
      {Status::kUnsafeClaim, 401, "invalid_token"},
      {Status::kDuplicateCookie, 401, "invalid_token"},
      {Status::kStoreUnavailable, 503, "temporarily_unavailable"},
      {Status::kForbidden, 403, "insufficient_scope"},
      {Status::kMfaRequired, 401, "insufficient_user_authentication"},
      {Status::kAuthTooOld, 401, "insufficient_user_authentication"},
      {Status::kOriginNotAllowed, 403, "origin_not_allowed"},
  };
  for (const auto& c : cases) {
    StatusInfo info = status_info(c.s);
    std::string code(info.error_code);
    ck_assert_int_eq(info.http, c.http);
    ck_assert_str_eq(code.c_str(), c.code);
  }
  ck_assert(status_info(Status::kOriginNotAllowed).challenge == Challenge::kNone);
  ck_assert(status_info(Status::kMissing).challenge == Challenge::kRealm);
  ck_assert(status_info(Status::kStoreUnavailable).challenge == Challenge::kRealm);
}
END_TEST

START_TEST(challenges) {
  // RFC 6750 §3: no error attributes without a token, nor for our own fault.
  std::string missing = www_authenticate(Status::kMissing, 300);
  ck_assert_str_eq(missing.c_str(), "Bearer realm=\"spa\"");
  std::string store = www_authenticate(Status::kStoreUnavailable, std::nullopt);
  ck_assert_str_eq(store.c_str(), "Bearer realm=\"spa\"");
  std::string expired = www_authenticate(Status::kExpired, 300);
  ck_assert_str_eq(expired.c_str(),
                   "Bearer realm=\"spa\", error=\"invalid_token\", error_description=\"token expired\"");
  std::string scope = www_authenticate(Status::kForbidden, 300);
  ck_assert_str_eq(scope.c_str(),
                   "Bearer realm=\"spa\", error=\"insufficient_scope\", "
                   "error_description=\"token does not grant access to this resource\"");
  // RFC 9470 §3: a step-up names the location's max_age, when it has one.
  std::string mfa = www_authenticate(Status::kMfaRequired, 300);
  ck_assert_str_eq(mfa.c_str(),
                   "Bearer realm=\"spa\", error=\"insufficient_user_authentication\", "
                   "error_description=\"a second authentication factor is required\", max_age=300");
  std::string old = www_authenticate(Status::kAuthTooOld, std::nullopt);
  ck_assert_str_eq(old.c_str(),
                   "Bearer realm=\"spa\", error=\"insufficient_user_authentication\", "
                   "error_description=\"a more recent authentication is required\"");
  // Under `satisfy any` every refusal carries a challenge.
  std::string origin = www_authenticate(Status::kOriginNotAllowed, std::nullopt);
  ck_assert_str_eq(origin.c_str(),
                   "Bearer realm=\"spa\", error=\"origin_not_allowed\", "
                   "error_description=\"this page may not make this request\"");
}
END_TEST

}  // namespace

Suite* status_suite() {
  Suite* s = suite_create("status");
  TCase* t = tcase_create("core");
  tcase_add_test(t, every_status_has_one_line);
  tcase_add_test(t, refusals_map_as_documented);
  tcase_add_test(t, challenges);
  suite_add_tcase(s, t);
  return s;
}

REGISTER_SUITE(status_suite);
