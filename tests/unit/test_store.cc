// The store's lifecycle: a full store refuses what grows it but never a
// revocation; the sweeper deletes what nothing can use any more (fake
// clock), in bounded batches; and the module's reader survives killed workers, replaced, truncated and
// garbage files.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "authd/auth_service.h"
#include "authd/crypto.h"
#include "authd/mailer.h"
#include "authd/refresh_rotation.h"
#include "authd/sweeper.h"
#include "core/lmdb_handles.h"
#include "core/session_reader.h"
#include "tests/unit/auth_world.h"
#include "tests/unit/helpers.h"
#include "tests/unit/store_tests.h"
#include "tests/unit/store_world.h"

using namespace spa::authd;
using json = nlohmann::json;
using Lookup = spa::core::SessionReader::Lookup;
using test::sid_of;
using test::World;

// ---- a full store ---------------------------------------------------------

START_TEST(a_full_store_refuses_growth_but_every_revocation_lands) {
  World w(256 << 10);  // a tiny max_size: filled by a few hundred rotations
  w.config.admin_require_mfa = false;  // an administrator without a second factor
  auto& mail = w.mail;
  Outcome a = w.signup_and_login("alice");   // will log out
  Outcome b = w.signup_and_login("bob");     // will be revoked from another session
  Outcome b2 = w.service->login("bob@example.com", "bob password!", w.client);
  Outcome c = w.signup_and_login("carol");   // will be disabled by the admin
  Outcome d = w.signup_and_login("dave");    // will be caught reusing a refresh token
  Outcome e = w.signup_and_login("erin");    // will reset the password
  w.signup_verified("root@example.com", "root", "root password!");
  ck_assert(w.service->set_role("root@example.com", "admin").ok());
  Outcome admin = w.service->login("root@example.com", "root password!", w.client);
  ck_assert(w.service->password_reset_request("erin@example.com", w.client).ok());
  std::string reset_token = mail.token();
  std::string dave_first = d.tokens->refresh_token;
  Outcome d1 = w.service->refresh(dave_first, w.client);
  ck_assert(d1.ok());
  w.now += 60;  // past the grace window: dave_first is spent

  // Fill: rotate a session until the store says it is full.
  std::string rt = admin.tokens->refresh_token;
  Outcome full;
  for (int i = 0; i < 20000; ++i) {
    full = w.service->refresh(rt, w.client);
    if (!full.ok()) break;
    rt = full.tokens->refresh_token;
  }
  ck_assert_int_eq(full.status, 503);
  ck_assert_str_eq(full.code.c_str(), "store_full");
  Store::Usage u = w.store.usage();
  ck_assert(u.used_bytes > u.max_bytes);

  // What grows the store is refused with a clear answer...
  Outcome login = w.service->login("bob@example.com", "bob password!", w.client);
  ck_assert_int_eq(login.status, 503);
  ck_assert_str_eq(login.code.c_str(), "store_full");
  Outcome signup = w.service->signup("frank@example.com", "frank", "frank password!", w.client);
  ck_assert_int_eq(signup.status, 503);
  ck_assert_str_eq(signup.code.c_str(), "store_full");

  // ...every revocation still takes effect, for authd and for the module.
  ck_assert(w.service->logout(w.who(a), "", w.client).ok());
  ck_assert(!w.who(a));
  ck_assert(w.module_view(sid_of(a), w.now) == Lookup::kRevoked);
  // Repeated logouts add nothing (the audit event goes to the log when full).
  for (int i = 0; i < 300; ++i) w.service->logout(std::nullopt, a.tokens->refresh_token, w.client);
  ck_assert(w.service->revoke_session(*w.who(b2), sid_of(b), w.client).ok());
  ck_assert(w.module_view(sid_of(b), w.now) == Lookup::kRevoked);
  ck_assert(w.service->admin_update_user(*w.who(admin), c.data["user"]["id"], {{"disabled", true}}, w.client).ok());
  ck_assert(w.module_view(sid_of(c), w.now) == Lookup::kRevoked);
  Outcome reuse = w.service->refresh(dave_first, w.client);
  ck_assert_int_eq(reuse.status, 401);
  ck_assert(w.module_view(sid_of(d), w.now) == Lookup::kRevoked);
  ck_assert(w.service->password_reset_confirm(reset_token, "a brand new password", w.client).ok());
  ck_assert(w.module_view(sid_of(e), w.now) == Lookup::kRevoked);
  ck_assert(w.service->delete_account(*w.who(b2), "bob password!", w.client).ok());

  // Once the sweeper frees room, logins work again.
  w.now += w.config.refresh_ttl + w.config.access_ttl + Sweeper::kMaxLeeway + 1;
  w.sweep(w.now);
  ck_assert(w.store.usage().used_bytes < u.max_bytes);
  ck_assert(w.service->login("carol@example.com", "carol password!", w.client).status == 403);  // disabled, not full
  ck_assert(w.service->login("dave@example.com", "dave password!", w.client).ok());
}
END_TEST

START_TEST(the_size_warning_is_said_once_per_crossing) {
  std::atomic<bool> warned{false};
  ck_assert(!crossed_warning(warned, 79, 100));
  ck_assert(crossed_warning(warned, 80, 100));
  ck_assert(!crossed_warning(warned, 95, 100));
  ck_assert(!crossed_warning(warned, 78, 100));  // not yet re-armed
  ck_assert(!crossed_warning(warned, 81, 100));
  ck_assert(!crossed_warning(warned, 74, 100));  // re-armed
  ck_assert(crossed_warning(warned, 85, 100));
  ck_assert(!crossed_warning(warned, 5, 0));
}
END_TEST

// ---- the sweeper ----------------------------------------------------------

START_TEST(the_sweeper_deletes_only_what_nothing_can_use) {
  World w;
  Outcome kept = w.signup_and_login("alice");
  Outcome ended = w.service->login("alice@example.com", "alice password!", w.client);
  std::string uid = kept.data["user"]["id"];
  int64_t t0 = w.now;
  ck_assert(w.service->logout(w.who(ended), "", w.client).ok());
  ck_assert(w.service->password_reset_request("alice@example.com", w.client).ok());
  std::string err;
  // An OAuth state that expires at t0 + 600 and one at t0 + 6000.
  auto be64 = [](int64_t v) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((static_cast<uint64_t>(v) >> (56 - 8 * i)) & 0xff);
    return s;
  };
  ck_assert(w.store.transact([&](Store::Txn& t) {
    return commit_if(t.put(Db::kOAuthStates, be64(t0 + 600) + "aaaa", "{}") && t.put(Db::kOAuthStates, be64(t0 + 6000) + "bbbb", "{}"));
  }).ok());
  size_t reset_links = w.count(Db::kResetTokens);
  ck_assert_uint_eq(reset_links, 1);

  // Right now nothing is swept.
  ck_assert(w.sweep(t0).empty());
  // The revoked session stays while one of its access tokens could pass
  // (access_ttl plus the module's largest leeway)...
  const int64_t window = w.config.access_ttl + Sweeper::kMaxLeeway;
  w.sweep(t0 + window - 1);
  ck_assert(w.has(Db::kSessions, sid_of(ended)));
  // ...then goes, with its metadata, index entry and refresh records.
  auto deleted = w.sweep(t0 + window);
  ck_assert_uint_eq(deleted["sessions"], 1);
  ck_assert(!w.has(Db::kSessions, sid_of(ended)));
  ck_assert(!w.has(Db::kSessionMeta, sid_of(ended)));
  ck_assert(!w.has(Db::kUserSessions, uid + ":" + sid_of(ended)));
  ck_assert(!w.has(Db::kRefresh, sha256(ended.tokens->refresh_token)));
  ck_assert(w.module_view(sid_of(ended), t0 + window) == Lookup::kUnknown);  // refused: fail closed
  // The active session is untouched; the 30-minute reset link and the first OAuth state are gone.
  ck_assert(w.has(Db::kSessions, sid_of(kept)));
  ck_assert(w.module_view(sid_of(kept), t0 + window) == Lookup::kValid);
  ck_assert_uint_eq(w.count(Db::kOAuthStates), 1);  // the expired one

  ck_assert_uint_eq(w.count(Db::kResetTokens), 1);
  deleted = w.sweep(t0 + CredentialService::kResetTokenTtl);
  ck_assert_uint_eq(deleted["reset_tokens"], 1);
  ck_assert_uint_eq(w.count(Db::kResetTokens), 0);
  ck_assert_uint_eq(w.count(Db::kUserRecords), 0);

  // An active session lives until its end, plus the access window.
  int64_t end = t0 + w.config.refresh_ttl;
  w.sweep(end + window - 1);
  ck_assert(w.has(Db::kSessions, sid_of(kept)));
  ck_assert(!w.has(Db::kRefresh, sha256(kept.tokens->refresh_token)));  // expired at `end`
  w.sweep(end + window);
  ck_assert(!w.has(Db::kSessions, sid_of(kept)));
  ck_assert_uint_eq(w.count(Db::kSessionRefresh), 0);

  // Audit events go after audit_retention, with their index entries.
  size_t events = w.count(Db::kAudit);
  ck_assert(events > 0 && w.count(Db::kUserAudit) == events);
  w.sweep(t0 + w.config.audit_retention - 1);
  ck_assert_uint_eq(w.count(Db::kAudit), events);
  w.sweep(t0 + w.config.audit_retention + 1);
  ck_assert_uint_eq(w.count(Db::kAudit), 0);
  ck_assert_uint_eq(w.count(Db::kUserAudit), 0);
}
END_TEST

START_TEST(the_sweeper_works_in_bounded_batches_and_cleans_dangling_index_entries) {
  World w;
  std::string err;
  const size_t n = Sweeper::kBatch * 2 + 17;
  for (size_t i = 0; i < n; ++i)
    ck_assert(w.store.transact([&](Store::Txn& t) {
      json r = {{"user", "0123456789abcdef0123456789abcdef"}, {"expires_at", w.now + (i % 2 ? 10 : 100000)}};
      return commit_if(put_user_record(t, Db::kResetTokens, sha256(std::to_string(i)), "0123456789abcdef0123456789abcdef", r.dump()));
    }).ok());
  // An index entry whose record was deleted without it (as mfa_verify does).
  ck_assert(w.store.transact([&](Store::Txn& t) {
    return commit_if(put_user_record(t, Db::kMfaPending, "k", "0123456789abcdef0123456789abcdef", "{}") && t.del(Db::kMfaPending, "k"));
  }).ok());
  ck_assert_uint_eq(w.count(Db::kUserRecords), n + 1);
  auto deleted = w.sweep(w.now + 11);
  ck_assert_uint_eq(deleted["reset_tokens"], n / 2);
  ck_assert_uint_eq(w.count(Db::kResetTokens), n - n / 2);
  ck_assert_uint_eq(w.count(Db::kUserRecords), n - n / 2);
}
END_TEST

START_TEST(authd_writes_nothing_into_a_replaced_file) {
  World w;
  Outcome a = w.signup_and_login("alice");
  auto who = w.who(a);
  // A restore while spa-authd runs: its writes would land in the deleted inode.
  ck_assert(std::system(("cp " + w.dir + "/store/data.mdb " + w.dir + "/copy.mdb && mv " + w.dir + "/copy.mdb " +
                         w.dir + "/store/data.mdb").c_str()) == 0);
  Outcome out = w.service->logout(who, "", w.client);
  ck_assert_int_eq(out.status, 503);
  ck_assert_str_eq(out.code.c_str(), "store_unavailable");
  ck_assert_int_eq(w.service->login("alice@example.com", "alice password!", w.client).status, 503);
}
END_TEST

// ---- the module's reader and the file ---------------------------------------

namespace {

// The user id of records that set none, as a token's `sub` names it.
const std::string kNobody(32, '0');

// A store with one active session "s1" and one revoked "s2", written by a
// bare environment whose lock file allows `readers` readers.
std::string make_store(const std::string& dir, unsigned readers, int writes = 1) {
  std::string err;
  spa::core::LmdbEnv env;
  ck_assert_msg(env.open(dir, 0, 16, 1 << 20, 0640, err, readers), "%s", err.c_str());
  for (int i = 0; i < writes; ++i) {
    spa::core::LmdbTxn txn;
    ck_assert(txn.begin(env.get(), 0) == 0);
    MDB_dbi dbi;
    ck_assert(mdb_dbi_open(txn.get(), spa::core::kSessionsDb, MDB_CREATE, &dbi) == 0);
    spa::core::SessionRecord r;
    r.expires_at = 2000;
    std::string active = r.encode();
    r.state = spa::core::SessionState::kRevoked;
    std::string revoked = r.encode();
    MDB_val k1 = spa::core::mdb_val("s1"), v1 = spa::core::mdb_val(active);
    MDB_val k2 = spa::core::mdb_val("s2"), v2 = spa::core::mdb_val(revoked);
    ck_assert(mdb_put(txn.get(), dbi, &k1, &v1, 0) == 0 && mdb_put(txn.get(), dbi, &k2, &v2, 0) == 0);
    ck_assert(txn.commit() == 0);
  }
  return dir;
}

using Dir = test::StoreDir;

void write_bytes(const std::string& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
}

}  // namespace

START_TEST(the_reader_clears_slots_of_killed_readers) {
  Dir d;
  make_store(d.path, 4);
  std::string err;
  spa::core::SessionReader survivor;  // opened, holding no slot yet
  ck_assert(survivor.open(d.path, err));
  // Four readers take every slot and are killed while holding them.
  for (int i = 0; i < 4; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      spa::core::LmdbEnv env;
      std::string e;
      MDB_txn* txn = nullptr;
      if (env.open(d.path, MDB_RDONLY, 16, 0, 0, e)) mdb_txn_begin(env.get(), nullptr, MDB_RDONLY, &txn);
      raise(SIGKILL);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ck_assert(WIFSIGNALED(status));
  }
  // The table is full of dead readers: the lookup clears them and retries.
  ck_assert_msg(survivor.check("s1", kNobody, 1000, std::nullopt, err) == Lookup::kValid, "%s", err.c_str());
  // A reader opened now clears them at open, too.
  for (int i = 0; i < 4; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      spa::core::SessionReader r;
      std::string e;
      r.open(d.path, e);
      r.check("s1", kNobody, 1000, std::nullopt, e);
      raise(SIGKILL);
    }
    waitpid(pid, nullptr, 0);
  }
  spa::core::SessionReader fresh;
  ck_assert(fresh.open(d.path, err));
  ck_assert(fresh.check("s2", kNobody, 1000, std::nullopt, err) == Lookup::kRevoked);
}
END_TEST

// The mirror's files replaced under running workers: a damaged data file
// renamed over it, then made afresh by spa-authd (a new data file and lock
// file): the workers follow within a second, reading what authd wrote after.
START_TEST(the_reader_follows_a_mirror_made_afresh) {
  Dir d;
  std::string err;
  auto store = std::make_unique<LmdbStore>();
  ck_assert(store->open(d.path, err));
  spa::core::SessionRecord r;
  r.expires_at = 2000;
  for (int i = 0; i < 30; ++i)  // many commits: the lock's transaction id is far from a fresh file's
    ck_assert(store->transact([&](Store::Txn& t) { return commit_if(t.put(Db::kSessions, "s1", r.encode())); }).ok());
  store.reset();
  spa::core::SessionReader reader;
  ck_assert(reader.open(d.path, err));
  reader.refresh(1);
  ck_assert(reader.check("s1", kNobody, 1000, std::nullopt, err) == Lookup::kValid);
  // Another worker keeps the lock file open all along.
  int ready[2], done[2];
  ck_assert(pipe(ready) == 0 && pipe(done) == 0);
  pid_t other = fork();
  if (other == 0) {
    spa::core::SessionReader w;
    std::string e;
    w.open(d.path, e);
    w.check("s1", kNobody, 1000, std::nullopt, e);
    char c = 1;
    close(done[1]);
    if (write(ready[1], &c, 1) != 1) _exit(1);
    while (read(done[0], &c, 1) > 0) {}
    _exit(0);
  }
  char c;
  close(done[0]);
  ck_assert(read(ready[0], &c, 1) == 1);
  write_bytes(d.path + "/new.mdb", std::string(3 * 4096, 'x'));
  ck_assert(::rename((d.path + "/new.mdb").c_str(), (d.path + "/data.mdb").c_str()) == 0);
  reader.refresh(2);
  ck_assert(reader.check("s1", kNobody, 1000, std::nullopt, err) == Lookup::kError);
  // spa-authd starts: the mirror made afresh from the store, then a revocation.
  store = std::make_unique<LmdbStore>();
  ck_assert_msg(store->open(d.path, err), "%s", err.c_str());
  r.state = spa::core::SessionState::kRevoked;
  ck_assert(store->transact([&](Store::Txn& t) { return commit_if(t.put(Db::kSessions, "s1", r.encode())); }).ok());
  reader.refresh(3);
  ck_assert_msg(reader.check("s1", kNobody, 1000, std::nullopt, err) == Lookup::kRevoked, "%s", reader.unavailable_reason().c_str());
  ck_assert(reader.available());
  close(done[1]);
  waitpid(other, nullptr, 0);
}
END_TEST

START_TEST(the_reader_refuses_truncated_and_garbage_files_without_faulting) {
  Dir d;
  std::string err;
  {
    LmdbStore store;
    ck_assert(store.open(d.path, err));
  }
  make_store(d.path, 512, 3);
  spa::core::SessionReader reader;
  ck_assert(reader.open(d.path, err));
  ck_assert(reader.check("s1", kNobody, 1000, std::nullopt, err) == Lookup::kValid);
  std::string data;
  {
    std::ifstream in(d.path + "/data.mdb", std::ios::binary);
    data.assign(std::istreambuf_iterator<char>(in), {});
  }
  ck_assert(data.size() > 4 * 4096);
  // Truncated in place, below its last page: noticed before the next read.
  ck_assert(::truncate((d.path + "/data.mdb").c_str(), 3 * 4096) == 0);
  reader.refresh(1);
  ck_assert(reader.check("s1", kNobody, 1000, std::nullopt, err) == Lookup::kError);
  ck_assert(reader.unavailable_reason().find("truncated") != std::string::npos);
  // Replaced by a stub, by garbage, by nothing: unavailable, never a crash.
  int64_t now = 2;
  for (const std::string& bytes : {data.substr(0, 100), std::string(64 << 10, '\x5a'), std::string()}) {
    write_bytes(d.path + "/new.mdb", bytes);
    ck_assert(::rename((d.path + "/new.mdb").c_str(), (d.path + "/data.mdb").c_str()) == 0);
    reader.refresh(now++);
    ck_assert(reader.check("s1", kNobody, 1000, std::nullopt, err) == Lookup::kError);
    spa::core::SessionReader fresh;
    ck_assert(!fresh.open(d.path, err));
    ck_assert(fresh.check("s1", kNobody, 1000, std::nullopt, err) == Lookup::kError);
  }
  // Put back whole: readable again at the next refresh.
  write_bytes(d.path + "/new.mdb", data);
  ck_assert(::rename((d.path + "/new.mdb").c_str(), (d.path + "/data.mdb").c_str()) == 0);
  reader.refresh(now++);
  ck_assert_msg(reader.check("s1", kNobody, 1000, std::nullopt, err) == Lookup::kValid, "%s", reader.unavailable_reason().c_str());
}
END_TEST

Suite* store_suite() {
  Suite* s = suite_create("store");
  TCase* tc = tcase_create("store");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, a_full_store_refuses_growth_but_every_revocation_lands);
  tcase_add_test(tc, the_size_warning_is_said_once_per_crossing);
  tcase_add_test(tc, the_sweeper_deletes_only_what_nothing_can_use);
  tcase_add_test(tc, the_sweeper_works_in_bounded_batches_and_cleans_dangling_index_entries);
  tcase_add_test(tc, authd_writes_nothing_into_a_replaced_file);
  tcase_add_test(tc, the_reader_clears_slots_of_killed_readers);
  tcase_add_test(tc, the_reader_follows_a_mirror_made_afresh);
  tcase_add_test(tc, the_reader_refuses_truncated_and_garbage_files_without_faulting);
  suite_add_tcase(s, tc);
  suite_add_tcase(s, indexes_tcase());
  suite_add_tcase(s, interface_tcase());
  suite_add_tcase(s, records_tcase());
  suite_add_tcase(s, migration_tcase());
  return s;
}

REGISTER_SUITE(store_suite);
