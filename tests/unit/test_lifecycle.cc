// Lifecycle races and erasure, through AuthService with a fake clock: a
// reset (password change, disable) ends whatever the old credentials
// started, even a check made just before it; after an erasure no database
// holds anything of the user.
#include <set>

#include "authd/auth_service.h"
#include "authd/sweeper.h"
#include "authd/totp.h"
#include "tests/unit/auth_world.h"
#include "tests/unit/helpers.h"

using namespace spa::authd;
using json = nlohmann::json;

namespace {

struct World : test::AuthWorld {
  std::pair<Principal, IssuedTokens> signed_in(const std::string& name) {
    signup_verified(name + "@example.com", name, name + " password!");
    Outcome o = service->login(name + "@example.com", name + " password!", client);
    ck_assert_msg(o.ok() && o.tokens, "login of %s: %s", name.c_str(), o.code.c_str());
    return {principal(o.tokens->access_token), *o.tokens};
  }
  // TOTP on for a signed-in user; its secret.
  std::string with_totp(const Principal& who) {
    Outcome setup = service->mfa_setup(who);
    std::string secret = *totp::from_base32(setup.data["secret"].get<std::string>());
    ck_assert(service->mfa_enable(who, totp::generate(secret, now), client).ok());
    now += 31;  // the next code is another step
    return secret;
  }
  // A reset link for `email`, mailed now.
  std::string reset_link(const std::string& email) {
    ck_assert_int_eq(service->password_reset_request(email, client).status, 202);
    return mail.token();
  }
  void reset(const std::string& token, const std::string& password) {
    Outcome o = service->password_reset_confirm(token, password, client);
    ck_assert_msg(o.ok(), "reset: %s", o.code.c_str());
  }
};

}  // namespace

START_TEST(a_reset_voids_pending_second_factor_logins) {
  World w;
  auto [who, tokens] = w.signed_in("olga");
  std::string secret = w.with_totp(who);
  Outcome pending = w.service->login("olga@example.com", "olga password!", w.client);
  ck_assert(pending.ok() && pending.data["mfa_required"] == true);
  std::string mfa_token = pending.data["mfa_token"];
  w.reset(w.reset_link("olga@example.com"), "olga's new password");
  // The old password got this far; the second factor does not finish it.
  Outcome late = w.service->mfa_verify(mfa_token, totp::generate(secret, w.now), false, w.client);
  ck_assert_int_eq(late.status, 401);
  ck_assert(late.code == "invalid_token" && !late.tokens);
  // The new password does.
  Outcome again = w.service->login("olga@example.com", "olga's new password", w.client);
  w.now += 31;
  ck_assert(w.service->mfa_verify(again.data["mfa_token"], totp::generate(secret, w.now), false, w.client).ok());
}
END_TEST

START_TEST(a_password_change_or_disable_voids_pending_logins) {
  World w;
  auto [who, tokens] = w.signed_in("pia");
  std::string secret = w.with_totp(who);
  Outcome pending = w.service->login("pia@example.com", "pia password!", w.client);
  std::string mfa_token = pending.data["mfa_token"];
  w.now += 31;
  Outcome fresh = w.service->reauthenticate(who, "pia password!", "", false, w.client);
  ck_assert(fresh.ok());
  ck_assert(w.service->change_password(w.principal(fresh.tokens->access_token), "pia's new password", w.client).ok());
  ck_assert_int_eq(w.service->mfa_verify(mfa_token, totp::generate(secret, w.now), false, w.client).status, 401);
  // Disable (by an administrator): the same.
  w.config.admin_require_mfa = false;
  auto [root, root_tokens] = w.signed_in("root");
  ck_assert(w.service->set_role("root@example.com", "admin").ok());
  Outcome promoted = w.service->refresh(root_tokens.refresh_token, w.client);
  Principal admin = w.principal(promoted.tokens->access_token);
  pending = w.service->login("pia@example.com", "pia's new password", w.client);
  mfa_token = pending.data["mfa_token"];
  ck_assert(w.service->admin_update_user(admin, who.user_id, {{"disabled", true}}, w.client).ok());
  ck_assert(w.service->admin_update_user(admin, who.user_id, {{"disabled", false}}, w.client).ok());
  w.now += 31;
  ck_assert_int_eq(w.service->mfa_verify(mfa_token, totp::generate(secret, w.now), false, w.client).status, 401);
}
END_TEST

// The password was right when Argon2 checked it; the reset committed
// before the login's write: no session comes of the old password.
START_TEST(a_login_checked_before_a_reset_does_not_commit) {
  World w;
  w.signed_in("quinn");
  std::string link = w.reset_link("quinn@example.com");
  w.meanwhile = [&] { w.reset(link, "quinn's new password"); };
  Outcome late = w.service->login("quinn@example.com", "quinn password!", w.client);
  ck_assert(!w.meanwhile);  // the reset did land in between
  ck_assert_int_eq(late.status, 401);
  ck_assert(late.code == "invalid_credentials" && !late.tokens);
  ck_assert(w.service->login("quinn@example.com", "quinn's new password", w.client).ok());
  // Without a reset in between, the same login goes through.
  w.meanwhile = [] {};
  ck_assert(w.service->login("quinn@example.com", "quinn's new password", w.client).ok());
}
END_TEST

START_TEST(an_erasure_checked_before_a_reset_does_not_commit) {
  World w;
  auto [who, tokens] = w.signed_in("rhea");
  std::string link = w.reset_link("rhea@example.com");
  w.meanwhile = [&] { w.reset(link, "rhea's new password"); };
  Outcome late = w.service->delete_account(who, "rhea password!", w.client);
  ck_assert(!w.meanwhile);
  ck_assert_int_eq(late.status, 401);
  ck_assert(w.service->login("rhea@example.com", "rhea's new password", w.client).ok());  // still there
}
END_TEST

// Everything a user can leave in the store, then DELETE /account: no
// database holds their id (hex or the session record's bytes), address,
// username, audit id, provider subject, session ids, client address or
// user agent (the sessions end as records of no one, swept once their
// tokens expired); the tables they alone filled are as they were before.
START_TEST(an_erasure_leaves_nothing_of_the_user) {
  World w;
  w.client = {"req-9", "198.51.100.23", "Erasure-Test-Agent/7"};
  std::string err;
  auto dump = [&] {
    std::map<int, std::set<std::pair<std::string, std::string>>> all;
    ck_assert(w.store.view(
        [&](const Store::Txn& t) {
          for (int db = 0; db < kDbCount; ++db)
            t.scan(static_cast<Db>(db), "", [&](std::string_view k, std::string_view v) {
              // (meta's mirror_seq counts the store's commits to the sessions mirror: no one's data)
              if (!(static_cast<Db>(db) == Db::kMeta && k == "mirror_seq")) all[db].emplace(k, v);
              return true;
            });
        }).ok());
    return all;
  };
  auto before = dump();
  // Unverified first: a verification link stays outstanding.
  w.config.require_verified_email = false;
  ck_assert(w.service->signup("Sara.Erased@Example.com", "sara_erased", "sara password!", w.client).ok());
  ck_assert(w.service->verify_email_request("sara.erased@example.com", w.client).ok());
  Outcome first = w.service->login("sara.erased@example.com", "sara password!", w.client);
  Principal who = w.principal(first.tokens->access_token);
  Outcome second = w.service->login("sara.erased@example.com", "sara password!", w.client);
  ck_assert(w.service->refresh(second.tokens->refresh_token, w.client).ok());
  ck_assert(w.service->oauth_link(who.user_id, who.sid,
                                  {"corp", "subject-4711", "sara.erased@example.com", true, "sara"}, w.client)
                .ok());
  std::string secret = w.with_totp(who);
  ck_assert(w.service->login("sara.erased@example.com", "sara password!", w.client).data["mfa_required"] == true);
  ck_assert(w.service->login("sara.erased@example.com", "a wrong password", w.client).status == 401);
  w.reset_link("sara.erased@example.com");
  std::string audit_id;
  ck_assert(w.store.view([&](const Store::Txn& t) { audit_id = load_user(t, who.user_id)->audit_id; }).ok());
  std::string id_bytes;
  for (size_t i = 0; i + 1 < who.user_id.size(); i += 2)
    id_bytes.push_back(static_cast<char>(std::stoi(who.user_id.substr(i, 2), nullptr, 16)));

  w.now += 31;
  Outcome fresh = w.service->reauthenticate(who, "", totp::generate(secret, w.now), false, w.client);
  ck_assert_msg(fresh.ok(), "%s", fresh.code.c_str());
  ck_assert(w.service->delete_account(w.principal(fresh.tokens->access_token), "", w.client).ok());

  // Nothing of the user anywhere, but for the sessions' ids: each kept as
  // a revoked record of no one (no user id), so that no mirror can take a
  // session it lacks for one on its way; swept once its tokens expired.
  auto leaves_nothing = [&](bool swept) {
    auto after = dump();
    const int sessions = static_cast<int>(Db::kSessions);
    size_t tombstones = 0;
    for (const auto& [k, v] : after[sessions]) {
      if (before[sessions].count({k, v})) continue;
      auto rec = spa::core::SessionRecord::decode(v);
      ck_assert(rec && rec->state == spa::core::SessionState::kRevoked && rec->user_id == decltype(rec->user_id){});
      ++tombstones;
    }
    ck_assert(swept ? tombstones == 0 : tombstones >= 2);
    for (const std::string& needle : {who.user_id, id_bytes, std::string("sara.erased@example.com"),
                                      std::string("Sara.Erased@Example.com"), std::string("sara_erased"), audit_id,
                                      std::string("subject-4711"), who.sid, w.client.ip, w.client.user_agent})
      for (const auto& [db, entries] : after)
        for (const auto& [k, v] : entries)
          ck_assert_msg(db == sessions || (k.find(needle) == std::string::npos && v.find(needle) == std::string::npos),
                        "database %d still holds \"%s\"", db, needle.c_str());
    // Only the audit trail keeps (anonymous) events; every other table is
    // as it was before the user came.
    for (int db = 0; db < kDbCount; ++db) {
      if (static_cast<Db>(db) == Db::kAudit || (!swept && db == sessions)) continue;
      ck_assert_msg(after[db] == before[db], "database %d kept %zu entries of the user", db,
                    after[db].size() - std::min(after[db].size(), before[db].size()));
    }
  };
  leaves_nothing(false);
  Sweeper sweeper(w.store, SweepSettings{w.config.access_ttl, w.config.audit_retention});
  std::map<std::string, size_t> deleted;
  ck_assert_msg(sweeper.sweep(w.now + w.config.access_ttl + 3600, deleted, err), "%s", err.c_str());
  leaves_nothing(true);
}
END_TEST

START_TEST(administration_needs_a_second_factor) {
  World w;
  auto [root, tokens] = w.signed_in("root");
  auto [eve, eve_tokens] = w.signed_in("eve");
  ck_assert(w.service->set_role("root@example.com", "admin").ok());
  Principal pwd_only = w.principal(w.service->refresh(tokens.refresh_token, w.client).tokens->access_token);
  for (const Outcome& o : {w.service->admin_list_users(pwd_only, "", 10),
                           w.service->admin_update_user(pwd_only, eve.user_id, {{"disabled", true}}, w.client)}) {
    ck_assert_int_eq(o.status, 403);
    ck_assert_str_eq(o.code.c_str(), "mfa_required");
  }
  ck_assert(w.principal(eve_tokens.access_token).user_id == eve.user_id);  // eve untouched
  // With both factors, the same administrator administers.
  std::string secret = w.with_totp(pwd_only);
  Outcome gate = w.service->login("root@example.com", "root password!", w.client);
  Outcome both = w.service->mfa_verify(gate.data["mfa_token"], totp::generate(secret, w.now), false, w.client);
  Principal admin = w.principal(both.tokens->access_token);
  ck_assert(admin.second_factor && !pwd_only.second_factor);
  ck_assert(w.service->admin_list_users(admin, "", 10).ok());
  // [security] admin_require_mfa = false: the password is enough.
  w.config.admin_require_mfa = false;
  ck_assert(w.service->admin_list_users(pwd_only, "", 10).ok());
}
END_TEST

// DELETE /account re-checks the password: it is a guessed secret like a
// login's, counted, audited and locked out.
START_TEST(wrong_passwords_on_erasure_are_counted_and_audited) {
  World w;
  auto [who, tokens] = w.signed_in("tess");
  for (int i = 1; i < SessionIssuer::kFailuresBeforeLock; ++i) {
    Outcome wrong = w.service->delete_account(who, "guess " + std::to_string(i), w.client);
    ck_assert_str_eq(wrong.code.c_str(), "invalid_credentials");
  }
  Outcome locked = w.service->delete_account(who, "one guess more", w.client);
  ck_assert_int_eq(locked.status, 423);
  ck_assert_int_eq(w.service->delete_account(who, "tess password!", w.client).status, 423);  // not evaluated
  ck_assert_int_eq(w.service->login("tess@example.com", "tess password!", w.client).status, 423);
  int failed = 0, locks = 0;
  Outcome exported = w.service->export_data(who);
  for (const auto& e : exported.data["events"]) {
    failed += e["event"] == "login_failed";
    locks += e["event"] == "account_locked";
  }
  ck_assert_int_eq(failed, SessionIssuer::kFailuresBeforeLock);
  ck_assert_int_eq(locks, 1);
}
END_TEST

// Mail is bounded per recipient and per account, each class in its own
// buckets: whoever knows an address cannot flood it, nor use up the room a
// reset link needs.
START_TEST(mail_quota_counts_recipients_accounts_and_classes_apart) {
  MailQuota q(MailLimits{{3, 3600LL * 1000000}, {5, 86400LL * 1000000}});
  int64_t t0 = 1'800'000'000LL * 1000000;
  for (int i = 0; i < 3; ++i) ck_assert(q.take(MailClass::kCode, "a@example.com", "u1", t0).allowed);
  auto over = q.take(MailClass::kCode, "a@example.com", "u1", t0);
  ck_assert(!over.allowed);
  ck_assert_str_eq(over.reason, "recipient_limit");
  ck_assert_int_eq(over.retry_after, 1200);  // one message's worth of the hour
  ck_assert(q.take(MailClass::kLink, "a@example.com", "u1", t0).allowed);  // its own room
  ck_assert(q.take(MailClass::kCode, "b@example.com", "u2", t0).allowed);
  // The account's bucket, whatever the address.
  ck_assert(q.take(MailClass::kNotice, "c@example.com", "u3", t0).allowed);
  ck_assert(q.take(MailClass::kNotice, "d@example.com", "u3", t0).allowed);
  for (int i = 0; i < 3; ++i) ck_assert(q.take(MailClass::kNotice, "e" + std::to_string(i) + "@x.org", "u3", t0).allowed);
  auto account = q.take(MailClass::kNotice, "f@example.com", "u3", t0);
  ck_assert(!account.allowed);
  ck_assert_str_eq(account.reason, "account_limit");
  // A refusal by the account's bucket spends nothing of the recipient's.
  for (int i = 0; i < 3; ++i) ck_assert(q.take(MailClass::kNotice, "f@example.com", "", t0).allowed);
  ck_assert(q.take(MailClass::kCode, "a@example.com", "u1", t0 + 1200LL * 1000000).allowed);  // refilled
}
END_TEST

START_TEST(an_inbox_cannot_be_flooded_and_codes_go_to_proven_addresses_only) {
  World w;
  auto [who, tokens] = w.signed_in("uma");  // 1 link: the verification
  size_t mailed = w.mail.bodies.size();
  // Resets for someone else's address: at most the recipient's bucket; the
  // answer never changes.
  for (int i = 0; i < 10; ++i) {
    Outcome o = w.service->password_reset_request("uma@example.com", w.client);
    ck_assert_int_eq(o.status, 202);
  }
  ck_assert_uint_eq(w.mail.bodies.size(), mailed + 4);  // 5 links an hour, the verification was one
  ck_assert(w.service->mail_metrics().find("class=\"link\",outcome=\"recipient_limit\"} 6") != std::string::npos);
  // Codes have their own room, and it too is bounded (429 to the signed-in caller).
  mailed = w.mail.bodies.size();
  ck_assert(w.service->mfa_setup_email(who, w.client).ok());
  ck_assert(w.service->mfa_enable(who, w.mail.code(), w.client).ok());
  int refused = 0;
  for (int i = 0; i < 8; ++i) {
    Outcome o = w.service->mfa_send_email_code(who, w.client);
    if (!o.ok()) {
      ck_assert_int_eq(o.status, 429);
      ck_assert_str_eq(o.code.c_str(), "mail_rate_limited");
      ck_assert_int_gt(o.retry_after, 0);
      ++refused;
    }
  }
  ck_assert_int_eq(refused, 4);
  ck_assert_uint_eq(w.mail.bodies.size(), mailed + 5);
  // An hour on, links go again.
  w.now += 3600;
  mailed = w.mail.bodies.size();
  w.service->password_reset_request("uma@example.com", w.client);
  ck_assert_uint_eq(w.mail.bodies.size(), mailed + 1);
  ck_assert(w.mail.classes.back() == MailClass::kLink);

  // An address nobody proved gets the verification link, and no code.
  w.config.require_verified_email = false;
  ck_assert(w.service->signup("victim@example.com", "squatter", "squatter password", w.client).ok());
  ck_assert(w.mail.classes.back() == MailClass::kLink);
  mailed = w.mail.bodies.size();
  Outcome in = w.service->login("victim@example.com", "squatter password", w.client);
  Principal squatter = w.principal(in.tokens->access_token);
  Outcome setup = w.service->mfa_setup_email(squatter, w.client);
  ck_assert_int_eq(setup.status, 403);
  ck_assert_str_eq(setup.code.c_str(), "email_not_verified");
  ck_assert_int_eq(w.service->mfa_send_email_code(squatter, w.client).status, 400);  // nothing set up
  ck_assert_uint_eq(w.mail.bodies.size(), mailed);
}
END_TEST

// A factor passed once is not carried: re-authentication by password makes
// a session without "otp", and turning the second factor off takes it from
// every session (old tokens saying it stop passing).
START_TEST(a_second_factor_is_claimed_only_while_it_was_just_passed) {
  World w;
  auto [who, tokens] = w.signed_in("val");
  std::string secret = w.with_totp(who);
  Outcome gate = w.service->login("val@example.com", "val password!", w.client);
  Outcome both = w.service->mfa_verify(gate.data["mfa_token"], totp::generate(secret, w.now), false, w.client);
  Principal mfa = w.principal(both.tokens->access_token);
  ck_assert(mfa.second_factor);
  Outcome by_password = w.service->reauthenticate(mfa, "val password!", "", false, w.client);
  ck_assert(by_password.ok());
  ck_assert(!w.principal(by_password.tokens->access_token).second_factor);
  w.now += 31;
  Principal pwd = w.principal(by_password.tokens->access_token);
  Outcome by_code = w.service->reauthenticate(pwd, "", totp::generate(secret, w.now), false, w.client);
  ck_assert(by_code.ok());
  Principal stepped = w.principal(by_code.tokens->access_token);
  ck_assert(stepped.second_factor);
  // Another session that passed the factor.
  w.now += 31;
  Outcome gate2 = w.service->login("val@example.com", "val password!", w.client);
  Outcome other = w.service->mfa_verify(gate2.data["mfa_token"], totp::generate(secret, w.now), false, w.client);
  ck_assert(w.principal(other.tokens->access_token).second_factor);
  w.now += 31;
  Outcome off = w.service->mfa_disable(stepped, totp::generate(secret, w.now), w.client);
  ck_assert_msg(off.ok() && off.tokens, "%s", off.code.c_str());
  ck_assert(!w.principal(off.tokens->access_token).second_factor);  // the caller, in a new session
  std::string why;
  ck_assert(!w.service->authenticate(by_code.tokens->access_token, why));
  ck_assert(!w.service->authenticate(other.tokens->access_token, why));  // said "otp": floored
  Outcome later = w.service->refresh(other.tokens->refresh_token, w.client);
  ck_assert_msg(later.ok(), "%s", later.code.c_str());
  ck_assert(!w.principal(later.tokens->access_token).second_factor);
}
END_TEST

// Plus-addresses and dots reach one inbox: they share its bucket.
START_TEST(one_inbox_one_bucket_whatever_the_spelling) {
  ck_assert(inbox_of("Victim+1@Example.com") == "victim@example.com");
  ck_assert(inbox_of("v.i.c.t.i.m+a+b@example.com") == "victim@example.com");
  ck_assert(inbox_of("victim@ex.ample.com") == "victim@ex.ample.com");  // the domain's dots stay
  World w;
  w.config.require_verified_email = false;
  for (int i = 1; i <= 8; ++i) {
    std::string address = "Vic.tim+" + std::to_string(i) + "@example.com";
    ck_assert_int_eq(w.service->signup(address, "victim" + std::to_string(i), "victim password " + std::to_string(i),
                                       w.client).status, 201);
  }
  ck_assert_uint_eq(w.mail.bodies.size(), 5);
}
END_TEST

// Whoever knows the password and keeps the code bucket empty does not lock
// the owner out: the login still waits for a backup code.
START_TEST(over_the_code_limit_a_login_still_takes_a_backup_code) {
  World w;
  auto [who, tokens] = w.signed_in("wes");
  ck_assert(w.service->mfa_setup_email(who, w.client).ok());
  Outcome on = w.service->mfa_enable(who, w.mail.code(), w.client);
  ck_assert(on.ok());
  std::string backup = on.data["backup_codes"][0];
  Outcome last;
  for (int i = 0; i < 6; ++i) last = w.service->login("wes@example.com", "wes password!", w.client);
  ck_assert(last.ok() && last.data["mfa_required"] == true);
  ck_assert(last.data["code_sent"] == false);
  Outcome in = w.service->mfa_verify(last.data["mfa_token"], backup, true, w.client);
  ck_assert_msg(in.ok() && in.tokens, "%s", in.code.c_str());
}
END_TEST

// A full table forgets the least spent keys; it never refuses everyone.
START_TEST(a_full_quota_table_makes_room) {
  MailQuota q(MailLimits{});
  int64_t t0 = 1'800'000'000LL * 1000000;
  for (size_t i = 0; i < MailQuota::kMaxKeys; ++i)
    ck_assert(q.take(MailClass::kNotice, "flood" + std::to_string(i) + "@example.com", "", t0).allowed);
  ck_assert(q.take(MailClass::kLink, "owner@example.com", "u1", t0).allowed);
  // The flooded keys' buckets were barely touched: a recipient that has
  // spent its bucket is still counted.
  for (int i = 0; i < 4; ++i) ck_assert(q.take(MailClass::kLink, "owner@example.com", "u1", t0).allowed);
  ck_assert(!q.take(MailClass::kLink, "owner@example.com", "u1", t0).allowed);
}
END_TEST

// An address without an account costs the same synchronous commit as one
// with: no timing oracle from the fsync (a pad record is what it writes).
START_TEST(reset_and_verify_requests_commit_either_way) {
  World w;
  std::string err;
  auto padded = [&] {
    bool found = false;
    ck_assert(w.store.view([&](const Store::Txn& t) { found = t.get(Db::kMeta, "timing_pad").has_value(); }).ok());
    return found;
  };
  ck_assert(!padded());
  ck_assert_int_eq(w.service->password_reset_request("nobody@example.com", w.client).status, 202);
  ck_assert(padded());
  World v;
  ck_assert_int_eq(v.service->verify_email_request("nobody@example.com", v.client).status, 202);
  bool found = false;
  ck_assert(v.store.view([&](const Store::Txn& t) { found = t.get(Db::kMeta, "timing_pad").has_value(); }).ok());
  ck_assert(found);
}
END_TEST

Suite* lifecycle_suite() {
  Suite* s = suite_create("lifecycle");
  TCase* tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, a_reset_voids_pending_second_factor_logins);
  tcase_add_test(tc, a_password_change_or_disable_voids_pending_logins);
  tcase_add_test(tc, a_login_checked_before_a_reset_does_not_commit);
  tcase_add_test(tc, an_erasure_checked_before_a_reset_does_not_commit);
  tcase_add_test(tc, an_erasure_leaves_nothing_of_the_user);
  tcase_add_test(tc, administration_needs_a_second_factor);
  tcase_add_test(tc, wrong_passwords_on_erasure_are_counted_and_audited);
  tcase_add_test(tc, mail_quota_counts_recipients_accounts_and_classes_apart);
  tcase_add_test(tc, an_inbox_cannot_be_flooded_and_codes_go_to_proven_addresses_only);
  tcase_add_test(tc, a_second_factor_is_claimed_only_while_it_was_just_passed);
  tcase_add_test(tc, one_inbox_one_bucket_whatever_the_spelling);
  tcase_add_test(tc, over_the_code_limit_a_login_still_takes_a_backup_code);
  tcase_add_test(tc, a_full_quota_table_makes_room);
  tcase_add_test(tc, reset_and_verify_requests_commit_either_way);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(lifecycle_suite);
