// The account rules an attacker goes after, through AuthService with a fake
// clock: e-mail verification, recent authentication for account changes,
// lockout on every secret (and none evaluated while locked), no account
// oracle in lockouts or sign-up, and role changes reaching the proxy.
#include "authd/auth_service.h"
#include "authd/sweeper.h"
#include "authd/totp.h"
#include "core/base64url.h"
#include "core/session_reader.h"
#include "tests/unit/auth_world.h"
#include "tests/unit/helpers.h"

using namespace spa::authd;
using json = nlohmann::json;

namespace {

json claims_of(const std::string& token) {
  std::string part = token.substr(token.find('.') + 1);
  part = part.substr(0, part.find('.'));
  std::string text;
  ck_assert(spa::core::base64url_decode(part, text));
  return json::parse(text);
}

struct World : test::AuthWorld {
  // A verified user, signed in: the principal and the login's tokens.
  std::pair<Principal, IssuedTokens> signed_in(const std::string& name) {
    signup_verified(name + "@example.com", name, name + " password!");
    Outcome o = service->login(name + "@example.com", name + " password!", client);
    ck_assert_msg(o.ok() && o.tokens, "login of %s: %s", name.c_str(), o.code.c_str());
    std::string why;
    auto who = service->authenticate(o.tokens->access_token, why);
    ck_assert_msg(who.has_value(), "%s", why.c_str());
    return {*who, *o.tokens};
  }
  bool passes(const std::string& access_token) {
    std::string why;
    return service->authenticate(access_token, why).has_value();
  }
  // What nginx's workers see: the module's reader over the same store.
  spa::core::SessionReader::Lookup proxy_sees(const std::string& access_token) {
    spa::core::SessionReader reader;
    std::string err;
    ck_assert_msg(reader.open(dir + "/store", err), "%s", err.c_str());
    json c = claims_of(access_token);
    return reader.check(c["sid"].get<std::string>(), c["sub"].get<std::string>(), now, c["iat"].get<int64_t>(), err);
  }
};

}  // namespace

START_TEST(signup_mails_a_single_use_link_and_login_waits_for_it) {
  World w;
  ck_assert_int_eq(w.service->signup("vic@example.com", "vic", "vic password 1", w.client).status, 201);
  ck_assert_uint_eq(w.mail.bodies.size(), 1);
  ck_assert(w.mail.bodies[0].find("/verify-email#token=") != std::string::npos);
  std::string token = w.mail.token();
  // The right password before verification: 403 email_not_verified; a
  // wrong one is just wrong (no hint that the account exists).
  Outcome early = w.service->login("vic@example.com", "vic password 1", w.client);
  ck_assert_int_eq(early.status, 403);
  ck_assert(early.code == "email_not_verified" && !early.tokens);
  ck_assert(w.service->login("vic@example.com", "not the password", w.client).code == "invalid_credentials");
  // Stored hashed only.
  std::string err;
  bool raw = false;
  w.store.view([&](const Store::Txn& t) { raw = t.get(Db::kVerifyTokens, token).has_value(); });
  ck_assert(!raw);
  // The link alone is not enough: the password chosen at sign-up goes with it.
  ck_assert(w.service->verify_email_confirm(token, "", w.client).code == "invalid_credentials");
  ck_assert(w.service->verify_email_confirm(token, "a squatter guess", w.client).code == "invalid_credentials");
  Outcome confirmed = w.service->verify_email_confirm(token, "vic password 1", w.client);
  ck_assert(confirmed.ok() && confirmed.data["user"]["email_verified"] == true);
  ck_assert_int_eq(w.service->verify_email_confirm(token, "vic password 1", w.client).status, 401);  // single use
  Outcome in = w.service->login("vic@example.com", "vic password 1", w.client);
  ck_assert(in.ok() && in.tokens);
  ck_assert(claims_of(in.tokens->access_token)["email_verified"] == true);
  Outcome exported = w.service->export_data(w.principal(in.tokens->access_token));
  ck_assert(exported.data["account"]["email_verified"] == true);
}
END_TEST

START_TEST(verification_links_expire_and_resend_answers_alike) {
  World w;
  ck_assert(w.service->signup("late@example.com", "late", "late password 1", w.client).ok());
  std::string first = w.mail.token();
  w.now += AccountService::kVerifyTokenTtl;
  ck_assert_int_eq(w.service->verify_email_confirm(first, "late password 1", w.client).status, 401);
  // The same answer for an unknown address, an unverified one and a verified one.
  Outcome unknown = w.service->verify_email_request("nobody@example.com", w.client);
  ck_assert_uint_eq(w.mail.bodies.size(), 1);
  Outcome known = w.service->verify_email_request("late@example.com", w.client);
  ck_assert_uint_eq(w.mail.bodies.size(), 2);
  ck_assert_int_eq(unknown.status, 202);
  ck_assert(unknown.status == known.status && unknown.data == known.data);
  ck_assert(w.service->verify_email_confirm(w.mail.token(), "late password 1", w.client).ok());
  Outcome verified = w.service->verify_email_request("late@example.com", w.client);
  ck_assert(verified.data == known.data);
  ck_assert_uint_eq(w.mail.bodies.size(), 2);  // nothing to confirm any more
  ck_assert_int_eq(w.service->verify_email_confirm("", "late password 1", w.client).status, 401);
  ck_assert_int_eq(w.service->verify_email_confirm(std::string(200, 'a'), "late password 1", w.client).status, 401);
}
END_TEST

START_TEST(signup_with_a_taken_address_answers_as_a_new_one) {
  World w;
  w.signup_verified("owner@example.com", "owner", "owner password 1");
  w.mail.bodies.clear();
  Outcome fresh = w.service->signup("new@example.com", "newcomer", "newcomer pass 1", w.client);
  Outcome taken = w.service->signup("OWNER@example.com", "intruder", "intruder pass 1", w.client);
  ck_assert_int_eq(fresh.status, 201);
  ck_assert_int_eq(taken.status, fresh.status);
  ck_assert(taken.code == fresh.code);
  for (const auto& [k, v] : fresh.data["user"].items()) ck_assert_msg(taken.data["user"].contains(k), "%s", k.c_str());
  ck_assert(taken.data["verification"] == fresh.data["verification"]);
  ck_assert_uint_eq(w.mail.bodies.size(), 2);
  ck_assert(w.mail.bodies[1].find("already has one") != std::string::npos);  // the owner is told
  ck_assert(w.mail.bodies[1].find("#token=") == std::string::npos);
  // Nothing of the intruder was stored; the owner's account is unchanged.
  ck_assert_int_eq(w.service->login("owner@example.com", "intruder pass 1", w.client).status, 401);
  ck_assert(w.service->login("owner@example.com", "owner password 1", w.client).ok());
}
END_TEST

START_TEST(lockout_of_an_unknown_address_looks_like_a_known_one) {
  World w;
  w.signup_verified("known@example.com", "known", "known password 1");
  auto run = [&](const std::string& email) {
    std::vector<Outcome> out;
    for (int i = 0; i < 7; ++i) out.push_back(w.service->login(email, "wrong password!", w.client));
    return out;
  };
  auto known = run("known@example.com");
  auto unknown = run("stranger@example.com");
  for (size_t i = 0; i < known.size(); ++i) {
    ck_assert_int_eq(known[i].status, unknown[i].status);
    ck_assert(known[i].code == unknown[i].code && known[i].message == unknown[i].message);
    ck_assert_int_eq(known[i].retry_after, unknown[i].retry_after);
  }
  ck_assert_int_eq(known[4].status, 423);
  ck_assert_int_eq(known[5].status, 423);
  // Locked: even the right password is not evaluated.
  ck_assert_int_eq(w.service->login("known@example.com", "known password 1", w.client).status, 423);
  w.now += 61;
  ck_assert(w.service->login("known@example.com", "known password 1", w.client).ok());
}
END_TEST

// The clock stepping back during a lock (NTP) does not hold the address
// for the size of the step: a lock ending further ahead than it lasts is
// over, and its count stays, so the next lock is the doubled one.
START_TEST(a_clock_going_back_does_not_stretch_a_lockout) {
  World w;
  w.signup_verified("known@example.com", "known", "known password 1");
  for (int i = 0; i < 4; ++i) w.service->login("known@example.com", "wrong password!", w.client);
  ck_assert_int_eq(w.service->login("known@example.com", "wrong password!", w.client).retry_after, 60);
  w.now -= 3600;
  Outcome first = w.service->login("known@example.com", "wrong password!", w.client);
  ck_assert_int_eq(first.status, 401);  // evaluated and counted, not 423 for an hour and a minute
  for (int i = 0; i < 3; ++i) w.service->login("known@example.com", "wrong password!", w.client);
  ck_assert_int_eq(w.service->login("known@example.com", "wrong password!", w.client).retry_after, 120);
  ck_assert_int_eq(w.service->login("known@example.com", "known password 1", w.client).status, 423);
  w.now += 121;
  ck_assert(w.service->login("known@example.com", "known password 1", w.client).ok());
}
END_TEST

START_TEST(account_changes_need_a_recent_authentication) {
  World w;
  auto [who, tokens] = w.signed_in("rita");
  ck_assert_int_eq(claims_of(tokens.access_token)["auth_time"].get<int64_t>(), w.now);
  w.now += SessionIssuer::kRecentAuth + 1;
  // A valid access token alone is not enough any more.
  for (const Outcome& o : {w.service->mfa_setup(who), w.service->mfa_setup_email(who, w.client),
                           w.service->mfa_enable(who, "123456", w.client),
                           w.service->change_password(who, "a brand new password", w.client),
                           w.service->delete_account(who, "", w.client), w.service->export_data(who),
                           w.service->oauth_unlink(who, "corp", w.client)}) {
    ck_assert_int_eq(o.status, 401);
    ck_assert(o.code == "reauthentication_required");
    ck_assert_int_eq(o.max_age, SessionIssuer::kRecentAuth);
  }
  ck_assert(w.passes(tokens.access_token));  // still signed in
  // The password renews auth_time in a new session that replaces this one.
  Outcome wrong = w.service->reauthenticate(who, "not my password", "", false, w.client);
  ck_assert(wrong.code == "invalid_credentials");
  Outcome re = w.service->reauthenticate(who, "rita password!", "", false, w.client);
  ck_assert_msg(re.ok() && re.tokens, "%s", re.code.c_str());
  ck_assert(!re.tokens->refresh_token.empty() && re.tokens->refresh_token != tokens.refresh_token);
  json c = claims_of(re.tokens->access_token);
  ck_assert_int_eq(c["auth_time"].get<int64_t>(), w.now);
  ck_assert(c["sid"] != claims_of(tokens.access_token)["sid"]);
  Principal fresh = w.principal(re.tokens->access_token);
  ck_assert(w.service->mfa_setup(fresh).ok());
  // The old session is over: a copy of its refresh token does not inherit
  // the fresh authentication (nor anything else).
  ck_assert(!w.passes(tokens.access_token));
  ck_assert_int_eq(w.service->refresh(tokens.refresh_token, w.client).status, 401);
  // Refreshed tokens keep the session's auth_time (a refresh is no authentication).
  w.now += 5;
  Outcome r = w.service->refresh(re.tokens->refresh_token, w.client);
  ck_assert_int_eq(claims_of(r.tokens->access_token)["auth_time"].get<int64_t>(), w.now - 5);
  w.now += SessionIssuer::kRecentAuth;
  ck_assert(w.service->mfa_setup(w.principal(r.tokens->access_token)).code == "reauthentication_required");
}
END_TEST

START_TEST(password_change_ends_every_session_and_old_tokens) {
  World w;
  auto [who, tokens] = w.signed_in("paul");
  Outcome other = w.service->login("paul@example.com", "paul password!", w.client);
  ck_assert(w.service->change_password(who, "paul", w.client).code == "validation_failed");
  Outcome changed = w.service->change_password(who, "paul's new password", w.client);
  ck_assert_msg(changed.ok() && changed.tokens, "%s", changed.code.c_str());
  ck_assert_int_eq(changed.data["sessions_ended"].get<int>(), 2);
  ck_assert(!w.passes(other.tokens->access_token));
  ck_assert(!w.passes(tokens.access_token));  // a copy of this session's old token
  ck_assert(w.proxy_sees(tokens.access_token) == spa::core::SessionReader::Lookup::kRevoked);
  ck_assert(w.passes(changed.tokens->access_token));
  ck_assert(w.proxy_sees(changed.tokens->access_token) == spa::core::SessionReader::Lookup::kValid);
  ck_assert_int_eq(w.service->refresh(other.tokens->refresh_token, w.client).status, 401);
  // A stolen refresh token of the caller's own session dies too: the
  // caller goes on in a new session.
  ck_assert_int_eq(w.service->refresh(tokens.refresh_token, w.client).status, 401);
  ck_assert(w.service->refresh(changed.tokens->refresh_token, w.client).ok());
  ck_assert_int_eq(w.service->login("paul@example.com", "paul password!", w.client).status, 401);
  ck_assert(w.service->login("paul@example.com", "paul's new password", w.client).ok());
}
END_TEST

START_TEST(every_secret_counts_and_none_is_checked_while_locked) {
  World w;
  auto [who, tokens] = w.signed_in("lena");
  Outcome setup = w.service->mfa_setup(who);
  std::string secret = *totp::from_base32(setup.data["secret"].get<std::string>());
  Outcome enabled = w.service->mfa_enable(who, totp::generate(secret, w.now), w.client);
  ck_assert(enabled.ok());
  std::string backup = enabled.data["backup_codes"][0];
  w.now += 31;
  // Wrong codes on account actions and a wrong re-entered password all count.
  ck_assert(w.service->mfa_disable(who, "000000", w.client).code == "invalid_code");
  ck_assert(w.service->mfa_new_backup_codes(who, "000000", w.client).code == "invalid_code");
  ck_assert(w.service->reauthenticate(who, "", "000000", false, w.client).code == "invalid_code");
  ck_assert(w.service->reauthenticate(who, "", "zzzz-zzzz", true, w.client).code == "invalid_code");
  Outcome locked = w.service->delete_account(who, "wrong password", w.client);
  ck_assert_int_eq(locked.status, 423);
  // Locked: right secrets are refused, unevaluated (nothing is spent).
  std::string good = totp::generate(secret, w.now);
  ck_assert_int_eq(w.service->mfa_disable(who, good, w.client).status, 423);
  ck_assert_int_eq(w.service->reauthenticate(who, "", backup, true, w.client).status, 423);
  ck_assert_int_eq(w.service->reauthenticate(who, "lena password!", "", false, w.client).status, 423);
  ck_assert_int_eq(w.service->delete_account(who, "lena password!", w.client).status, 423);
  Outcome gate = w.service->login("lena@example.com", "lena password!", w.client);
  ck_assert_int_eq(gate.status, 423);
  ck_assert(w.service->mfa_status(who).data["backup_codes_remaining"] == 10);
  w.now += 60;
  ck_assert(w.service->reauthenticate(who, "", backup, true, w.client).ok());  // unspent while locked
  ck_assert(w.service->mfa_status(who).data["backup_codes_remaining"] == 9);
  ck_assert(w.service->mfa_disable(who, totp::generate(secret, w.now), w.client).ok());
}
END_TEST

START_TEST(a_role_change_reaches_the_proxy_at_once) {
  World w;
  w.config.admin_require_mfa = false;  // tests/unit/test_lifecycle.cc has it on
  auto [admin, admin_tokens] = w.signed_in("root");
  ck_assert(w.service->set_role("root@example.com", "admin").ok());
  // The CLI's promotion floored root's session: its old token says "user".
  ck_assert(!w.passes(admin_tokens.access_token));
  Outcome promoted = w.service->refresh(admin_tokens.refresh_token, w.client);
  ck_assert(claims_of(promoted.tokens->access_token)["role"] == "admin");
  admin = w.principal(promoted.tokens->access_token);
  auto [bob, bob_tokens] = w.signed_in("bob");
  ck_assert(w.service->admin_update_user(admin, bob.user_id, {{"role", "admin"}}, w.client).ok());
  w.now += 1;
  Outcome up = w.service->refresh(bob_tokens.refresh_token, w.client);
  ck_assert(claims_of(up.tokens->access_token)["role"] == "admin");
  // Demoted in the same second as the refresh: the admin token stops at
  // the proxy, the next refresh says "user".
  ck_assert(w.service->admin_update_user(admin, bob.user_id, {{"role", "user"}}, w.client).ok());
  ck_assert(w.proxy_sees(up.tokens->access_token) == spa::core::SessionReader::Lookup::kRevoked);
  ck_assert(!w.passes(up.tokens->access_token));
  Outcome down = w.service->refresh(up.tokens->refresh_token, w.client);
  ck_assert(down.ok());
  ck_assert(claims_of(down.tokens->access_token)["role"] == "user");
  ck_assert(w.proxy_sees(down.tokens->access_token) == spa::core::SessionReader::Lookup::kValid);
  // A parallel tab inside the grace window after a role change gets the
  // same successor refresh token, but an access token the proxy accepts.
  w.now += 1;
  Outcome rot = w.service->refresh(down.tokens->refresh_token, w.client);
  ck_assert(w.service->admin_update_user(admin, bob.user_id, {{"role", "admin"}}, w.client).ok());
  Outcome tab = w.service->refresh(down.tokens->refresh_token, w.client);
  ck_assert(tab.ok() && tab.tokens->refresh_token == rot.tokens->refresh_token);
  ck_assert(w.proxy_sees(rot.tokens->access_token) == spa::core::SessionReader::Lookup::kRevoked);
  ck_assert(w.proxy_sees(tab.tokens->access_token) == spa::core::SessionReader::Lookup::kValid);
  ck_assert(claims_of(tab.tokens->access_token)["role"] == "admin");
  down = tab;
  // Two changes in one second: the second floor is past the tokens the
  // first one's refresh made.
  w.now += 1;
  ck_assert(w.service->admin_update_user(admin, bob.user_id, {{"role", "user"}}, w.client).ok());
  Outcome between = w.service->refresh(down.tokens->refresh_token, w.client);
  ck_assert(claims_of(between.tokens->access_token)["role"] == "user");
  ck_assert(w.service->admin_update_user(admin, bob.user_id, {{"role", "admin"}}, w.client).ok());
  ck_assert(w.proxy_sees(between.tokens->access_token) == spa::core::SessionReader::Lookup::kRevoked);
  down = w.service->refresh(between.tokens->refresh_token, w.client);
  ck_assert(w.proxy_sees(down.tokens->access_token) == spa::core::SessionReader::Lookup::kValid);
  // A burst of changes keeps the floor within a few seconds of now, so the
  // next token is inside the module's leeway.
  for (int i = 0; i < 40; ++i)
    ck_assert(w.service->admin_update_user(admin, bob.user_id, {{"role", i % 2 ? "user" : "admin"}}, w.client).ok());
  Outcome burst = w.service->refresh(down.tokens->refresh_token, w.client);
  ck_assert(burst.ok());
  ck_assert(claims_of(burst.tokens->access_token)["iat"].get<int64_t>() <= w.now + SessionIssuer::kMaxFloorAhead);
  ck_assert(w.passes(burst.tokens->access_token));
  down = burst;
  // Disabled: nothing passes, and no refresh.
  ck_assert(w.service->admin_update_user(admin, bob.user_id, {{"disabled", true}}, w.client).ok());
  ck_assert(w.proxy_sees(down.tokens->access_token) == spa::core::SessionReader::Lookup::kRevoked);
  ck_assert_int_eq(w.service->refresh(down.tokens->refresh_token, w.client).status, 401);
}
END_TEST

// Lockout records (known and unknown addresses) and verification links
// expire and are swept; nothing of them stays.
START_TEST(lockouts_and_verification_links_are_swept) {
  World w;
  ck_assert(w.service->signup("slow@example.com", "slow", "slow password 1", w.client).ok());
  for (int i = 0; i < 5; ++i) w.service->login("stranger@example.com", "wrong password!", w.client);
  w.service->login("slow@example.com", "wrong password!", w.client);
  auto count = [&](Db db) {
    size_t n = 0;
    std::string err;
    w.store.view([&](const Store::Txn& t) { t.scan(db, "", [&](std::string_view, std::string_view) { return ++n, true; }); });
    return n;
  };
  ck_assert_uint_eq(count(Db::kLockouts), 2);
  ck_assert_uint_eq(count(Db::kVerifyTokens), 1);
  Sweeper sweeper(w.store, SweepSettings{w.config.access_ttl, w.config.audit_retention});
  std::map<std::string, size_t> deleted;
  std::string err;
  ck_assert(sweeper.sweep(w.now + 3600, deleted, err));
  ck_assert_uint_eq(count(Db::kLockouts), 2);  // still remembered
  ck_assert(sweeper.sweep(w.now + 60 + SessionIssuer::kLockoutMemory + 1, deleted, err));
  ck_assert_uint_eq(count(Db::kLockouts), 0);
  ck_assert_uint_eq(count(Db::kVerifyTokens), 0);  // 24 h links are gone too
  ck_assert_uint_eq(deleted["verify_tokens"], 1);
}
END_TEST

// An address nobody confirmed is not held for ever: a week after sign-up
// the account goes (address and username free again); confirmed ones and
// ones with a provider identity stay.
START_TEST(unconfirmed_accounts_are_erased_after_a_week) {
  World w;
  ck_assert(w.service->signup("idle@example.com", "idle", "idle password 1", w.client).ok());
  w.signup_verified("kept@example.com", "kept", "kept password 1");
  size_t erased = 0;
  std::string err;
  w.now += AccountService::kUnverifiedTtl - 1;
  ck_assert(w.service->sweep_unverified(w.now, erased, err));
  ck_assert_uint_eq(erased, 0);
  w.now += 1;
  ck_assert(w.service->sweep_unverified(w.now, erased, err));
  ck_assert_uint_eq(erased, 1);
  ck_assert_int_eq(w.service->signup("someone@example.com", "idle", "other password 1", w.client).status, 201);
  ck_assert(w.service->login("kept@example.com", "kept password 1", w.client).ok());
  // Accounts made in the relaxed mode (or before the setting) carry no
  // erasure date: switching require_verified_email on never deletes them.
  w.config.require_verified_email = false;
  ck_assert(w.service->signup("relaxed@example.com", "relaxed", "relaxed password 1", w.client).ok());
  ck_assert(w.service->login("relaxed@example.com", "relaxed password 1", w.client).ok());
  w.config.require_verified_email = true;
  w.now += 2 * AccountService::kUnverifiedTtl;
  erased = 0;
  ck_assert(w.service->sweep_unverified(w.now, erased, err));
  ck_assert_uint_eq(erased, 1);  // "someone", made under the setting; not "relaxed":
  w.config.require_verified_email = false;
  ck_assert(w.service->login("relaxed@example.com", "relaxed password 1", w.client).ok());
  w.config.require_verified_email = true;
  // A new link on day 6 gives the week again.
  ck_assert(w.service->signup("late@example.com", "late", "late password 1", w.client).ok());
  w.now += AccountService::kUnverifiedTtl - 86400;
  ck_assert_int_eq(w.service->verify_email_request("late@example.com", w.client).status, 202);
  w.now += 2 * 86400;
  ck_assert(w.service->sweep_unverified(w.now, erased, err));
  size_t mails = w.mail.bodies.size();
  ck_assert_int_eq(w.service->verify_email_request("late@example.com", w.client).status, 202);
  ck_assert_uint_eq(w.mail.bodies.size(), mails + 1);  // "late" is still there to mail
  ck_assert(w.service->verify_email_confirm(w.mail.token(), "late password 1", w.client).ok());
}
END_TEST

// A full store refuses a login whatever the password and the address:
// the refusal tells nothing, and no failure goes uncounted.
START_TEST(a_full_store_refuses_logins_alike) {
  // (PostgreSQL's empty tables and indexes take some 350 KiB already)
  test::AuthWorld small(test::on_postgresql() ? 1 << 20 : 256 << 10);
  small.signup_verified("full@example.com", "full", "full password 1");
  Outcome o = small.service->login("full@example.com", "full password 1", small.client);
  std::string rt = o.tokens->refresh_token;
  for (int i = 0; i < 20000; ++i) {
    Outcome r = small.service->refresh(rt, small.client);
    if (!r.ok()) break;
    rt = r.tokens->refresh_token;
  }
  Outcome right = small.service->login("full@example.com", "full password 1", small.client);
  Outcome wrong = small.service->login("full@example.com", "wrong password!", small.client);
  Outcome unknown = small.service->login("nobody@example.com", "wrong password!", small.client);
  for (const Outcome* x : {&right, &wrong, &unknown}) {
    ck_assert_int_eq(x->status, 503);
    ck_assert_str_eq(x->code.c_str(), "store_full");
  }
}
END_TEST

Suite* account_security_suite() {
  Suite* s = suite_create("account_security");
  TCase* tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, signup_mails_a_single_use_link_and_login_waits_for_it);
  tcase_add_test(tc, verification_links_expire_and_resend_answers_alike);
  tcase_add_test(tc, signup_with_a_taken_address_answers_as_a_new_one);
  tcase_add_test(tc, lockout_of_an_unknown_address_looks_like_a_known_one);
  tcase_add_test(tc, a_clock_going_back_does_not_stretch_a_lockout);
  tcase_add_test(tc, account_changes_need_a_recent_authentication);
  tcase_add_test(tc, password_change_ends_every_session_and_old_tokens);
  tcase_add_test(tc, every_secret_counts_and_none_is_checked_while_locked);
  tcase_add_test(tc, a_role_change_reaches_the_proxy_at_once);
  tcase_add_test(tc, lockouts_and_verification_links_are_swept);
  tcase_add_test(tc, a_full_store_refuses_logins_alike);
  tcase_add_test(tc, unconfirmed_accounts_are_erased_after_a_week);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(account_security_suite);
