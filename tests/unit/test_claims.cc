// Claim extraction and policy with a fake clock: time is a parameter.
#include "core/claims.h"
#include "tests/unit/helpers.h"

using namespace spa::core;
using json = nlohmann::json;

namespace {

constexpr int64_t kNow = 1'800'000'000;

Claims claims(json payload) {
  Claims c;
  std::string detail;
  Status s = extract_claims(payload.dump(), c, detail);
  ck_assert_msg(s == Status::kOk, "extract: %s", detail.c_str());
  return c;
}

Status extract(const std::string& text) {
  Claims c;
  std::string detail;
  return extract_claims(text, c, detail);
}

Status check(const json& payload, const ClaimPolicy& p, int64_t now = kNow) {
  std::string detail;
  return check_claims(claims(payload), p, now, detail);
}

json base() { return {{"sub", "alice"}, {"exp", kNow + 60}, {"iat", kNow}, {"nbf", kNow}}; }

}  // namespace

START_TEST(valid_token_passes_default_policy) {
  ck_assert(check(base(), ClaimPolicy{}) == Status::kOk);
}
END_TEST

START_TEST(expiry_with_leeway_boundaries) {
  ClaimPolicy p;
  p.leeway = 30;
  json t = base();
  t["exp"] = kNow - 29;
  ck_assert(check(t, p) == Status::kOk);
  t["exp"] = kNow - 30;  // now >= exp + leeway: expired exactly at the edge
  ck_assert(check(t, p) == Status::kExpired);
  p.leeway = 0;
  t["exp"] = kNow + 1;
  ck_assert(check(t, p) == Status::kOk);
  t["exp"] = kNow;
  ck_assert(check(t, p) == Status::kExpired);
}
END_TEST

START_TEST(nbf_and_iat_in_the_future) {
  ClaimPolicy p;
  p.leeway = 30;
  json t = base();
  t["nbf"] = kNow + 30;
  ck_assert(check(t, p) == Status::kOk);
  t["nbf"] = kNow + 31;
  ck_assert(check(t, p) == Status::kNotYetValid);
  t = base();
  t["iat"] = kNow + 31;
  ck_assert(check(t, p) == Status::kNotYetValid);
}
END_TEST

START_TEST(fractional_and_huge_dates) {
  json t = base();
  t["exp"] = static_cast<double>(kNow) + 10.5;
  ck_assert(check(t, ClaimPolicy{}) == Status::kOk);
  t["exp"] = 1e300;  // clamped, never overflows into the past
  ck_assert(check(t, ClaimPolicy{}) == Status::kOk);
  t["exp"] = 18446744073709551615ull;
  ck_assert(check(t, ClaimPolicy{}) == Status::kOk);
  t["exp"] = -1e300;
  ck_assert(check(t, ClaimPolicy{}) == Status::kExpired);
}
END_TEST

START_TEST(claims_of_the_wrong_type_are_malformed) {
  ck_assert(extract(R"({"exp":"1800000060"})") == Status::kMalformed);
  ck_assert(extract(R"({"exp":1800000060,"nbf":true})") == Status::kMalformed);
  ck_assert(extract(R"({"exp":1800000060,"iat":null})") == Status::kMalformed);
  ck_assert(extract(R"({"exp":1800000060,"iss":1})") == Status::kMalformed);
  ck_assert(extract(R"({"exp":1800000060,"sub":{"id":1}})") == Status::kMalformed);
  ck_assert(extract(R"({"exp":1800000060,"aud":["a",1]})") == Status::kMalformed);
  ck_assert(extract(R"({"exp":1800000060,"amr":"otp"})") == Status::kMalformed);
  ck_assert(extract(R"({"sub":"no exp"})") == Status::kMalformed);
  ck_assert(extract(R"([1,2])") == Status::kMalformed);
  ck_assert(extract(R"({"exp":1,"exp":2})") == Status::kMalformed);
}
END_TEST

START_TEST(issuer_and_audience) {
  ClaimPolicy p;
  p.issuer = "https://id.example";
  p.audiences = {"spa", "api"};
  json t = base();
  ck_assert(check(t, p) == Status::kWrongIssuer);
  t["iss"] = "https://id.example/";
  ck_assert(check(t, p) == Status::kWrongIssuer);
  t["iss"] = "https://id.example";
  ck_assert(check(t, p) == Status::kWrongAudience);
  t["aud"] = "other";
  ck_assert(check(t, p) == Status::kWrongAudience);
  t["aud"] = "api";
  ck_assert(check(t, p) == Status::kOk);
  t["aud"] = json::array({"x", "spa"});
  ck_assert(check(t, p) == Status::kOk);
  t["aud"] = json::array();
  ck_assert(check(t, p) == Status::kWrongAudience);
}
END_TEST

START_TEST(requirements_match_strings_arrays_and_scalars) {
  ClaimPolicy p;
  p.requirements = {{"role", {"admin", "ops"}}};
  json t = base();
  ck_assert(check(t, p) == Status::kForbidden);
  t["role"] = "user";
  ck_assert(check(t, p) == Status::kForbidden);
  t["role"] = "ops";
  ck_assert(check(t, p) == Status::kOk);
  t["role"] = json::array({"user", "admin"});
  ck_assert(check(t, p) == Status::kOk);
  t["role"] = json::object({{"admin", true}});
  ck_assert(check(t, p) == Status::kForbidden);
  p.requirements.push_back({"email_verified", {"true"}});
  ck_assert(check(t, p) == Status::kForbidden);
  t["role"] = "admin";
  t["email_verified"] = true;
  ck_assert(check(t, p) == Status::kOk);
}
END_TEST

START_TEST(mfa_needs_otp_in_amr) {
  ClaimPolicy p;
  p.require_mfa = true;
  json t = base();
  ck_assert(check(t, p) == Status::kMfaRequired);
  t["amr"] = json::array({"pwd"});
  ck_assert(check(t, p) == Status::kMfaRequired);
  t["mfa"] = true;  // a bare flag is not evidence; amr is
  ck_assert(check(t, p) == Status::kMfaRequired);
  t["amr"] = json::array({"pwd", "otp"});
  ck_assert(check(t, p) == Status::kOk);
}
END_TEST

START_TEST(max_age_needs_a_recent_auth_time) {
  ClaimPolicy p;
  p.max_age = 600;
  p.leeway = 30;
  json t = base();
  ck_assert(check(t, p) == Status::kAuthTooOld);  // no auth_time: the check fails
  t["auth_time"] = kNow - 630;                      // max_age + leeway: still fine
  ck_assert(check(t, p) == Status::kOk);
  t["auth_time"] = kNow - 631;
  ck_assert(check(t, p) == Status::kAuthTooOld);
  t["auth_time"] = kNow;
  ck_assert(check(t, p) == Status::kOk);
  t["auth_time"] = kNow + 31;  // in the future beyond leeway
  ck_assert(check(t, p) == Status::kAuthTooOld);
  t["auth_time"] = "yesterday";
  ck_assert(extract(t.dump()) == Status::kMalformed);
  t["auth_time"] = kNow - 10'000;
  ck_assert(check(t, ClaimPolicy{}) == Status::kOk);  // no max_age: not checked
  p.require_mfa = true;                              // mfa is checked first
  ck_assert(check(t, p) == Status::kMfaRequired);
}
END_TEST

START_TEST(first_failure_wins) {
  ClaimPolicy p;
  p.issuer = "x";
  p.require_mfa = true;
  json t = base();
  t["exp"] = kNow - 1000;
  ck_assert(check(t, p) == Status::kExpired);
}
END_TEST

// Found by fuzz_claims: any clock, against any claims, is a decision and
// never an overflow (make test SANITIZE=1 stops on one).
START_TEST(far_clocks_and_far_claims_do_not_overflow) {
  ClaimPolicy p;
  p.max_age = 600;
  std::string detail;
  Claims near = claims({{"exp", 100}, {"nbf", 91900}, {"iat", 50}, {"auth_time", 40}});
  ck_assert(check_claims(near, p, INT64_MIN, detail) == Status::kNotYetValid);
  ck_assert(check_claims(near, p, INT64_MAX, detail) == Status::kExpired);
  Claims far = claims({{"exp", INT64_MAX}, {"nbf", INT64_MIN}, {"iat", -1e300}, {"auth_time", 1e300}});
  ck_assert(check_claims(far, p, kNow, detail) == Status::kAuthTooOld);
  ck_assert_str_eq(detail.c_str(), "auth_time is in the future");
  Claims past = claims({{"exp", INT64_MIN}, {"auth_time", INT64_MIN}});
  ck_assert(check_claims(past, p, INT64_MAX, detail) == Status::kExpired);
  ck_assert(check_claims(past, p, kNow, detail) == Status::kExpired);
}
END_TEST

START_TEST(claim_text_and_header_safety) {
  json p = {{"s", "a"}, {"n", 5}, {"b", false}, {"a", {"x", "y", 3}}, {"o", {{"k", 1}}}, {"z", nullptr}};
  ck_assert(claim_text(p, "s") == std::string("a"));
  ck_assert(claim_text(p, "n") == std::string("5"));
  ck_assert(claim_text(p, "b") == std::string("false"));
  ck_assert(claim_text(p, "a") == std::string("x,y,3"));
  ck_assert(claim_text(p, "o") == std::string("{\"k\":1}"));
  ck_assert(!claim_text(p, "z"));
  ck_assert(!claim_text(p, "missing"));
  ck_assert(is_header_safe("alice@example.com"));
  ck_assert(!is_header_safe("alice\r\nX-Admin: 1"));
  ck_assert(!is_header_safe(std::string("a\0b", 3)));
  ck_assert(!is_header_safe("tab\there"));
}
END_TEST

Suite* claims_suite() {
  Suite* s = suite_create("claims");
  TCase* tc = tcase_create("core");
  tcase_add_test(tc, valid_token_passes_default_policy);
  tcase_add_test(tc, expiry_with_leeway_boundaries);
  tcase_add_test(tc, nbf_and_iat_in_the_future);
  tcase_add_test(tc, fractional_and_huge_dates);
  tcase_add_test(tc, claims_of_the_wrong_type_are_malformed);
  tcase_add_test(tc, issuer_and_audience);
  tcase_add_test(tc, requirements_match_strings_arrays_and_scalars);
  tcase_add_test(tc, mfa_needs_otp_in_amr);
  tcase_add_test(tc, max_age_needs_a_recent_auth_time);
  tcase_add_test(tc, first_failure_wins);
  tcase_add_test(tc, far_clocks_and_far_claims_do_not_overflow);
  tcase_add_test(tc, claim_text_and_header_safety);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(claims_suite);
