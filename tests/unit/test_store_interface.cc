// The Store interface as its callers see it, on the LMDB backend:
// transact() commits what fn decides and nothing after a failed call (the
// first failure is the answer); an ordinary write past max_size is refused
// before it runs, a revocation runs told not to grow; a replaced data file
// takes no write; scans go by value; typed records through get_record and
// put_record. Writes that arrive together share one commit (the group
// commit), each keeping its own answer.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <optional>

#include "authd/lmdb_store.h"
#include "core/lmdb_handles.h"
#include "core/session_reader.h"
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
  const std::string own = LmdbStore::default_private_path(d.path);
  ck_assert(std::system(("cp " + own + "/data.mdb " + own + "/copy.mdb && mv " + own + "/copy.mdb " + own +
                         "/data.mdb").c_str()) == 0);
  e = store.transact([](Store::Txn&) { return TxnEnd::kCommit; }, Store::WriteKind::kRevocation);
  ck_assert(e.code == Errc::kStoreReplaced && e.message == "store_replaced");
}
END_TEST

// ---- the group commit --------------------------------------------------------

// A metric of the store's /metrics text.
uint64_t store_metric(const LmdbStore& store, const std::string& name) {
  std::istringstream in(store.metrics());
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name + " ", 0) == 0) return std::stoull(line.substr(name.size() + 1));
  ck_abort_msg("no %s in the store's metrics", name.c_str());
  return 0;
}

struct Write {
  std::function<TxnEnd(Store::Txn&)> fn;
  Store::WriteKind kind = Store::WriteKind::kOrdinary;
  Error result;
  bool threw = false;
};

// Runs `writes` from a thread each, all queued behind one write that holds
// the store until every one of them waits: they are the next batch.
// `before_release` runs once they all wait; the answer is the holder's.
Error in_one_batch(LmdbStore& store, std::vector<Write>& writes, const std::function<void()>& before_release = {}) {
  std::mutex m;
  std::condition_variable cv;
  bool holding = false, release = false;
  Error held;
  std::thread holder([&] {
    held = store.transact([&](Store::Txn& t) {
      std::unique_lock lock(m);
      holding = true;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
      return commit_if(t.over_limit() || t.put(Db::kAudit, "held", ""));
    }, Store::WriteKind::kRevocation);  // a revocation: held in a full store too
  });
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return holding; });
  }
  std::vector<std::thread> threads;
  for (Write& w : writes)
    threads.emplace_back([&store, &w] {
      try {
        w.result = store.transact(w.fn, w.kind);
      } catch (const std::runtime_error&) {
        w.threw = true;
      }
    });
  // No timing: waits for the queue's length (bounded, so a broken queue fails instead of hanging).
  for (int i = 0; i < 60000 && store.queued_writes() < writes.size(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ck_assert_uint_eq(store.queued_writes(), writes.size());
  if (before_release) before_release();
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  holder.join();
  for (auto& t : threads) t.join();
  return held;
}

START_TEST(writes_that_arrive_together_share_one_commit_and_keep_their_own_answers) {
  test::StoreDir d;
  auto store = std::make_unique<LmdbStore>();
  std::string err;
  ck_assert_msg(store->open(d.path, err), "%s", err.c_str());
  uint64_t commits = store_metric(*store, "spa_authd_store_commits_total");
  uint64_t written = store_metric(*store, "spa_authd_store_writes_total");
  // Each committing write adds one to a counter it reads in the same
  // transaction: the final count says every write saw the ones before it.
  // after_commit runs for exactly the writes that landed.
  std::atomic<unsigned> landed{0};  // a bit per write
  auto count_and_put = [&landed](std::string key) {
    return [key, &landed](Store::Txn& t) {
      unsigned bit = 1u << std::stoi(key.substr(1));
      t.after_commit([&landed, bit] { landed |= bit; });
      auto n = t.get(Db::kMeta, "count");
      return commit_if(t.put(Db::kMeta, "count", std::to_string(n ? std::stoi(*n) + 1 : 1)) &&
                       t.put(Db::kUsers, key, "{}"));
    };
  };
  std::vector<Write> writes(12);
  for (size_t i = 0; i < writes.size(); ++i) writes[i].fn = count_and_put("u" + std::to_string(i));
  // Neighbours that end otherwise drop only their own work.
  writes[3].fn = [&landed](Store::Txn& t) -> TxnEnd {  // throws (thrown again in its own thread)
    t.after_commit([&landed] { landed |= 1u << 3; });
    t.put(Db::kMeta, "count", "1000");
    t.put(Db::kUsers, "u3", "{}");
    throw std::runtime_error("thrown in the batch");
  };
  writes[5].fn = [&landed](Store::Txn& t) {  // aborts
    t.after_commit([&landed] { landed |= 1u << 5; });
    t.put(Db::kMeta, "count", "1000");
    t.put(Db::kUsers, "u5", "{}");
    return TxnEnd::kAbort;
  };
  writes[7].fn = [&landed](Store::Txn& t) {  // a failed call
    t.after_commit([&landed] { landed |= 1u << 7; });
    t.put(Db::kMeta, "count", "1000");
    t.put(Db::kUsers, "u7", "{}");
    t.put(Db::kUsers, "", "{}");
    return TxnEnd::kCommit;
  };
  ck_assert(in_one_batch(*store, writes).ok());
  for (size_t i = 0; i < writes.size(); ++i) {
    if (i == 7) {
      ck_assert(writes[i].result.code == Errc::kStoreFailed && writes[i].result.message == "put: unusable key");
    } else {
      ck_assert_msg(writes[i].result.ok(), "write %zu: %s", i, writes[i].result.message.c_str());
    }
    ck_assert(writes[i].threw == (i == 3));
  }
  ck_assert_uint_eq(landed.load(), 0xfffu & ~((1u << 3) | (1u << 5) | (1u << 7)));
  // The held write, then the twelve in one commit; nine of them kept.
  ck_assert_uint_eq(store_metric(*store, "spa_authd_store_commits_total") - commits, 2);
  ck_assert_uint_eq(store_metric(*store, "spa_authd_store_writes_total") - written, 1 + 9);
  // Durable and whole: what a fresh open of the files finds.
  store = std::make_unique<LmdbStore>();
  ck_assert_msg(store->open(d.path, err), "%s", err.c_str());
  store->view([&](const Store::Txn& t) {
    ck_assert_str_eq(t.get(Db::kMeta, "count").value_or("").c_str(), "9");
    for (size_t i = 0; i < writes.size(); ++i)
      ck_assert(t.get(Db::kUsers, "u" + std::to_string(i)).has_value() == (i != 3 && i != 5 && i != 7));
  });
}
END_TEST

START_TEST(a_full_store_refuses_a_batchs_ordinary_writes_and_commits_its_revocations) {
  test::StoreDir d;
  LmdbStore store;
  std::string err;
  ck_assert_msg(store.open(d.path, err, 256 << 10), "%s", err.c_str());
  const std::string big(16 << 10, 'x');
  // The sessions the revocations will end (a value of the same size: ending one grows nothing).
  Error e = store.transact([](Store::Txn& t) {
    return commit_if(t.put(Db::kUsers, "r1", "active!") && t.put(Db::kUsers, "r3", "active!") &&
                     t.put(Db::kUsers, "r5", "active!"));
  });
  ck_assert(e.ok());
  int filled = 0;
  for (; filled < 1000 && e.ok(); ++filled)
    e = store.transact([&](Store::Txn& t) { return commit_if(t.put(Db::kAudit, std::to_string(filled), big)); });
  ck_assert(e.code == Errc::kStoreFull);
  std::vector<Write> writes(6);
  bool ordinary_ran = false;
  for (size_t i = 0; i < writes.size(); ++i) {
    if (i % 2 == 0) {
      writes[i].fn = [&ordinary_ran](Store::Txn& t) { return ordinary_ran = true, commit_if(t.put(Db::kUsers, "x", "{}")); };
    } else {
      writes[i].kind = Store::WriteKind::kRevocation;
      writes[i].fn = [i](Store::Txn& t) { return commit_if(t.over_limit() && t.put(Db::kUsers, "r" + std::to_string(i), "revoked")); };
    }
  }
  ck_assert(in_one_batch(store, writes).ok());
  for (size_t i = 0; i < writes.size(); ++i)
    ck_assert_msg(i % 2 == 0 ? writes[i].result.code == Errc::kStoreFull : writes[i].result.ok(), "write %zu: %s", i, writes[i].result.message.c_str());
  ck_assert(!ordinary_ran);
  store.view([&](const Store::Txn& t) {
    for (size_t i = 1; i < writes.size(); i += 2)
      ck_assert_str_eq(t.get(Db::kUsers, "r" + std::to_string(i)).value_or("").c_str(), "revoked");
    ck_assert(!t.get(Db::kUsers, "x"));
  });
}
END_TEST

// A batch whose commit fails (the data file made immutable while the
// writes wait: every write to it is EPERM): each write is tried alone,
// each answers the failure itself, nothing lands and no after_commit runs;
// once the file is writable again, so is the store.
START_TEST(a_batch_that_cannot_commit_answers_every_write_and_keeps_none) {
  test::StoreDir d;
  LmdbStore store;
  std::string err;
  ck_assert_msg(store.open(d.path, err), "%s", err.c_str());
  const std::string data = LmdbStore::default_private_path(d.path) + "/data.mdb";
  struct Writable {  // the flag comes off however the test ends
    std::string file;
    ~Writable() { (void)!std::system(("chattr -i " + file + " 2>/dev/null").c_str()); }
  } writable{data};
  std::atomic<int> landed{0};
  std::vector<Write> writes(4);
  for (size_t i = 0; i < writes.size(); ++i)
    writes[i].fn = [i, &landed](Store::Txn& t) {
      t.after_commit([&landed] { ++landed; });
      return commit_if(t.put(Db::kUsers, "u" + std::to_string(i), "{}"));
    };
  Error held = in_one_batch(store, writes, [&] { ck_assert(std::system(("chattr +i " + data).c_str()) == 0); });
  ck_assert_msg(held.code == Errc::kStoreUnwritable, "the holder: %s", held.message.c_str());
  for (const Write& w : writes) ck_assert_msg(w.result.code == Errc::kStoreUnwritable && !w.threw, "%s", w.result.message.c_str());
  ck_assert_int_eq(landed.load(), 0);
  ck_assert(std::system(("chattr -i " + data).c_str()) == 0);
  store.view([&](const Store::Txn& t) {
    for (size_t i = 0; i < writes.size(); ++i) ck_assert(!t.get(Db::kUsers, "u" + std::to_string(i)));
  });
  ck_assert(store.transact([](Store::Txn& t) { return commit_if(t.put(Db::kUsers, "after", "{}")); }).ok());
}
END_TEST


// ---- the mirror nginx reads ----------------------------------------------------

namespace {

const std::string kSub(32, '0');

std::string session(spa::core::SessionState state) {
  spa::core::SessionRecord r;
  r.created_at = 1;
  r.expires_at = 5000;
  r.state = state;
  return r.encode();
}
const std::string kActive = session(spa::core::SessionState::kActive);
const std::string kRevoked = session(spa::core::SessionState::kRevoked);

using Lookup = spa::core::SessionReader::Lookup;

// What an nginx worker finds for `sid` at [store] path, read afresh.
Lookup seen(const std::string& path, const char* sid) {
  spa::core::SessionReader reader;
  std::string err;
  ck_assert_msg(reader.open(path, err), "%s", err.c_str());
  return reader.check(sid, kSub, 1000, 1000, err);
}

mode_t mode_of(const std::string& path) {
  struct stat st;
  ck_assert_msg(::stat(path.c_str(), &st) == 0, "%s", path.c_str());
  return st.st_mode & 07777;
}

// The named tables of the environment at `path`, as any reader opens it.
std::vector<std::string> tables_at(const std::string& path) {
  spa::core::LmdbEnv env;
  std::string err;
  ck_assert_msg(env.open(path, MDB_RDONLY, 32, 0, 0, err), "%s", err.c_str());
  spa::core::LmdbTxn txn;
  ck_assert(txn.begin(env.get(), MDB_RDONLY) == 0);
  MDB_dbi main_dbi;
  ck_assert(mdb_dbi_open(txn.get(), nullptr, 0, &main_dbi) == 0);
  MDB_cursor* c;
  ck_assert(mdb_cursor_open(txn.get(), main_dbi, &c) == 0);
  std::vector<std::string> names;
  MDB_val k, v;
  for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
    names.emplace_back(spa::core::view(k));
  mdb_cursor_close(c);
  return names;
}

// Writes into the environment at `path` behind spa-authd's back.
void raw_write(const std::string& path, const char* db, const std::vector<std::pair<std::string, std::optional<std::string>>>& kv) {
  spa::core::LmdbEnv env;
  std::string err;
  ck_assert_msg(env.open(path, 0, 32, 64 << 20, 0640, err), "%s", err.c_str());
  spa::core::LmdbTxn txn;
  ck_assert(txn.begin(env.get(), 0) == 0);
  MDB_dbi dbi;
  ck_assert(mdb_dbi_open(txn.get(), db, MDB_CREATE, &dbi) == 0);
  for (const auto& [key, value] : kv) {
    MDB_val k = spa::core::mdb_val(key);
    if (value) {
      MDB_val v = spa::core::mdb_val(*value);
      ck_assert(mdb_put(txn.get(), dbi, &k, &v, 0) == 0);
    } else {
      ck_assert(mdb_del(txn.get(), dbi, &k, nullptr) == 0);
    }
  }
  ck_assert(txn.commit() == 0);
}

}  // namespace

// nginx's workers are in spa-authd's group: what they can open holds the
// sessions table and nothing else (no password hash, no e-mail address,
// no refresh token's hash), and it holds exactly what was committed.
START_TEST(nginx_can_read_the_sessions_alone_and_exactly_what_was_committed) {
  test::StoreDir d;
  LmdbStore store;
  std::string err;
  ck_assert_msg(store.open(d.path, err), "%s", err.c_str());
  const std::string own = LmdbStore::default_private_path(d.path);
  ck_assert(store.transact([](Store::Txn& t) {
    return commit_if(t.put(Db::kUsers, "u1", "{\"email\":\"alice@example.com\"}") && t.put(Db::kSessions, "s1", kActive) &&
                     t.put(Db::kSessions, "s2", kActive) && t.put(Db::kRefresh, "h", "{}"));
  }).ok());
  ck_assert(tables_at(d.path) == std::vector<std::string>({"mirror", "sessions"}));  // (mirror: its sequence)
  ck_assert(seen(d.path, "s1") == Lookup::kValid);
  ck_assert_uint_eq(mode_of(own), 0700);
  ck_assert_uint_eq(mode_of(own + "/data.mdb"), 0600);
  ck_assert_uint_eq(mode_of(own + "/lock.mdb"), 0600);
  ck_assert_uint_eq(mode_of(d.path + "/data.mdb"), 0640);
  ck_assert_uint_eq(mode_of(d.path + "/lock.mdb"), 0660);
  // What is dropped, fails or throws reaches the mirror no more than the store.
  ck_assert(store.transact([](Store::Txn& t) { return t.put(Db::kSessions, "s3", kActive), TxnEnd::kAbort; }).ok());
  ck_assert(store.transact([](Store::Txn& t) {
    t.put(Db::kSessions, "s4", kActive);
    t.put(Db::kSessions, "", kActive);
    return TxnEnd::kCommit;
  }).code == Errc::kStoreFailed);
  bool threw = false;
  try {
    store.transact([](Store::Txn& t) -> TxnEnd {
      t.put(Db::kSessions, "s5", kActive);
      throw std::runtime_error("in fn");
    });
  } catch (const std::runtime_error&) {
    threw = true;
  }
  ck_assert(threw);
  for (const char* sid : {"s3", "s4", "s5"}) ck_assert_msg(seen(d.path, sid) == Lookup::kUnknown, "%s", sid);
  // A batch: each write's own changes, in the batch's order; a dropped one's not at all.
  std::vector<Write> writes(4);
  writes[0].fn = [](Store::Txn& t) { return commit_if(t.put(Db::kSessions, "s1", kRevoked)); };
  writes[1].fn = [](Store::Txn& t) { return t.put(Db::kSessions, "s2", kRevoked), TxnEnd::kAbort; };
  writes[2].fn = [](Store::Txn& t) { return commit_if(t.put(Db::kSessions, "s6", kRevoked) && t.put(Db::kSessions, "s6", kActive)); };
  writes[3].fn = [](Store::Txn& t) { return commit_if(t.del(Db::kSessions, "s6") && t.put(Db::kSessions, "s7", kActive)); };
  uint64_t commits = store_metric(store, "spa_authd_store_commits_total");
  ck_assert(in_one_batch(store, writes).ok());
  for (const Write& w : writes) ck_assert_msg(w.result.ok(), "%s", w.result.message.c_str());
  ck_assert_uint_eq(store_metric(store, "spa_authd_store_commits_total") - commits, 2);  // the holder, then the batch
  ck_assert(seen(d.path, "s1") == Lookup::kRevoked);
  ck_assert(seen(d.path, "s2") == Lookup::kValid);
  // Writes 2 and 3 ran in the order they queued, whichever it was: the mirror says what the store says.
  bool kept = false;
  store.view([&](const Store::Txn& t) { kept = t.get(Db::kSessions, "s6").has_value(); });
  ck_assert(seen(d.path, "s6") == (kept ? Lookup::kValid : Lookup::kUnknown));
  ck_assert(seen(d.path, "s7") == Lookup::kValid);
  ck_assert_uint_eq(store_metric(store, "spa_authd_store_mirror_stale"), 0);
}
END_TEST

// A spa-authd before the mirror kept everything at [store] path: the first
// start moves it into the private directory, under a worker that has the
// old file open, and that worker goes on from the new mirror.
START_TEST(a_whole_store_at_the_mirrors_path_moves_into_the_private_directory) {
  test::StoreDir d;
  raw_write(d.path, "meta", {{"schema_version", "1"}});
  raw_write(d.path, "users", {{"u1", "{}"}});
  raw_write(d.path, "sessions", {{"s1", kActive}, {"s2", kActive}});
  spa::core::SessionReader worker;
  std::string err;
  ck_assert(worker.open(d.path, err));
  ck_assert(worker.check("s1", kSub, 1000, 1000, err) == Lookup::kValid);
  // Anything of nginx's user that holds the old file open...
  int held = ::open((d.path + "/data.mdb").c_str(), O_RDONLY);
  ck_assert(held >= 0);
  {
    LmdbStore store;
    ck_assert_msg(store.open(d.path, err), "%s", err.c_str());
    const std::string own = LmdbStore::default_private_path(d.path);
    ck_assert_uint_eq(mode_of(own + "/data.mdb"), 0600);
    // ...reads nothing written after the move: the store is a new file.
    ck_assert(store.transact([](Store::Txn& t) { return commit_if(t.put(Db::kUsers, "u2", "{\"email\":\"late@example.com\"}")); }).ok());
    std::string through_old;
    char buf[65536];
    for (ssize_t n; (n = ::pread(held, buf, sizeof buf, static_cast<off_t>(through_old.size()))) > 0;) through_old.append(buf, static_cast<size_t>(n));
    ck_assert(!through_old.empty() && through_old.find("late@example.com") == std::string::npos);
    ::close(held);
    store.view([](const Store::Txn& t) { ck_assert(t.get(Db::kUsers, "u1") && t.get(Db::kSessions, "s2")); });
    ck_assert(tables_at(d.path) == std::vector<std::string>({"mirror", "sessions"}));
    ck_assert(store.transact([](Store::Txn& t) { return commit_if(t.put(Db::kSessions, "s1", kRevoked)); }).ok());
  }
  worker.refresh(2);  // the file it had open is gone from [store] path: it reopens
  ck_assert_msg(worker.check("s1", kSub, 1000, 1000, err) == Lookup::kRevoked, "%s", worker.unavailable_reason().c_str());
  ck_assert(worker.check("s2", kSub, 1000, 1000, err) == Lookup::kValid);
  // Opened again: nothing moves, nothing is lost.
  LmdbStore again;
  ck_assert_msg(again.open(d.path, err), "%s", err.c_str());
  again.view([](const Store::Txn& t) { ck_assert(t.get(Db::kUsers, "u1")); });
}
END_TEST

// Two whole stores (an old-style restore into [store] path next to the
// private one): spa-authd will not guess which is the one, and says so.
START_TEST(a_whole_store_in_both_places_is_refused_by_name) {
  test::StoreDir d;
  std::string err;
  {
    LmdbStore store;
    ck_assert_msg(store.open(d.path, err), "%s", err.c_str());
  }
  raw_write(d.path, "meta", {{"schema_version", "1"}});
  LmdbStore store;
  ck_assert(!store.open(d.path, err));
  ck_assert_msg(err.find(d.path + " holds a whole store") != std::string::npos, "%s", err.c_str());
}
END_TEST

// The mirror is made to match the store at every open: one that missed a
// commit (spa-authd killed between the two), one changed behind its back,
// and one damaged beyond opening.
START_TEST(the_mirror_is_made_to_match_the_store_at_open) {
  test::StoreDir d;
  std::string err;
  {
    LmdbStore store;
    ck_assert_msg(store.open(d.path, err), "%s", err.c_str());
    ck_assert(store.transact([](Store::Txn& t) {
      return commit_if(t.put(Db::kSessions, "s1", kActive) && t.put(Db::kSessions, "s2", kRevoked));
    }).ok());
  }
  raw_write(d.path, "sessions", {{"s1", std::nullopt}, {"s2", kActive}, {"s9", kActive}});
  ck_assert(seen(d.path, "s2") == Lookup::kValid);
  {
    LmdbStore store;
    ck_assert_msg(store.open(d.path, err), "%s", err.c_str());
  }
  ck_assert(seen(d.path, "s1") == Lookup::kValid);
  ck_assert(seen(d.path, "s2") == Lookup::kRevoked);
  ck_assert(seen(d.path, "s9") == Lookup::kUnknown);
  std::ofstream(d.path + "/data.mdb", std::ios::binary | std::ios::trunc) << std::string(16384, 'x');
  spa::core::SessionReader damaged;
  ck_assert(!damaged.open(d.path, err));
  LmdbStore store;
  ck_assert_msg(store.open(d.path, err), "%s", err.c_str());
  ck_assert(seen(d.path, "s1") == Lookup::kValid);
  ck_assert(seen(d.path, "s2") == Lookup::kRevoked);
}
END_TEST

// The mirror's commit fails after the store's (its file immutable): the
// write is not answered as done, the store says the mirror is stale, and
// every write is refused until the mirror holds the store's sessions again.
START_TEST(a_mirror_that_cannot_be_written_refuses_writes_until_it_is_synced) {
  test::StoreDir d;
  LmdbStore store;
  std::string err;
  ck_assert_msg(store.open(d.path, err), "%s", err.c_str());
  ck_assert(store.transact([](Store::Txn& t) { return commit_if(t.put(Db::kSessions, "s1", kActive)); }).ok());
  const std::string data = d.path + "/data.mdb";
  struct Writable {  // the flag comes off however the test ends
    std::string file;
    ~Writable() { (void)!std::system(("chattr -i " + file + " 2>/dev/null").c_str()); }
  } writable{data};
  ck_assert(std::system(("chattr +i " + data).c_str()) == 0);
  Error e = store.transact([](Store::Txn& t) { return commit_if(t.put(Db::kSessions, "s1", kRevoked)); },
                           Store::WriteKind::kRevocation);
  ck_assert_msg(e.code == Errc::kStoreUnwritable, "%s", e.message.c_str());
  ck_assert_uint_eq(store_metric(store, "spa_authd_store_mirror_stale"), 1);
  // Any write now, of any table: refused before it runs.
  bool ran = false;
  e = store.transact([&](Store::Txn& t) { return ran = true, commit_if(t.put(Db::kUsers, "u1", "{}")); });
  ck_assert(e.code == Errc::kStoreUnwritable && !ran);
  ck_assert(std::system(("chattr -i " + data).c_str()) == 0);
  ck_assert(store.transact([](Store::Txn& t) { return commit_if(t.put(Db::kUsers, "u1", "{}")); }).ok());
  ck_assert_uint_eq(store_metric(store, "spa_authd_store_mirror_stale"), 0);
  ck_assert(seen(d.path, "s1") == Lookup::kRevoked);  // the revocation the store kept is in the mirror now
}
END_TEST


// The private directory as store.path by another name (a symlink), or
// above it: refused at open, by name, before anything is written.
START_TEST(the_private_directory_by_another_name_is_refused) {
  test::StoreDir d;
  std::string err;
  const std::string mirror = d.path + "/m";
  ck_assert(::mkdir(mirror.c_str(), 0750) == 0);
  ck_assert(::symlink(mirror.c_str(), (d.path + "/alias").c_str()) == 0);
  LmdbStore store;
  ck_assert(!store.open(mirror, err, Store::kDefaultMaxSize, d.path + "/alias"));
  ck_assert_msg(err.find("is store.path " + mirror) != std::string::npos, "%s", err.c_str());
  ck_assert(::symlink(d.path.c_str(), (d.path + "/up").c_str()) == 0);
  ck_assert(!store.open(mirror, err, Store::kDefaultMaxSize, d.path + "/up"));
  ck_assert_msg(err.find("a directory above store.path") != std::string::npos, "%s", err.c_str());
  struct stat st;
  ck_assert(::stat((mirror + "/data.mdb").c_str(), &st) != 0);
}
END_TEST

// Another process's mirror commit failed (spa-authd's CLI beside the
// daemon): the sequences the store and the mirror keep disagree, and this
// process's next write, of any table (the sweeper's no-op included), syncs
// the mirror first.
START_TEST(a_mirror_another_process_left_behind_is_synced_before_the_next_write) {
  test::StoreDir d;
  LmdbStore store;
  std::string err;
  ck_assert_msg(store.open(d.path, err), "%s", err.c_str());
  ck_assert(store.transact([](Store::Txn& t) { return commit_if(t.put(Db::kSessions, "s1", kActive)); }).ok());
  ck_assert(store.transact([](Store::Txn& t) { return commit_if(t.put(Db::kSessions, "s1", kRevoked)); }).ok());
  pid_t other = fork();
  if (other == 0) {  // the mirror as that process left it: the revocation missing, its sequence behind
    spa::core::LmdbEnv env;
    std::string e;
    spa::core::LmdbTxn txn;
    MDB_dbi sessions, state;
    if (!env.open(d.path, 0, 8, 0, 0640, e) || txn.begin(env.get(), 0) != 0 ||
        mdb_dbi_open(txn.get(), "sessions", 0, &sessions) != 0 || mdb_dbi_open(txn.get(), "mirror", 0, &state) != 0)
      _exit(1);
    MDB_val k = spa::core::mdb_val("s1"), v = spa::core::mdb_val(kActive);
    MDB_val sk = spa::core::mdb_val("seq"), sv = spa::core::mdb_val("1");
    _exit(mdb_put(txn.get(), sessions, &k, &v, 0) == 0 && mdb_put(txn.get(), state, &sk, &sv, 0) == 0 && txn.commit() == 0 ? 0 : 1);
  }
  int status = 0;
  ck_assert(waitpid(other, &status, 0) == other && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ck_assert(seen(d.path, "s1") == Lookup::kValid);  // what nginx would accept, wrongly
  // The write the sweeper makes at each pass, which does nothing: enough.
  ck_assert(store.transact([](Store::Txn&) { return TxnEnd::kAbort; }, Store::WriteKind::kRevocation).ok());
  ck_assert(seen(d.path, "s1") == Lookup::kRevoked);
}
END_TEST


// A move of the old store interrupted (kill -9 while copying): what it left
// under its temporary name is replaced by the next start's move, and the
// old store is still whole until then.
START_TEST(an_interrupted_move_is_done_again_at_the_next_start) {
  test::StoreDir d;
  raw_write(d.path, "meta", {{"schema_version", "1"}});
  raw_write(d.path, "users", {{"u1", "{}"}});
  raw_write(d.path, "sessions", {{"s1", kActive}});
  const std::string own = LmdbStore::default_private_path(d.path);
  ck_assert(::mkdir(own.c_str(), 0700) == 0);
  std::ofstream(own + "/data.mdb.moving", std::ios::binary) << std::string(8192, '\0');
  LmdbStore store;
  std::string err;
  ck_assert_msg(store.open(d.path, err), "%s", err.c_str());
  store.view([](const Store::Txn& t) { ck_assert(t.get(Db::kUsers, "u1") && t.get(Db::kSessions, "s1")); });
  struct stat st;
  ck_assert(::stat((own + "/data.mdb.moving").c_str(), &st) != 0);
  ck_assert(seen(d.path, "s1") == Lookup::kValid);
}
END_TEST

TCase* interface_tcase() {
  TCase* tc = tcase_create("interface");
  tcase_add_test(tc, transact_commits_what_fn_decides_and_nothing_after_a_failure);
  tcase_add_test(tc, transact_refuses_ordinary_writes_past_max_size_before_they_run);
  tcase_add_test(tc, writes_that_arrive_together_share_one_commit_and_keep_their_own_answers);
  tcase_add_test(tc, nginx_can_read_the_sessions_alone_and_exactly_what_was_committed);
  tcase_add_test(tc, a_whole_store_at_the_mirrors_path_moves_into_the_private_directory);
  tcase_add_test(tc, a_whole_store_in_both_places_is_refused_by_name);
  tcase_add_test(tc, an_interrupted_move_is_done_again_at_the_next_start);
  tcase_add_test(tc, the_mirror_is_made_to_match_the_store_at_open);
  tcase_add_test(tc, a_mirror_that_cannot_be_written_refuses_writes_until_it_is_synced);
  tcase_add_test(tc, the_private_directory_by_another_name_is_refused);
  tcase_add_test(tc, a_mirror_another_process_left_behind_is_synced_before_the_next_write);
  tcase_add_test(tc, a_full_store_refuses_a_batchs_ordinary_writes_and_commits_its_revocations);
  tcase_add_test(tc, a_batch_that_cannot_commit_answers_every_write_and_keeps_none);
  return tc;
}
