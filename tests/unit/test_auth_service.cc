// AuthService over a real temp store and keys, with a fake clock: token
// issuance, rotation through the service, lockout growth, and erasure
// leaving no personal data in the audit trail.
#include <cstdlib>

#include "authd/auth_service.h"
#include "authd/crypto.h"
#include "authd/mailer.h"
#include "core/base64url.h"
#include "core/verifier.h"
#include "tests/unit/auth_world.h"
#include "tests/unit/helpers.h"

using namespace spa::authd;
using json = nlohmann::json;

namespace {

struct World : test::AuthWorld {
  Outcome signup_and_login(const std::string& name) {
    signup_verified(name + "@example.com", name, name + " password!");
    return service->login(name + "@example.com", name + " password!", client);
  }
};

json payload_of(const std::string& token) {
  std::string part = token.substr(token.find('.') + 1);
  part = part.substr(0, part.find('.'));
  std::string text;
  ck_assert(spa::core::base64url_decode(part, text));
  return json::parse(text);
}

}  // namespace

START_TEST(login_issues_a_verifiable_access_token_with_all_claims) {
  World w;
  Outcome o = w.signup_and_login("alice");
  ck_assert(o.ok() && o.tokens);
  json c = payload_of(o.tokens->access_token);
  for (const char* claim : {"iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp", "email", "username", "role", "amr", "mfa"})
    ck_assert_msg(c.contains(claim), "missing %s", claim);
  ck_assert(c["iss"] == "https://app.example.com" && c["aud"] == "spa" && c["role"] == "user");
  ck_assert(c["amr"] == json::array({"pwd"}) && c["mfa"] == false);
  ck_assert_int_eq(c["exp"].get<int64_t>() - c["iat"].get<int64_t>(), 900);
  ck_assert_uint_eq(o.tokens->refresh_token.size(), 43);
  std::string why;
  auto who = w.service->authenticate(o.tokens->access_token, why);
  ck_assert_msg(who.has_value(), "%s", why.c_str());
  ck_assert(who->sid == c["sid"]);
  // The store keeps only a hash of the refresh token.
  bool raw_found = false;
  std::string err;
  w.store.view([&](const Store::Txn& t) { raw_found = t.get(Db::kRefresh, o.tokens->refresh_token).has_value(); });
  ck_assert(!raw_found);
}
END_TEST

START_TEST(rotation_grace_and_reuse_through_the_service) {
  World w;
  Outcome o = w.signup_and_login("bob");
  std::string rt = o.tokens->refresh_token;
  Outcome r1 = w.service->refresh(rt, w.client);
  ck_assert(r1.ok() && r1.tokens->refresh_token != rt);
  w.now += 10;
  Outcome r2 = w.service->refresh(rt, w.client);
  ck_assert(r2.ok());
  ck_assert(r2.tokens->refresh_token == r1.tokens->refresh_token);
  ck_assert(r2.tokens->access_token == r1.tokens->access_token);
  w.now += 1;
  Outcome r3 = w.service->refresh(rt, w.client);
  ck_assert_int_eq(r3.status, 401);
  ck_assert(r3.end_session);
  std::string why;
  ck_assert(!w.service->authenticate(r1.tokens->access_token, why));
  ck_assert(why == "revoked");
  ck_assert_int_eq(w.service->refresh(r1.tokens->refresh_token, w.client).status, 401);
}
END_TEST

START_TEST(refresh_tokens_expire) {
  World w;
  Outcome o = w.signup_and_login("carl");
  w.now += w.config.refresh_ttl;
  ck_assert_int_eq(w.service->refresh(o.tokens->refresh_token, w.client).status, 401);
}
END_TEST

START_TEST(lockout_grows_and_clears_on_success) {
  World w;
  w.signup_verified("dana@example.com", "dana", "dana password!");
  auto wrong_login = [&] { return w.service->login("dana@example.com", "wrong password", w.client); };
  for (int i = 0; i < 4; ++i) ck_assert_int_eq(wrong_login().status, 401);
  Outcome locked = wrong_login();
  ck_assert_int_eq(locked.status, 423);
  ck_assert_int_eq(locked.retry_after, 60);
  w.now += 61;
  for (int i = 0; i < 4; ++i) ck_assert_int_eq(wrong_login().status, 401);
  ck_assert_int_eq(wrong_login().retry_after, 120);  // the second lockout is twice as long
  w.now += 121;
  ck_assert(w.service->login("dana@example.com", "dana password!", w.client).ok());
  for (int i = 0; i < 4; ++i) ck_assert_int_eq(wrong_login().status, 401);
  ck_assert_int_eq(wrong_login().retry_after, 60);  // a success resets the growth
}
END_TEST

START_TEST(erasure_leaves_no_personal_data) {
  World w;
  Outcome o = w.signup_and_login("erin");
  std::string why;
  auto who = w.service->authenticate(o.tokens->access_token, why);
  ck_assert(who.has_value());
  ck_assert(w.service->delete_account(*who, "erin password!", w.client).ok());
  std::string err, everything;
  w.store.view([&](const Store::Txn& t) {
    for (Db db : {Db::kUsers, Db::kUsersByEmail, Db::kUsersByName, Db::kSessions, Db::kSessionMeta, Db::kUserSessions,
                  Db::kRefresh, Db::kAudit})
      t.scan(db, "", [&](std::string_view k, std::string_view v) {
        everything.append(k).append(v);
        return true;
      });
  });
  for (const std::string& personal : {std::string("erin"), std::string("192.0.2.7"), std::string("agent/1"), who->user_id})
    ck_assert_msg(everything.find(personal) == std::string::npos, "store still holds %s", personal.c_str());
  ck_assert(everything.find("account_deleted") != std::string::npos);  // the event itself is kept
}
END_TEST

START_TEST(reset_links_expire_after_thirty_minutes) {
  World w;
  test::KeptMail mail;
  w.service->set_mailer(&mail);
  ck_assert(w.service->signup("fay@example.com", "fay", "fay password!", w.client).ok());
  mail.bodies.clear();  // the verification link
  ck_assert_int_eq(w.service->password_reset_request("nobody@example.com", w.client).status, 202);
  ck_assert(mail.bodies.empty());  // nothing for an unknown address
  ck_assert_int_eq(w.service->password_reset_request("fay@example.com", w.client).status, 202);
  ck_assert_uint_eq(mail.bodies.size(), 1);
  std::string token = mail.token();
  ck_assert_uint_eq(token.size(), 43);
  w.now += CredentialService::kResetTokenTtl;
  ck_assert_int_eq(w.service->password_reset_confirm(token, "fay new password", w.client).status, 401);
  ck_assert_int_eq(w.service->password_reset_request("fay@example.com", w.client).status, 202);
  w.now += CredentialService::kResetTokenTtl - 1;
  ck_assert(w.service->password_reset_confirm(mail.token(), "fay new password", w.client).ok());
}
END_TEST

// Every Argon2 slot busy (and no queue): each password check answers 503
// server_busy with Retry-After, evaluates nothing and counts nothing — ten
// wrong passwords lock nobody out, a reset link and a verification link
// stay usable — for known and unknown addresses alike.
START_TEST(shed_password_checks_answer_busy_and_count_nothing) {
  World w;
  w.signup_verified("gwen@example.com", "gwen", "gwen password!");
  Outcome in = w.service->login("gwen@example.com", "gwen password!", w.client);
  std::string why;
  auto gwen = w.service->authenticate(in.tokens->access_token, why);
  ck_assert_int_eq(w.service->password_reset_request("gwen@example.com", w.client).status, 202);
  std::string reset = w.mail.token();
  std::vector<spa::authd::Gate::Pass> held;
  auto& gate = w.hasher.admission();
  for (size_t i = 0; i < gate.limits().running; ++i) held.push_back(gate.enter());

  auto busy = [](const Outcome& o) { return o.status == 503 && o.code == "server_busy" && o.retry_after == 1; };
  for (int i = 0; i < 10; ++i) {
    ck_assert(busy(w.service->login("gwen@example.com", "wrong password", w.client)));
    ck_assert(busy(w.service->login("nobody@example.com", "wrong password", w.client)));
  }
  ck_assert(busy(w.service->signup("hal@example.com", "hal", "hal password!", w.client)));
  ck_assert(busy(w.service->password_reset_confirm(reset, "gwen new password", w.client)));
  ck_assert(busy(w.service->reauthenticate(*gwen, "gwen password!", "", false, w.client)));
  ck_assert(busy(w.service->change_password(*gwen, "gwen new password", w.client)));
  ck_assert(busy(w.service->delete_account(*gwen, "gwen password!", w.client)));
  // Quick work needs no slot.
  ck_assert(w.service->refresh(in.tokens->refresh_token, w.client).ok());
  ck_assert(w.service->me(*gwen).ok());

  held.clear();
  // Nothing was counted or spent: no lockout, the link works, hal is free.
  ck_assert(w.service->login("gwen@example.com", "gwen password!", w.client).ok());
  ck_assert(w.service->password_reset_confirm(reset, "gwen new password", w.client).ok());
  ck_assert_int_eq(w.service->signup("hal@example.com", "hal", "hal password!", w.client).status, 201);
}
END_TEST

Suite* auth_service_suite() {
  Suite* s = suite_create("auth_service");
  TCase* tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, login_issues_a_verifiable_access_token_with_all_claims);
  tcase_add_test(tc, rotation_grace_and_reuse_through_the_service);
  tcase_add_test(tc, refresh_tokens_expire);
  tcase_add_test(tc, lockout_grows_and_clears_on_success);
  tcase_add_test(tc, erasure_leaves_no_personal_data);
  tcase_add_test(tc, reset_links_expire_after_thirty_minutes);
  tcase_add_test(tc, shed_password_checks_answer_busy_and_count_nothing);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(auth_service_suite);
