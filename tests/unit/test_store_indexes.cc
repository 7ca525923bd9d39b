// The store's indexes: export and erasure go through them, a store from
// before them gets them at open, and the unverified index follows each
// account (the sweep of unproven accounts reads only it).
#include "authd/crypto.h"
#include "authd/lmdb_store.h"
#include "tests/unit/helpers.h"
#include "tests/unit/store_tests.h"
#include "tests/unit/store_world.h"

using namespace spa::authd;
using json = nlohmann::json;
using test::sid_of;
using test::World;

START_TEST(export_and_erasure_go_through_the_indexes) {
  World w;
  Outcome a = w.signup_and_login("alice");
  Outcome b = w.signup_and_login("bob");
  ck_assert(w.service->refresh(a.tokens->refresh_token, w.client).ok());
  Outcome ex = w.service->export_data(*w.who(a));
  ck_assert(ex.ok());
  ck_assert_uint_eq(ex.data["events"].size(), 3);  // signup, email_verified, login: only alice's
  // The events come from user_audit: without its entries, none are found.
  std::string err;
  std::vector<std::string> index;
  w.store.view([&](const Store::Txn& t) {
    t.scan(Db::kUserAudit, "", [&](std::string_view k, std::string_view) { return index.emplace_back(k), true; });
  });
  ck_assert(w.store.transact([&](Store::Txn& t) {
    for (const auto& k : index) t.del(Db::kUserAudit, k);
    return TxnEnd::kCommit;
  }).ok());
  ck_assert_uint_eq(w.service->export_data(*w.who(a)).data["events"].size(), 0);
  // Erasure deletes alice's refresh records (found by session) and nothing of bob's.
  size_t bob_refresh = 1;
  ck_assert_uint_eq(w.count(Db::kRefresh), 2 + bob_refresh);
  ck_assert(w.service->delete_account(*w.who(a), "alice password!", w.client).ok());
  ck_assert_uint_eq(w.count(Db::kRefresh), bob_refresh);
  ck_assert(w.has(Db::kRefresh, sha256(b.tokens->refresh_token)));
  ck_assert_uint_eq(w.count(Db::kSessionRefresh), bob_refresh);
}
END_TEST

// The unverified index follows the account: made at sign-up (under
// require_verified_email), moved by a new link, gone once the address is
// proven or the account erased; the sweep finds accounts through it only.
START_TEST(the_unverified_index_follows_the_account) {
  World w;
  auto entries = [&] {
    std::vector<std::pair<int64_t, std::string>> out;
    w.store.view([&](const Store::Txn& t) {
      t.scan(Db::kUnverified, "", [&](std::string_view k, std::string_view) {
        return out.emplace_back(unverified_due(k), std::string(k.substr(8))), true;
      });
    });
    return out;
  };
  ck_assert(w.service->signup("una@example.com", "una", "una password!", w.client).ok());
  std::string una_link = w.mail.token();
  ck_assert(w.service->signup("ugo@example.com", "ugo", "ugo password!", w.client).ok());
  w.signup_verified("vera@example.com", "vera", "vera password!");
  auto e = entries();
  ck_assert_uint_eq(e.size(), 2);
  ck_assert(e[0].first == w.now + AccountService::kUnverifiedTtl && e[1].first == e[0].first);
  // Proven: una's entry goes.
  ck_assert(w.service->verify_email_confirm(una_link, "una password!", w.client).ok());
  e = entries();
  ck_assert_uint_eq(e.size(), 1);
  std::string ugo_id = e[0].second;
  // A new link on day 3 moves the date (one entry, at its new place).
  w.now += 3 * 86400;
  ck_assert_int_eq(w.service->verify_email_request("ugo@example.com", w.client).status, 202);
  e = entries();
  ck_assert(e.size() == 1 && e[0].second == ugo_id && e[0].first == w.now + AccountService::kUnverifiedTtl);
  // Without its entry, an unverified account is not found by the sweep.
  std::vector<std::string> keys;
  w.store.view([&](const Store::Txn& t) {
    t.scan(Db::kUnverified, "", [&](std::string_view k, std::string_view) { return keys.emplace_back(k), true; });
  });
  ck_assert(w.store.transact([&](Store::Txn& t) { return commit_if(t.del(Db::kUnverified, keys.at(0))); }).ok());
  size_t erased = 0;
  std::string err;
  w.now += 30 * 86400;
  ck_assert(w.service->sweep_unverified(w.now, erased, err));
  ck_assert_uint_eq(erased, 0);
  // As a store from before the index (meta/indexes "1"): reopened, it is built again and the sweep erases.
  ck_assert(w.store.transact([&](Store::Txn& t) { return commit_if(t.put(Db::kMeta, "indexes", "1")); }).ok());
  ck_assert_msg(w.lmdb.open(w.dir + "/store", err), "%s", err.c_str());
  ck_assert_uint_eq(entries().size(), 1);
  ck_assert(w.service->sweep_unverified(w.now, erased, err));
  ck_assert_uint_eq(erased, 1);
  ck_assert(entries().empty() && !w.has(Db::kUsers, ugo_id));
  ck_assert(w.service->login("vera@example.com", "vera password!", w.client).ok());
  ck_assert(w.service->login("una@example.com", "una password!", w.client).ok());
}
END_TEST

START_TEST(an_existing_store_opens_and_gets_its_indexes) {
  World w;
  Outcome a = w.signup_and_login("alice");
  std::string err;
  // As a store written before the indexes: drop them and the marker.
  ck_assert(w.store.transact([&](Store::Txn& t) {
    for (Db db : {Db::kSessionRefresh, Db::kUserAudit, Db::kUserRecords}) {
      std::vector<std::string> keys;
      t.scan(db, "", [&](std::string_view k, std::string_view) { return keys.emplace_back(k), true; });
      for (const auto& k : keys) t.del(db, k);
    }
    json r = {{"user", a.data["user"]["id"]}, {"expires_at", w.now + 100}};
    return commit_if(t.put(Db::kResetTokens, "old-link", r.dump()) && t.del(Db::kMeta, "indexes"));
  }).ok());
  size_t events = w.count(Db::kAudit);
  LmdbStore again;
  ck_assert_msg(again.open(w.dir + "/store", err), "%s", err.c_str());
  size_t n = 0;
  again.view([&](const Store::Txn& t) {
    n += t.get(Db::kSessionRefresh, sid_of(a) + sha256(a.tokens->refresh_token)).has_value();
    n += t.get(Db::kUserRecords, user_record_index_key(Db::kResetTokens, a.data["user"]["id"], "old-link")).has_value();
    t.scan(Db::kUserAudit, "", [&](std::string_view, std::string_view) { return ++n, true; });
  });
  ck_assert_uint_eq(n, 2 + events);
}
END_TEST

TCase* indexes_tcase() {
  TCase* tc = tcase_create("indexes");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, export_and_erasure_go_through_the_indexes);
  tcase_add_test(tc, an_existing_store_opens_and_gets_its_indexes);
  tcase_add_test(tc, the_unverified_index_follows_the_account);
  return tc;
}
