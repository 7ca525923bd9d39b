// A store written by the services as they were before issue 13
// (tests/unit/fixtures/store-v1.*, made by fixtures/make_store_v1.cc) opens
// with today's store; every record decodes with the typed records and
// writes back the same bytes; and what it was left in the middle of goes
// on: logins, a refresh, a pending TOTP and e-mail second factor, backup
// codes, a reset and a verification link, provider identities, a lockout,
// a disabled and an erased account, the module's reader and the sweeper.
#include <sys/stat.h>

#include <fstream>

#include "authd/auth_service.h"
#include "authd/crypto.h"
#include "authd/passwords.h"
#include "authd/records/audit.h"
#include "authd/records/links.h"
#include "authd/records/lockout.h"
#include "authd/records/mfa_pending.h"
#include "authd/records/oauth_state.h"
#include "authd/records/refresh_successor.h"
#include "authd/records/session_meta.h"
#include "authd/records/user.h"
#include "authd/refresh_rotation.h"
#include "authd/sweeper.h"
#include "authd/totp.h"
#include "core/base64url.h"
#include "core/session_reader.h"
#include "tests/unit/auth_world.h"
#include "tests/unit/session_user.h"
#include "tests/unit/store_tests.h"

using namespace spa::authd;
using json = nlohmann::json;
using Lookup = spa::core::SessionReader::Lookup;

namespace {

// The fixture loaded into a fresh directory, opened by this world's store,
// with the MFA key it was written under.
struct V1World : test::AuthWorld {
  json known;
  std::string path;

  V1World() {
    std::ifstream in("fixtures/store-v1.secrets.json");  // `make unit` runs in tests/unit
    ck_assert_msg(in.good(), "no fixtures/store-v1.secrets.json here: run from tests/unit");
    known = json::parse(in);
    // A TOTP step after the one spent at enabling; every link, pending
    // login and lockout of the fixture is still live.
    now = known["now"].get<int64_t>() + 31;
    path = dir + "/v1";
    ck_assert(::mkdir(path.c_str(), 0750) == 0);
    std::string load = "mdb_load -f fixtures/store-v1.dump " + path + " 2>" + dir + "/mdb_load.log";
    ck_assert_msg(std::system(load.c_str()) == 0, "%s", load.c_str());
    std::string err;
    ck_assert_msg(lmdb.open(path, err), "%s", err.c_str());
    const std::string mfa_key(32, '\x42');
    std::string key_hex = hex(mfa_key);
    ck_assert(known["mfa_key_hex"] == key_hex);
    // The services of the day, over this store (AuthWorld builds them the same way).
    service = std::make_unique<AuthService>(config, store, *keys, hasher, [this] { return clock(); }, mfa_key);
    service->set_mailer(&mail);
  }

  std::string password(const std::string& name) const { return name + " password!"; }
  Principal principal(const Outcome& o) {
    ck_assert_msg(o.ok() && o.tokens, "%s", o.code.c_str());
    std::string why;
    auto who = service->authenticate(o.tokens->access_token, why);
    ck_assert_msg(who.has_value(), "%s", why.c_str());
    return *who;
  }
  Outcome login(const std::string& name) { return service->login(name + "@example.com", password(name), client); }
  std::optional<RefreshRecord> refresh_record(const std::string& token) {
    std::optional<RefreshRecord> r;
    std::string err;
    ck_assert(store.view([&](const Store::Txn& t) {
      if (auto text = t.get(Db::kRefresh, sha256(token))) r = RefreshRecord::from_json(*text);
    }).ok());
    return r;
  }
  Lookup module_view_of(const std::string& sid) {
    spa::core::SessionReader reader;
    std::string err;
    ck_assert_msg(reader.open(path, err), "%s", err.c_str());
    return reader.check(sid, session_user(store, sid), now, std::nullopt, err);
  }
  size_t count(Db db) {
    size_t n = 0;
    std::string err;
    store.view([&](const Store::Txn& t) { t.scan(db, "", [&](std::string_view, std::string_view) { return ++n, true; }); });
    return n;
  }
};

// Decodes every value of `db` as R, and checks it writes back the same bytes.
template <class R>
size_t decode_all(const Store::Txn& t, Db db) {
  size_t n = 0;
  t.scan(db, "", [&](std::string_view key, std::string_view value) {
    auto r = R::from_json(value);
    std::string text(value), shown = spa::authd::hex(key);
    ck_assert_msg(r.has_value(), "%s %s does not decode: %s", db_name(db), shown.c_str(), text.c_str());
    std::string again = r->to_json();
    ck_assert_msg(again == text, "%s %s wrote back\n%s\nfor\n%s", db_name(db), shown.c_str(), again.c_str(),
                  text.c_str());
    return ++n, true;
  });
  return n;
}

}  // namespace

START_TEST(every_record_of_a_v1_store_decodes_and_writes_back_the_same_bytes) {
  V1World w;
  std::string err;
  std::map<Db, size_t> decoded;
  std::vector<UserRecord> users;
  Error e = w.store.view([&](const Store::Txn& t) {
    decoded[Db::kUsers] = decode_all<UserRecord>(t, Db::kUsers);
    decoded[Db::kSessionMeta] = decode_all<SessionMetaRecord>(t, Db::kSessionMeta);
    decoded[Db::kRefresh] = decode_all<RefreshRecord>(t, Db::kRefresh);
    decoded[Db::kAudit] = decode_all<AuditRecord>(t, Db::kAudit);
    decoded[Db::kMfaPending] = decode_all<MfaPendingRecord>(t, Db::kMfaPending);
    decoded[Db::kResetTokens] = decode_all<ResetLinkRecord>(t, Db::kResetTokens);
    decoded[Db::kVerifyTokens] = decode_all<VerifyLinkRecord>(t, Db::kVerifyTokens);
    decoded[Db::kLockouts] = decode_all<LockoutRecord>(t, Db::kLockouts);
    decoded[Db::kOAuthStates] = decode_all<OAuthStateRecord>(t, Db::kOAuthStates);
    t.scan(Db::kSessions, "", [&](std::string_view, std::string_view v) {
      auto rec = spa::core::SessionRecord::decode(v);
      ck_assert(rec.has_value() && rec->encode() == v);
      return ++decoded[Db::kSessions], true;
    });
    t.scan(Db::kUsers, "", [&](std::string_view, std::string_view v) {
      users.push_back(*UserRecord::from_json(v));
      return true;
    });
    // The indexes point at users that exist.
    for (Db index : {Db::kUsersByEmail, Db::kUsersByName, Db::kIdentities})
      t.scan(index, "", [&](std::string_view k, std::string_view v) {
        std::string key(k);
        ck_assert_msg(t.get(Db::kUsers, v).has_value(), "%s %s points nowhere", db_name(index), key.c_str());
        return ++decoded[index], true;
      });
  });
  ck_assert_msg(e.ok(), "%s", e.message.c_str());
  for (const auto& [db, n] : decoded) ck_assert_msg(n > 0, "the fixture has no %s", db_name(db));
  // Every shape of the user record the services make is in there.
  auto has = [&](const std::function<bool(const UserRecord&)>& shape) {
    return std::any_of(users.begin(), users.end(), shape);
  };
  ck_assert(has([](const UserRecord& u) { return u.mfa_enabled() && !u.mfa->email_method() && u.mfa->last_step; }));
  ck_assert(has([](const UserRecord& u) { return u.mfa_enabled() && u.mfa->email_method() && u.mfa->email_code; }));
  ck_assert(has([](const UserRecord& u) { return u.mfa && !u.mfa->enabled && u.mfa->pending; }));
  ck_assert(has([](const UserRecord& u) { return u.mfa && !u.mfa->enabled && u.mfa->email_method(); }));
  ck_assert(has([](const UserRecord& u) { return u.identities && u.password.empty(); }));
  ck_assert(has([](const UserRecord& u) { return u.identities && !u.password.empty(); }));
  ck_assert(has([](const UserRecord& u) { return u.disabled && u.epoch() == 1; }));
  ck_assert(has([](const UserRecord& u) { return !u.verified() && u.unverified_erase_at; }));

  // What is sealed inside records opens with what its holder kept.
  json oauth = w.known["oauth"];
  std::string state = oauth["state"], binding = oauth["binding"], raw;
  ck_assert(spa::core::base64url_decode(state, raw) && raw.size() == 32);
  std::string state_key = raw.substr(0, 8) + sha256(state);
  std::optional<OAuthStateSecrets> secrets;
  w.store.view([&](const Store::Txn& t) {
    auto record = OAuthStateRecord::from_json(*t.get(Db::kOAuthStates, state_key));
    std::string box;
    ck_assert(record && record->provider == "corp" && spa::core::base64url_decode(record->box, box));
    auto opened = open_sealed(hkdf_sha256(binding, "spa-auth oauth state v1"), box, state_key);
    ck_assert(opened.has_value());
    secrets = OAuthStateSecrets::from_json(*opened);
  });
  ck_assert(secrets && secrets->nonce == oauth["nonce"] && secrets->redirect_to == "/after-login" &&
            secrets->link_user.empty());
  std::string spent = w.known["alice"]["spent_refresh_token"];
  auto rotated = w.refresh_record(spent);
  std::string box;
  ck_assert(rotated && rotated->rotated_at != 0 && spa::core::base64url_decode(rotated->successor_box, box));
  auto pair = open_sealed(hkdf_sha256(spent, "spa-auth refresh successor v1"), box, sha256(spent));
  ck_assert(pair.has_value());
  auto successor = RefreshSuccessor::from_json(*pair);
  ck_assert(successor && successor->refresh_token == w.known["alice"]["refresh_token"] && successor->expires_at);
}
END_TEST

START_TEST(a_v1_store_goes_on_where_it_was_left) {
  V1World w;
  // alice: her password, her refresh token, her export, her provider.
  Principal alice = w.principal(w.login("alice"));
  std::string token = w.known["alice"]["refresh_token"];
  auto before = w.refresh_record(token);
  ck_assert(before.has_value());
  Outcome refreshed = w.service->refresh(token, w.client);
  ck_assert_msg(refreshed.ok() && refreshed.tokens, "%s", refreshed.code.c_str());
  ck_assert(w.module_view_of(before->sid) == Lookup::kValid);
  Outcome exported = w.service->export_data(alice);
  ck_assert(exported.ok() && exported.data["events"].size() > 0 && exported.data["account"]["identities"].size() == 1);
  Outcome by_provider = w.service->oauth_sign_in({"corp", "subject-alice", "alice@corp.example.com", true, "alice"}, w.client);
  ck_assert(w.principal(by_provider).user_id == alice.user_id);

  // bob: the login left waiting takes the TOTP code; the next one a backup code.
  std::string secret = *totp::from_base32(w.known["bob"]["totp_secret_base32"].get<std::string>());
  Outcome bob = w.service->mfa_verify(w.known["bob"]["mfa_token"], totp::generate(secret, w.now), false, w.client);
  ck_assert_msg(bob.ok() && bob.tokens, "%s", bob.code.c_str());
  Outcome again = w.login("bob");
  ck_assert(again.data["mfa_required"] == true);
  Outcome backup = w.service->mfa_verify(again.data["mfa_token"], w.known["bob"]["backup_codes"][3], true, w.client);
  ck_assert_msg(backup.ok() && backup.data["backup_codes_remaining"] == 9, "%s", backup.code.c_str());

  // gina: the mailed login code, then the action code kept in her record.
  Outcome gina = w.service->mfa_verify(w.known["gina"]["mfa_token"], w.known["gina"]["login_code"], false, w.client);
  Principal gina_who = w.principal(gina);
  Outcome reauth = w.service->reauthenticate(gina_who, "", w.known["gina"]["action_code"], false, w.client);
  ck_assert_msg(reauth.ok(), "%s", reauth.code.c_str());

  // carol: the reset link; dave: the verification link.
  ck_assert(w.service->password_reset_confirm(w.known["carol"]["reset_token"], "carol's new password", w.client).ok());
  ck_assert_int_eq(w.login("carol").status, 401);
  ck_assert(w.service->login("carol@example.com", "carol's new password", w.client).ok());
  ck_assert_int_eq(w.login("dave").status, 403);  // email_not_verified
  ck_assert(w.service->verify_email_confirm(w.known["dave"]["verify_token"], w.password("dave"), w.client).ok());
  ck_assert(w.login("dave").ok());

  // erin (made by a provider), henry (disabled), ivan (erased), the stranger (locked).
  Outcome erin = w.service->oauth_sign_in({"corp", "subject-erin", "erin@example.com", true, "erin"}, w.client);
  ck_assert(erin.ok() && erin.data["user"]["username"] == "erin");
  ck_assert_int_eq(w.login("henry").status, 403);
  ck_assert_int_eq(w.login("ivan").status, 401);
  Outcome locked = w.service->login(w.known["locked_email"], "whatever it is", w.client);
  ck_assert_int_eq(locked.status, 423);

  // alice's first refresh token was spent before the fixture was made: reuse ends its session.
  std::string spent = w.known["alice"]["spent_refresh_token"];
  ck_assert_int_eq(w.service->refresh(spent, w.client).status, 401);
  ck_assert(w.module_view_of(before->sid) == Lookup::kRevoked);

  // The sweeper, once everything of the fixture has expired: only the audit trail is left.
  w.now += w.config.refresh_ttl + w.config.access_ttl + Sweeper::kMaxLeeway + SessionIssuer::kLockoutMemory;
  Sweeper sweeper(w.store, SweepSettings{w.config.access_ttl, w.config.audit_retention});
  std::map<std::string, size_t> deleted;
  std::string err;
  ck_assert_msg(sweeper.sweep(w.now, deleted, err), "%s", err.c_str());
  for (Db db : {Db::kSessions, Db::kSessionMeta, Db::kRefresh, Db::kSessionRefresh, Db::kMfaPending, Db::kResetTokens,
                Db::kVerifyTokens, Db::kOAuthStates, Db::kLockouts, Db::kUserRecords})
    ck_assert_msg(w.count(db) == 0, "%s left after the sweep", db_name(db));
  ck_assert(w.count(Db::kAudit) > 0);
}
END_TEST

// The v1 store predates the unverified index (meta/indexes "1"): opening
// it builds the index from the users, and the accounts it names are still
// erased once due, through the index alone.
START_TEST(a_v1_store_gets_the_unverified_index_and_its_unverified_accounts_are_swept) {
  V1World w;
  std::vector<UserRecord> due;
  std::string indexes;
  size_t users = 0, entries = 0;
  Error e = w.store.view([&](const Store::Txn& t) {
    indexes = t.get(Db::kMeta, "indexes").value_or("");
    t.scan(Db::kUsers, "", [&](std::string_view, std::string_view v) {
      auto u = UserRecord::from_json(v);
      ck_assert(u.has_value());
      ++users;
      if (auto at = u->unverified_sweep_at()) {
        ck_assert_msg(t.get(Db::kUnverified, unverified_key(*at, u->id)).has_value(), "%s is not indexed", u->id.c_str());
        due.push_back(*u);
      }
      return true;
    });
    t.scan(Db::kUnverified, "", [&](std::string_view, std::string_view) { return ++entries, true; });
  });
  ck_assert_msg(e.ok(), "%s", e.message.c_str());
  ck_assert_str_eq(indexes.c_str(), "2");
  ck_assert_uint_gt(due.size(), 0);
  ck_assert_uint_eq(entries, due.size());
  // Not yet due: nothing goes.
  size_t erased = 0;
  std::string err;
  ck_assert_msg(w.service->sweep_unverified(w.now, erased, err), "%s", err.c_str());
  ck_assert_uint_eq(erased, 0);
  int64_t last = 0;
  for (const auto& u : due) last = std::max(last, *u.unverified_erase_at);
  w.now = last;
  ck_assert_msg(w.service->sweep_unverified(w.now, erased, err), "%s", err.c_str());
  ck_assert_uint_eq(erased, due.size());
  ck_assert_uint_eq(w.count(Db::kUsers), users - due.size());
  ck_assert_uint_eq(w.count(Db::kUnverified), 0);
  w.store.view([&](const Store::Txn& t) {
    for (const auto& u : due)
      ck_assert(!load_user(t, u.id) && !t.get(Db::kUsersByEmail, fold(u.email)) && !t.get(Db::kUsersByName, fold(u.username)));
  });
}
END_TEST

TCase* migration_tcase() {
  TCase* tc = tcase_create("migration");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, every_record_of_a_v1_store_decodes_and_writes_back_the_same_bytes);
  tcase_add_test(tc, a_v1_store_goes_on_where_it_was_left);
  tcase_add_test(tc, a_v1_store_gets_the_unverified_index_and_its_unverified_accounts_are_swept);
  return tc;
}
