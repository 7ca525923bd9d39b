// RFC 6238 Appendix B vectors, the verification window, and the MFA login
// gate through AuthService with a fake clock.
#include <cstdlib>

#include "authd/auth_service.h"
#include "authd/crypto.h"
#include "authd/totp.h"
#include "core/base64url.h"
#include "tests/unit/auth_world.h"
#include "tests/unit/helpers.h"

using namespace spa::authd;
using json = nlohmann::json;

START_TEST(rfc6238_appendix_b_vectors) {
  const std::string sha1 = "12345678901234567890";
  const std::string sha256 = "12345678901234567890123456789012";
  const std::string sha512 = "1234567890123456789012345678901234567890123456789012345678901234";
  struct Row {
    int64_t t;
    const char *s1, *s256, *s512;
  } rows[] = {
      {59, "94287082", "46119246", "90693936"},
      {1111111109, "07081804", "68084774", "25091201"},
      {1111111111, "14050471", "67062674", "99943326"},
      {1234567890, "89005924", "91819424", "93441116"},
      {2000000000, "69279037", "90698825", "38618901"},
      {20000000000, "65353130", "77737706", "47863826"},
  };
  for (const auto& r : rows) {
    ck_assert(totp::generate(sha1, r.t, 8, totp::Hash::kSha1) == r.s1);
    ck_assert(totp::generate(sha256, r.t, 8, totp::Hash::kSha256) == r.s256);
    ck_assert(totp::generate(sha512, r.t, 8, totp::Hash::kSha512) == r.s512);
  }
}
END_TEST

START_TEST(window_is_one_step_either_side) {
  std::string secret = totp::new_secret();
  int64_t now = 1'800'000'015;  // step 60000000
  ck_assert(totp::verify(secret, totp::generate(secret, now), now) == uint64_t{60000000});
  ck_assert(totp::verify(secret, totp::generate(secret, now - 30), now) == uint64_t{59999999});
  ck_assert(totp::verify(secret, totp::generate(secret, now + 30), now) == uint64_t{60000001});
  ck_assert(!totp::verify(secret, totp::generate(secret, now - 60), now));
  ck_assert(!totp::verify(secret, totp::generate(secret, now + 60), now));
  for (const char* bad : {"", "12345", "1234567", "abcdef", "12345 ", " 12345"})
    ck_assert(!totp::verify(secret, bad, now));
}
END_TEST

START_TEST(base32_and_uri) {
  ck_assert(totp::base32("12345678901234567890") == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
  ck_assert(totp::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ") == std::string("12345678901234567890"));
  std::string uri = totp::otpauth_uri("spa auth", "a+b@example.com", "12345678901234567890");
  ck_assert(uri == "otpauth://totp/spa%20auth:a%2Bb@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
                   "&issuer=spa%20auth&algorithm=SHA1&digits=6&period=30");
}
END_TEST

namespace {

struct MfaWorld : test::AuthWorld {
  Principal who;
  std::string secret;

  MfaWorld() {
    std::string err;
    signup_verified("m@example.com", "mallory", "m password 123");
    Outcome login = service->login("m@example.com", "m password 123", client);
    who = *service->authenticate(login.tokens->access_token, err);
    Outcome setup = service->mfa_setup(who);
    ck_assert(setup.ok());
    secret = *totp::from_base32(setup.data["secret"].get<std::string>());
  }
  std::string code(int64_t offset = 0) { return totp::generate(secret, now + offset); }
  std::string mfa_token() {
    Outcome o = service->login("m@example.com", "m password 123", client);
    ck_assert(o.ok() && !o.tokens && o.data["mfa_required"] == true);
    return o.data["mfa_token"].get<std::string>();
  }
};

}  // namespace

START_TEST(enable_then_login_needs_the_second_factor) {
  MfaWorld w;
  ck_assert_int_eq(w.service->mfa_enable(w.who, "000000", w.client).status, 401);
  Outcome on = w.service->mfa_enable(w.who, w.code(), w.client);
  ck_assert(on.ok());
  ck_assert_uint_eq(on.data["backup_codes"].size(), 10);
  std::string token = w.mfa_token();
  w.now += 30;
  Outcome done = w.service->mfa_verify(token, w.code(), false, w.client);
  ck_assert(done.ok() && done.tokens);
  std::string err;
  auto who = w.service->authenticate(done.tokens->access_token, err);
  ck_assert(who.has_value());
  // Single use: the same mfa_token cannot complete a second login.
  ck_assert_int_eq(w.service->mfa_verify(token, w.code(), false, w.client).status, 401);
  // Refreshed tokens keep amr otp.
  Outcome refreshed = w.service->refresh(done.tokens->refresh_token, w.client);
  ck_assert(refreshed.ok());
  const std::string& at = refreshed.tokens->access_token;
  std::string payload;
  ck_assert(spa::core::base64url_decode(at.substr(at.find('.') + 1, at.rfind('.') - at.find('.') - 1), payload));
  json claims = json::parse(payload);
  ck_assert(claims["amr"] == json::array({"pwd", "otp"}));
  ck_assert(claims["mfa"] == true);
}
END_TEST

START_TEST(a_code_is_accepted_once) {
  MfaWorld w;
  ck_assert(w.service->mfa_enable(w.who, w.code(), w.client).ok());
  // The code used to enable is spent, and so is every earlier step.
  ck_assert_int_eq(w.service->mfa_verify(w.mfa_token(), w.code(), false, w.client).status, 401);
  ck_assert_int_eq(w.service->mfa_verify(w.mfa_token(), w.code(-30), false, w.client).status, 401);
  ck_assert(w.service->mfa_verify(w.mfa_token(), w.code(30), false, w.client).ok());
  ck_assert_int_eq(w.service->mfa_verify(w.mfa_token(), w.code(30), false, w.client).status, 401);
}
END_TEST

START_TEST(mfa_token_expires_after_five_minutes) {
  MfaWorld w;
  ck_assert(w.service->mfa_enable(w.who, w.code(), w.client).ok());
  std::string token = w.mfa_token();
  w.now += SessionIssuer::kMfaTokenTtl;
  Outcome late = w.service->mfa_verify(token, w.code(), false, w.client);
  ck_assert_int_eq(late.status, 401);
  ck_assert(late.code == "invalid_token");
}
END_TEST

START_TEST(backup_codes_are_single_use_and_failures_lock) {
  MfaWorld w;
  Outcome on = w.service->mfa_enable(w.who, w.code(), w.client);
  std::string backup = on.data["backup_codes"][3];
  Outcome used = w.service->mfa_verify(w.mfa_token(), backup, true, w.client);
  ck_assert(used.ok());
  ck_assert_int_eq(used.data["backup_codes_remaining"].get<int>(), 9);
  ck_assert_int_eq(w.service->mfa_verify(w.mfa_token(), backup, true, w.client).status, 401);
  // Upper case and without the dash is the same code.
  std::string other = on.data["backup_codes"][5];
  other.erase(4, 1);
  for (auto& c : other) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ck_assert(w.service->mfa_verify(w.mfa_token(), other, true, w.client).ok());
  // Wrong codes count toward the account lockout.
  std::string token = w.mfa_token();
  int last = 0;
  for (int i = 0; i < 5; ++i) last = w.service->mfa_verify(token, "999999", false, w.client).status;
  ck_assert_int_eq(last, 423);
}
END_TEST

START_TEST(email_codes_last_ten_minutes_and_are_single_use) {
  test::AuthWorld w;
  auto& mail = w.mail;
  std::string err;
  w.signup_verified("e@example.com", "emailer", "e password 123");
  Outcome login = w.service->login("e@example.com", "e password 123", w.client);
  Principal who = *w.service->authenticate(login.tokens->access_token, err);
  ck_assert(w.service->mfa_setup_email(who, w.client).ok());
  w.now += FactorCodes::kEmailCodeTtl;  // the setup code has expired
  ck_assert_int_eq(w.service->mfa_enable(who, mail.code(), w.client).status, 401);
  ck_assert(w.service->mfa_send_email_code(who, w.client).ok());
  ck_assert(w.service->mfa_enable(who, mail.code(), w.client).ok());
  Outcome gate = w.service->login("e@example.com", "e password 123", w.client);
  ck_assert(gate.data["method"] == "email");
  std::string token = gate.data["mfa_token"], code = mail.code();
  w.now += FactorCodes::kEmailCodeTtl - 1;
  ck_assert(w.service->mfa_verify(token, code, false, w.client).ok());
  ck_assert_int_eq(w.service->mfa_verify(token, code, false, w.client).status, 401);  // single use
  gate = w.service->login("e@example.com", "e password 123", w.client);
  w.now += FactorCodes::kEmailCodeTtl;
  ck_assert_int_eq(w.service->mfa_verify(gate.data["mfa_token"], mail.code(), false, w.client).status, 401);
}
END_TEST

Suite* totp_suite() {
  Suite* s = suite_create("totp");
  TCase* tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, rfc6238_appendix_b_vectors);
  tcase_add_test(tc, window_is_one_step_either_side);
  tcase_add_test(tc, base32_and_uri);
  tcase_add_test(tc, enable_then_login_needs_the_second_factor);
  tcase_add_test(tc, a_code_is_accepted_once);
  tcase_add_test(tc, mfa_token_expires_after_five_minutes);
  tcase_add_test(tc, backup_codes_are_single_use_and_failures_lock);
  tcase_add_test(tc, email_codes_last_ten_minutes_and_are_single_use);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(totp_suite);
