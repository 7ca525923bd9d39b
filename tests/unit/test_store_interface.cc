// The Store interface as its callers see it, on the LMDB backend:
// transact() commits what fn decides and nothing after a failed call (the
// first failure is the answer); an ordinary write past max_size is refused
// before it runs, a revocation runs told not to grow; a replaced data file
// takes no write; scans go by value; typed records through get_record and
// put_record.
#include <cstdlib>

#include "authd/lmdb_store.h"
#include "tests/unit/store_tests.h"

using namespace spa::authd;

START_TEST(transact_commits_what_fn_decides_and_nothing_after_a_failure) {
  test::StoreDir d;
  LmdbStore store;
  std::string err;
  ck_assert_msg(store.open(d.path, err), "%s", err.c_str());
  auto put = [&](const char* key, TxnEnd end) {
    return store.transact([&](Store::Txn& t) { return t.put(Db::kUsers, key, "{}") ? end : TxnEnd::kAbort; });
  };
  ck_assert(put("u1", TxnEnd::kCommit).ok());
  ck_assert(put("u2", TxnEnd::kAbort).ok());  // dropped, and not an error
  // A failed call drops everything, whatever fn answers; the first failure is the result.
  Error e = store.transact([](Store::Txn& t) {
    t.put(Db::kUsers, "u3", "{}");
    t.put(Db::kUsers, "", "{}");
    t.refuse_full();
    return TxnEnd::kCommit;
  });
  ck_assert(e.code == Errc::kStoreFailed && e.message == "put: unusable key");
  e = store.transact([](Store::Txn& t) {
    t.put(Db::kUsers, "u4", "{}");
    t.refuse_full();
    return TxnEnd::kCommit;
  });
  ck_assert(e.code == Errc::kStoreFull && e.message == "store_full");
  e = store.view([](const Store::Txn& t) {
    ck_assert(t.get(Db::kUsers, "u1") && !t.get(Db::kUsers, "u2") && !t.get(Db::kUsers, "u3") && !t.get(Db::kUsers, "u4"));
    ck_assert(!t.get(Db::kUsers, std::string(kMaxKeyBytes + 1, 'a')));  // cannot exist: no failure
    ck_assert(t.error().ok());
  });
  ck_assert(e.ok());
  // Scans go by value: a prefix, or from a key on.
  ck_assert(store.transact([](Store::Txn& t) {
    bool ok = t.put(Db::kUserSessions, "a:1", "") && t.put(Db::kUserSessions, "a:2", "") && t.put(Db::kUserSessions, "b:1", "");
    return ok ? TxnEnd::kCommit : TxnEnd::kAbort;
  }).ok());
  std::vector<std::string> prefixed, from;
  store.view([&](const Store::Txn& t) {
    t.scan(Db::kUserSessions, "a:", [&](std::string_view k, std::string_view) { return prefixed.emplace_back(k), true; });
    t.scan_from(Db::kUserSessions, "a:2", [&](std::string_view k, std::string_view) { return from.emplace_back(k), true; });
  });
  ck_assert(prefixed == std::vector<std::string>({"a:1", "a:2"}));
  ck_assert(from == std::vector<std::string>({"a:2", "b:1"}));
}
END_TEST

START_TEST(transact_refuses_ordinary_writes_past_max_size_before_they_run) {
  test::StoreDir d;
  LmdbStore store;
  std::string err;
  ck_assert_msg(store.open(d.path, err, 256 << 10), "%s", err.c_str());
  const std::string big(16 << 10, 'x');
  Error e;
  for (int i = 0; i < 1000 && e.ok(); ++i)
    e = store.transact([&](Store::Txn& t) { return t.put(Db::kAudit, std::to_string(i), big) ? TxnEnd::kCommit : TxnEnd::kAbort; });
  ck_assert(e.code == Errc::kStoreFull);
  bool ran = false, over = false;
  e = store.transact([&](Store::Txn&) { return ran = true, TxnEnd::kCommit; });
  ck_assert(e.code == Errc::kStoreFull && !ran);
  // A revocation runs, told to grow nothing.
  e = store.transact([&](Store::Txn& t) {
    ran = true;
    over = t.over_limit();
    return t.del(Db::kAudit, "0") ? TxnEnd::kCommit : TxnEnd::kAbort;
  }, Store::WriteKind::kRevocation);
  ck_assert(e.ok() && ran && over);
  // The data file replaced underneath: nothing is written, of any kind.
  ck_assert(std::system(("cp " + d.path + "/data.mdb " + d.path + "/copy.mdb && mv " + d.path + "/copy.mdb " + d.path +
                         "/data.mdb").c_str()) == 0);
  e = store.transact([](Store::Txn&) { return TxnEnd::kCommit; }, Store::WriteKind::kRevocation);
  ck_assert(e.code == Errc::kStoreReplaced && e.message == "store_replaced");
}
END_TEST

TCase* interface_tcase() {
  TCase* tc = tcase_create("interface");
  tcase_add_test(tc, transact_commits_what_fn_decides_and_nothing_after_a_failure);
  tcase_add_test(tc, transact_refuses_ordinary_writes_past_max_size_before_they_run);
  return tc;
}
