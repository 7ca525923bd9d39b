// The PostgreSQL store (authd/pg_store.h) on a private server
// (tests/unit/with-postgres; `make unit` runs this suite so): the schema
// made by `db migrate` and refused when missing or newer; the Store
// interface's rules as LMDB keeps them; two nodes writing the same records
// at once losing nothing; a refresh token presented to two nodes at the
// same moment rotating once; and the mirror every node keeps, fed by
// LISTEN/NOTIFY and the change table, through a lost connection and a
// transaction that commits after later ones; and `spa-authd db import`,
// a single machine's LMDB store moved into the database.
#include <atomic>
#include <functional>
#include <utility>
#include <chrono>
#include <thread>

#include "authd/db_import.h"
#include "authd/files.h"
#include "authd/pg_handles.h"
#include "authd/pg_keys.h"
#include "authd/pg_store.h"
#include "authd/records/user.h"
#include "core/lmdb_handles.h"
#include "core/session_reader.h"
#include "tests/unit/auth_world.h"
#include "tests/unit/store_tests.h"

using namespace spa::authd;
using Lookup = spa::core::SessionReader::Lookup;

namespace {

std::string conninfo() { return std::getenv("SPA_TEST_PG"); }

// A raw connection, for what the tests do behind the store's back.
pg::Conn raw(const std::string& info = conninfo()) {
  std::string err;
  pg::Conn c = pg::connect(info, "", err);
  ck_assert_msg(c, "%s", err.c_str());
  return c;
}
std::string sql1(PGconn* c, const std::string& sql) {
  pg::Result r = pg::exec(c, sql.c_str());
  ck_assert_msg(pg::ok(r.get()), "%s: %s", sql.c_str(), pg::describe(c, r.get()).c_str());
  return PQntuples(r.get()) > 0 ? PQgetvalue(r.get(), 0, 0) : "";
}

// A node: a PgStore on the test database, with its own mirror.
struct Node {
  test::StoreDir dir;
  PgStore store;
  explicit Node(bool mirror = true) {
    PgStore::Options o;
    o.conninfo = conninfo();
    if (mirror) o.mirror_path = dir.path + "/mirror";
    std::string err;
    ck_assert_msg(store.open(o, err), "%s", err.c_str());
  }
  // What this node's nginx would answer for `sid` at the real time now.
  Lookup nginx_sees(const std::string& sid, std::optional<int64_t> iat = std::nullopt) {
    spa::core::SessionReader reader;
    std::string err;
    if (!reader.open(dir.path + "/mirror", err)) return Lookup::kError;
    return reader.check(sid, std::string(32, '0'), std::time(nullptr), iat, err);
  }
  // The session's record in this node's mirror, as the feed last wrote it.
  std::optional<spa::core::SessionRecord> mirrored(const std::string& sid) {
    spa::core::LmdbEnv env;
    std::string err;
    ck_assert_msg(env.open(dir.path + "/mirror", MDB_RDONLY, 4, 0, 0640, err), "%s", err.c_str());
    spa::core::LmdbTxn txn;
    MDB_dbi dbi;
    ck_assert_int_eq(txn.begin(env.get(), MDB_RDONLY), 0);
    ck_assert_int_eq(mdb_dbi_open(txn.get(), spa::core::kSessionsDb, 0, &dbi), 0);
    MDB_val k{sid.size(), const_cast<char*>(sid.data())}, v;
    if (mdb_get(txn.get(), dbi, &k, &v) != 0) return std::nullopt;
    return spa::core::SessionRecord::decode({static_cast<const char*>(v.mv_data), v.mv_size});
  }
  // Waits (at most 10 s) until the mirror's record of `sid` ends at `end`.
  bool mirror_ends_at(const std::string& sid, int64_t end) {
    for (int i = 0; i < 1000; ++i) {
      if (auto r = mirrored(sid); r && r->expires_at == end) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  // Waits (at most 10 s) until nginx sees `want`: the feed is asynchronous.
  bool comes_to(const std::string& sid, Lookup want, std::optional<int64_t> iat = std::nullopt) {
    for (int i = 0; i < 1000; ++i) {
      if (nginx_sees(sid, iat) == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
};

spa::core::SessionRecord session(spa::core::SessionState state) {
  spa::core::SessionRecord r;
  r.state = state;
  r.created_at = std::time(nullptr);
  r.expires_at = r.created_at + 3600;
  if (state != spa::core::SessionState::kActive) r.revoked_at = r.created_at;
  return r;  // (user id zero: the subject nginx_sees names)
}

// One sample of the store's /metrics text.
int64_t metric(const Store& s, const std::string& name) {
  std::string text = s.metrics(), line = "\n" + name + " ";
  size_t at = text.find(line);
  ck_assert_msg(at != std::string::npos, "no %s", name.c_str());
  return std::atoll(text.c_str() + at + line.size());
}

// A store whose writes run `meanwhile` first (once): what another
// process does while a transaction of ours is under way.
struct WritingMeanwhile final : Store {
  Store& inner;
  std::function<void()> meanwhile;
  WritingMeanwhile(Store& s, std::function<void()> fn) : inner(s), meanwhile(std::move(fn)) {}
  Usage usage() const override { return inner.usage(); }
  std::string metrics() const override { return inner.metrics(); }

 protected:
  Error run_write(const std::function<TxnEnd(Txn&)>& fn, WriteKind kind) override {
    return inner.transact(
        [&](Txn& t) {
          if (meanwhile) std::exchange(meanwhile, nullptr)();
          return fn(t);
        },
        kind);
  }
  Error run_read(const std::function<void(const Txn&)>& fn) const override { return inner.view(fn); }
};

Error put(Store& s, Db db, const std::string& key, const std::string& value) {
  return s.transact([&](Store::Txn& t) { return commit_if(t.put(db, key, value)); });
}

}  // namespace

START_TEST(the_schema_is_made_by_migrate_and_refused_when_missing_or_newer) {
  pg::Conn admin = raw();
  sql1(admin.get(), "DROP DATABASE IF EXISTS spa_fresh");
  sql1(admin.get(), "CREATE DATABASE spa_fresh");
  PgStore::Options o;
  o.conninfo = conninfo() + " dbname=spa_fresh";
  std::string err, report;
  PgStore store;
  ck_assert(!store.open(o, err));
  ck_assert_msg(err.find("no spa-auth schema") != std::string::npos && err.find("spa-authd db migrate") != std::string::npos,
                "%s", err.c_str());
  ck_assert_msg(PgStore::migrate(o, report, err), "%s", err.c_str());
  ck_assert_str_eq(report.c_str(), "schema at version 3 (3 migrations applied)");
  ck_assert_msg(PgStore::migrate(o, report, err), "%s", err.c_str());
  ck_assert_str_eq(report.c_str(), "schema already at version 3; nothing to do");
  {
    // A database of spa-authd at version 1: open refuses it, migrate brings it on.
    pg::Conn fresh = raw(o.conninfo);
    sql1(fresh.get(), "DROP TABLE spa_duties, spa_signing_keys, spa_key_state;"
                      " DELETE FROM spa_schema_migrations WHERE version > 1");
  }
  ck_assert(!store.open(o, err));
  ck_assert_msg(err.find("schema is at version 1, this spa-authd needs version 3: run `spa-authd db migrate") !=
                    std::string::npos, "%s", err.c_str());
  ck_assert_msg(PgStore::migrate(o, report, err), "%s", err.c_str());
  ck_assert_str_eq(report.c_str(), "schema at version 3 (2 migrations applied)");
  ck_assert_msg(store.open(o, err), "%s", err.c_str());
  ck_assert(store.claim_duty("sweep", 60));  // (v2's table)
  // The records' own schema is written at the first open, as LMDB's.
  store.view([](const Store::Txn& t) { ck_assert(t.get(Db::kMeta, "schema_version") == std::string(kSchemaVersion)); });
  {
    pg::Conn fresh = raw(o.conninfo);
    sql1(fresh.get(), "INSERT INTO spa_schema_migrations (version, applied_by) VALUES (99, 'a newer spa-authd')");
  }
  PgStore newer;
  ck_assert(!newer.open(o, err));
  ck_assert_msg(err.find("version 99, newer than this spa-authd's (3)") != std::string::npos, "%s", err.c_str());
  ck_assert(!PgStore::migrate(o, report, err));
  ck_assert_msg(err.find("nothing was changed") != std::string::npos, "%s", err.c_str());
  // A password never sits in the connection string.
  ck_assert(pg::check_conninfo("host=/tmp dbname=spa").empty());
  ck_assert(pg::check_conninfo("host=/tmp password=hunter2").find("postgresql_password_file") != std::string::npos);
  ck_assert(pg::check_conninfo("postgresql://spa:hunter2@db/spa").find("postgresql_password_file") != std::string::npos);
  ck_assert(pg::check_conninfo("host=/tmp nonsense").find("is not a libpq connection string") == 0);
  o.conninfo = "host=/tmp password=hunter2";
  ck_assert(!newer.open(o, err) && err.find("store.postgresql holds a password") == 0);
}
END_TEST

START_TEST(transactions_and_scans_keep_the_interfaces_rules) {
  test::empty_test_database();
  Node n(false);
  Store& store = n.store;
  auto write = [&](const char* key, TxnEnd end) {
    return store.transact([&](Store::Txn& t) { return t.put(Db::kUsers, key, "{}") ? end : TxnEnd::kAbort; });
  };
  ck_assert(write("u1", TxnEnd::kCommit).ok());
  ck_assert(write("u2", TxnEnd::kAbort).ok());
  Error e = store.transact([](Store::Txn& t) {
    t.put(Db::kUsers, "u3", "{}");
    t.put(Db::kUsers, "", "{}");
    t.refuse_full();
    return TxnEnd::kCommit;
  });
  ck_assert(e.code == Errc::kStoreFailed && e.message == "put: unusable key");
  store.view([](const Store::Txn& t) {
    ck_assert(t.get(Db::kUsers, "u1") && !t.get(Db::kUsers, "u2") && !t.get(Db::kUsers, "u3"));
    ck_assert(!t.get(Db::kUsers, std::string(kMaxKeyBytes + 1, 'a')));
    ck_assert(t.error().ok());
  });
  // Keys as bytes: NUL and 0xff inside, prefixes of 0xff, more keys than one batch of a scan.
  const std::string ff(2, '\xff');
  ck_assert(store.transact([&](Store::Txn& t) {
    bool ok = t.put(Db::kUserSessions, std::string("a\0b", 3), "nul") && t.put(Db::kUserSessions, "a" + ff, "ff") &&
              t.put(Db::kUserSessions, ff, "top") && t.put(Db::kUserSessions, ff + "x", "above") &&
              t.put(Db::kUserSessions, "b", "");
    for (int i = 0; ok && i < 600; ++i) ok = t.put(Db::kUserSessions, "m" + std::to_string(1000 + i), "v");
    return commit_if(ok);
  }).ok());
  std::vector<std::string> a, top, m, from;
  std::string nul_value;
  store.view([&](const Store::Txn& t) {
    t.scan(Db::kUserSessions, "a", [&](std::string_view k, std::string_view v) {
      if (k.size() == 3 && k[1] == '\0') nul_value = v;
      return a.emplace_back(k), true;
    });
    t.scan(Db::kUserSessions, ff, [&](std::string_view k, std::string_view) { return top.emplace_back(k), true; });
    t.scan(Db::kUserSessions, "m", [&](std::string_view k, std::string_view) { return m.emplace_back(k), true; });
    t.scan_from(Db::kUserSessions, "m1598", [&](std::string_view k, std::string_view) { return from.emplace_back(k), from.size() < 3; });
  });
  ck_assert(a == std::vector<std::string>({std::string("a\0b", 3), "a" + ff}));
  ck_assert_str_eq(nul_value.c_str(), "nul");
  ck_assert(top == std::vector<std::string>({ff, ff + "x"}));
  ck_assert_uint_eq(m.size(), 600);
  ck_assert(std::is_sorted(m.begin(), m.end()));
  ck_assert(from == std::vector<std::string>({"m1598", "m1599", ff}));  // (unsigned order: 0xff after "m")
  // A function that throws drops its work and its exception reaches the caller.
  bool threw = false;
  try {
    store.transact([](Store::Txn& t) {
      t.put(Db::kUsers, "u9", "{}");
      throw std::runtime_error("boom");
      return TxnEnd::kCommit;
    });
  } catch (const std::runtime_error&) {
    threw = true;
  }
  ck_assert(threw);
  store.view([](const Store::Txn& t) { ck_assert(!t.get(Db::kUsers, "u9")); });
}
END_TEST

START_TEST(two_nodes_writing_the_same_record_at_once_lose_no_update) {
  test::empty_test_database();
  Node a(false), b(false);
  ck_assert(put(a.store, Db::kMeta, "counter", "0").ok());
  std::atomic<int> failed{0};
  auto add = [&](Store& s) {
    for (int i = 0; i < 40; ++i) {
      Error e = s.transact([](Store::Txn& t) {
        int n = std::stoi(t.get(Db::kMeta, "counter").value_or("0"));
        return commit_if(t.put(Db::kMeta, "counter", std::to_string(n + 1)));
      });
      if (!e.ok()) ++failed;
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back(add, std::ref(static_cast<Store&>(a.store)));
    threads.emplace_back(add, std::ref(static_cast<Store&>(b.store)));
  }
  for (auto& t : threads) t.join();
  ck_assert_int_eq(failed.load(), 0);
  std::string total;
  a.store.view([&](const Store::Txn& t) { total = t.get(Db::kMeta, "counter").value_or(""); });
  ck_assert_str_eq(total.c_str(), "240");
}
END_TEST

// The sweeper's pass, once per period for all the nodes: the first to
// claim it does it; the others are told no until the period has passed.
START_TEST(one_node_of_all_claims_a_duty) {
  test::empty_test_database();
  Node a(false), b(false);
  pg::Conn admin = raw();
  sql1(admin.get(), "DELETE FROM spa_duties");
  ck_assert(a.store.claim_duty("sweep", 60));
  ck_assert(!b.store.claim_duty("sweep", 60));
  ck_assert(!a.store.claim_duty("sweep", 60));
  ck_assert(b.store.claim_duty("other duty", 60));  // (each duty its own)
  for (int round = 0; round < 30; ++round) {
    sql1(admin.get(), "UPDATE spa_duties SET claimed_at = now() - interval '61 seconds' WHERE name = 'sweep'");
    std::atomic<int> won{0}, ready{0};
    auto race = [&](Node& n) {
      for (++ready; ready.load() < 2;) {
      }
      won += n.store.claim_duty("sweep", 60);
    };
    std::thread ta(race, std::ref(a)), tb(race, std::ref(b));
    ta.join();
    tb.join();
    // Racing for it, one wins (the loser's transaction may have begun
    // before the winner's: the claim is then "in the future" for it).
    ck_assert_msg(won.load() == 1, "round %d: %d nodes claimed it", round, won.load());
  }
  // The server's clock stepped back: a claim less than a period ahead
  // waits; more than a period ahead, it is taken over (else the duty
  // would stop for as long as the step).
  sql1(admin.get(), "UPDATE spa_duties SET claimed_at = now() + interval '30 seconds' WHERE name = 'sweep'");
  ck_assert(!a.store.claim_duty("sweep", 60));
  sql1(admin.get(), "UPDATE spa_duties SET claimed_at = now() + interval '61 seconds' WHERE name = 'sweep'");
  ck_assert(a.store.claim_duty("sweep", 60));
  ck_assert(!b.store.claim_duty("sweep", 60));
}
END_TEST

// The cluster's signing keys: made once, the same on every node, sealed
// under the key-encryption key; a rotation on one node reaches the others'
// JWKS at their next look; another KEK opens nothing.
START_TEST(the_signing_keys_are_the_clusters) {
  test::empty_test_database();
  pg::Conn admin = raw();
  sql1(admin.get(), "DELETE FROM spa_signing_keys; UPDATE spa_key_state SET version = 0");
  test::StoreDir d;
  const std::string kek(32, 'k');
  auto node = [&](const std::string& name, const std::string& key) {
    SigningKeys::Options o{"", d.path + "/" + name + ".jwks", spa::core::Alg::kEdDSA, 900, 5};
    return std::make_unique<SigningKeys>(o, std::make_unique<PgKeyVault>(conninfo(), "", key));
  };
  auto a = node("a", kek), b = node("b", kek);
  std::string err;
  const int64_t now = 1'800'000'000;
  ck_assert_msg(a->open(now, err), "%s", err.c_str());
  ck_assert_msg(b->open(now, err), "%s", err.c_str());
  ck_assert_uint_eq(a->schedule().size(), 1);
  ck_assert_str_eq(a->signing_key(now)->kid.c_str(), b->signing_key(now)->kid.c_str());
  std::string sealed = sql1(admin.get(), "SELECT encode(sealed, 'escape') FROM spa_signing_keys");
  ck_assert(sealed.find("PRIVATE KEY") == std::string::npos);
  ck_assert_msg(a->rotate(now + 10, err), "%s", err.c_str());
  const std::string fresh = a->schedule().back().kid;
  ck_assert_msg(b->reload_if_changed(now + 11, err), "%s", err.c_str());
  ck_assert_uint_eq(b->schedule().size(), 2);
  ck_assert_str_eq(b->schedule().back().kid.c_str(), fresh.c_str());
  std::string jwks;
  ck_assert(read_file(d.path + "/b.jwks", jwks, err) && jwks.find(fresh) != std::string::npos);
  ck_assert(b->signing_key(now + 11)->kid != fresh);  // published first,
  ck_assert(b->signing_key(now + 15)->kid == fresh);  // signing publish_delay later
  // A node with another key-encryption key opens nothing, and says which file.
  auto stranger = node("c", std::string(32, 'x'));
  ck_assert(!stranger->open(now + 12, err));
  ck_assert_msg(err.find("tokens.key_encryption_key_file") != std::string::npos, "%s", err.c_str());
  // The keys gone from the database: never a first start; the keys in memory sign on,
  // and a node starting now refuses rather than make a key of its own.
  sql1(admin.get(), "DELETE FROM spa_signing_keys; UPDATE spa_key_state SET version = version + 1");
  ck_assert(!b->reload_if_changed(now + 20, err));
  ck_assert_msg(err.find("gone") != std::string::npos, "%s", err.c_str());
  ck_assert(b->signing_key(now + 20)->kid == fresh);
  auto late = node("d", kek);
  ck_assert(!late->open(now + 21, err));
  ck_assert_msg(err.find("gone from the database") != std::string::npos, "%s", err.c_str());
  // One machine's keys (key_dir) moving to a database that never had any: imported, not replaced.
  SigningKeys single({d.path + "/keys", d.path + "/single.jwks", spa::core::Alg::kEdDSA, 900, 5});
  ck_assert_msg(single.open(now, err), "%s", err.c_str());
  sql1(admin.get(), "UPDATE spa_key_state SET version = 0");
  SigningKeys moved({d.path + "/keys", d.path + "/moved.jwks", spa::core::Alg::kEdDSA, 900, 5},
                    std::make_unique<PgKeyVault>(conninfo(), "", kek));
  ck_assert_msg(moved.open(now + 30, err), "%s", err.c_str());
  ck_assert_str_eq(moved.signing_key(now + 30)->kid.c_str(), single.signing_key(now)->kid.c_str());
  ck_assert_str_eq(sql1(admin.get(), "SELECT count(*) FROM spa_signing_keys").c_str(), "1");
}
END_TEST

START_TEST(a_refresh_token_at_two_nodes_at_once_rotates_once) {
  setenv("SPA_TEST_STORE", "postgresql", 1);  // (this test runs in a process of its own: CK_FORK)
  test::AuthWorld w;  // node A (it empties the database)
  // Node B: its own store and service on the same database, keys and MFA key.
  PgStore b_store;
  test::StoreDir b_dir;
  PgStore::Options o;
  o.conninfo = conninfo();
  std::string err;
  ck_assert_msg(b_store.open(o, err), "%s", err.c_str());
  AuthService b(w.config, b_store, *w.keys, w.hasher, [&w] { return w.now; }, w.mfa_key);
  w.signup_verified("race@example.com", "race", "race password 1");
  Outcome login = w.service->login("race@example.com", "race password 1", w.client);
  ck_assert(login.ok());
  std::string rt = login.tokens->refresh_token;
  for (int round = 0; round < 25; ++round) {
    Outcome at_a, at_b;
    std::atomic<int> ready{0};
    auto go = [&](AuthService& s, Outcome& out) {
      ++ready;
      while (ready.load() < 2) {
      }
      out = s.refresh(rt, w.client);
    };
    std::thread ta(go, std::ref(*w.service), std::ref(at_a)), tb(go, std::ref(b), std::ref(at_b));
    ta.join();
    tb.join();
    // Both inside the grace window: the same successor, never two.
    ck_assert_msg(at_a.ok() && at_b.ok(), "round %d: %s / %s", round, at_a.code.c_str(), at_b.code.c_str());
    ck_assert_str_eq(at_a.tokens->refresh_token.c_str(), at_b.tokens->refresh_token.c_str());
    rt = at_a.tokens->refresh_token;
  }
  size_t families = 0, records = 0;
  w.store.view([&](const Store::Txn& t) {
    t.scan(Db::kRefresh, "", [&](std::string_view, std::string_view) { return ++records, true; });
    t.scan(Db::kSessions, "", [&](std::string_view, std::string_view) { return ++families, true; });
  });
  ck_assert_uint_eq(families, 1);
  ck_assert_uint_eq(records, 26);  // the first token and one successor per round
  // Past the grace window, the old token at the other node is a reuse: the family ends everywhere.
  w.now += w.config.refresh_grace + 1;
  Outcome old = b.refresh(login.tokens->refresh_token, w.client);
  ck_assert_int_eq(old.status, 401);
  Outcome newest = w.service->refresh(rt, w.client);
  ck_assert_int_eq(newest.status, 401);
}
END_TEST

START_TEST(a_session_written_on_one_node_reaches_every_mirror) {
  test::empty_test_database();
  Node a, b;
  const std::string sid = "0123456789abcdef0123456789abcdef";
  ck_assert(put(a.store, Db::kSessions, sid, session(spa::core::SessionState::kActive).encode()).ok());
  // The writer's own mirror holds it when the write is answered.
  ck_assert(a.nginx_sees(sid) == Lookup::kValid);
  ck_assert(b.comes_to(sid, Lookup::kValid));
  ck_assert(put(b.store, Db::kSessions, sid, session(spa::core::SessionState::kRevoked).encode()).ok());
  ck_assert(b.nginx_sees(sid) == Lookup::kRevoked);
  ck_assert(a.comes_to(sid, Lookup::kRevoked));
  ck_assert(a.store.transact([&](Store::Txn& t) { return commit_if(t.del(Db::kSessions, sid)); }).ok());
  ck_assert(b.comes_to(sid, Lookup::kUnknown));
  // With no writes, the mirror is still confirmed, round after round.
  int64_t before = b.store.mirror_confirmed_ms();
  ck_assert(before > 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(4 * PgStore::kHeartbeatMs));
  ck_assert(b.store.mirror_confirmed_ms() > before);
  // A session this mirror lacks, in a token minted just now: on its way from another node.
  ck_assert(b.nginx_sees("ffffffffffffffffffffffffffffffff", std::time(nullptr)) == Lookup::kValid);
  ck_assert(b.nginx_sees("ffffffffffffffffffffffffffffffff", std::time(nullptr) - 60) == Lookup::kUnknown);
  std::string metrics = b.store.metrics();
  ck_assert(metrics.find("spa_authd_store_mirror_lag_seconds ") != std::string::npos);
  ck_assert(metrics.find("spa_authd_store_mirror_stale 0\n") != std::string::npos);
}
END_TEST

// A transaction that reads the session and writes it back changed by
// `change`, as a refresh rotation, a logout or a role change does.
Error rewrite(Store& s, const std::string& sid, const std::function<void(spa::core::SessionRecord&)>& change) {
  return s.transact([&](Store::Txn& t) {
    auto r = load_session(t, sid);
    ck_assert(r.has_value());
    change(*r);
    return commit_if(t.put(Db::kSessions, sid, r->encode()));
  });
}

// A refresh rotation only moves its session's end later: the write is
// answered without waiting for this node's mirror (which holds the session
// valid meanwhile) and reaches every mirror at the feed's next round. Every
// other session write is answered only once this node's mirror has it.
START_TEST(a_session_moved_later_is_answered_at_once_and_reaches_every_mirror_soon) {
  test::empty_test_database();
  Node a, b;
  const std::string sid = "00112233445566778899aabbccddeeff";
  const int64_t now = std::time(nullptr), far = now + PgStore::kDeferMargin;
  auto waits = [&] { return metric(a.store, "spa_authd_store_mirror_waits_total"); };
  auto deferred = [&] { return metric(a.store, "spa_authd_store_mirror_deferred_total"); };
  int64_t w = waits(), d = deferred();
  spa::core::SessionRecord begun = session(spa::core::SessionState::kActive);
  begun.expires_at = far + 100;
  // Begun: waited for, in A's mirror when answered.
  ck_assert(put(a.store, Db::kSessions, sid, begun.encode()).ok());
  ck_assert_int_eq(waits(), ++w);
  ck_assert(a.mirrored(sid).has_value());
  ck_assert(b.comes_to(sid, Lookup::kValid));
  // A rotation: not waited for; then on both mirrors, within a few rounds.
  ck_assert(rewrite(a.store, sid, [&](auto& r) { r.expires_at = far + 200; }).ok());
  ck_assert_int_eq(waits(), w);
  ck_assert_int_eq(deferred(), ++d);
  auto start = std::chrono::steady_clock::now();
  ck_assert(a.mirror_ends_at(sid, far + 200));
  ck_assert(b.mirror_ends_at(sid, far + 200));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  std::printf("a deferred session write reached both mirrors in %lld ms\n", static_cast<long long>(took));
  // The same value again (a floor recomputed to what it was): waited for.
  ck_assert(rewrite(a.store, sid, [&](auto&) {}).ok());
  ck_assert_int_eq(waits(), ++w);
  // Moved earlier: waited for.
  ck_assert(rewrite(a.store, sid, [&](auto& r) { r.expires_at = far + 150; }).ok());
  ck_assert_int_eq(waits(), ++w);
  ck_assert_int_eq(a.mirrored(sid)->expires_at, far + 150);
  // A floor set (a role change) with the end moved: waited for, and a
  // token of before the floor refused on A when answered.
  ck_assert(rewrite(a.store, sid, [&](auto& r) { r.tokens_not_before = now, r.expires_at = far + 300; }).ok());
  ck_assert_int_eq(waits(), ++w);
  ck_assert(a.nginx_sees(sid, now - 10) == Lookup::kRevoked);
  // The end it moves from within kDeferMargin (a mirror of some node may
  // still hold an older one): waited for; just past it, not.
  ck_assert(rewrite(a.store, sid, [&](auto& r) { r.expires_at = far - 5; }).ok());
  ck_assert_int_eq(waits(), ++w);
  ck_assert(rewrite(a.store, sid, [&](auto& r) { r.expires_at = far + 400; }).ok());
  ck_assert_int_eq(waits(), ++w);
  ck_assert_int_eq(a.mirrored(sid)->expires_at, far + 400);
  ck_assert(rewrite(a.store, sid, [&](auto& r) { r.expires_at = far + 500; }).ok());
  ck_assert_int_eq(waits(), w);
  ck_assert_int_eq(deferred(), ++d);
  // Written twice in one transaction, or after a scan, or without being read first: waited for.
  ck_assert(a.store.transact([&](Store::Txn& t) {
    auto r = load_session(t, sid);
    r->expires_at = far + 600;
    bool ok = t.put(Db::kSessions, sid, r->encode());
    r->expires_at = far + 700;
    return commit_if(ok && t.put(Db::kSessions, sid, r->encode()));
  }).ok());
  ck_assert_int_eq(waits(), ++w);
  ck_assert(a.store.transact([&](Store::Txn& t) {
    std::optional<spa::core::SessionRecord> r;
    t.scan(Db::kSessions, sid, [&](auto, std::string_view v) { return r = spa::core::SessionRecord::decode(v), false; });
    r->expires_at = far + 800;
    return commit_if(t.put(Db::kSessions, sid, r->encode()));
  }).ok());
  ck_assert_int_eq(waits(), ++w);
  begun.tokens_not_before = now;
  begun.expires_at = far + 900;
  ck_assert(put(a.store, Db::kSessions, sid, begun.encode()).ok());
  ck_assert_int_eq(waits(), ++w);
  // Deferred on A, then ended on B: refused on both (the round reads the
  // current value, never the deferred one).
  ck_assert(rewrite(a.store, sid, [&](auto& r) { r.expires_at = far + 1000; }).ok());
  ck_assert_int_eq(deferred(), ++d);
  ck_assert(rewrite(b.store, sid, [&](auto& r) {
              r.state = spa::core::SessionState::kRevoked;
              r.revoked_at = now;
            }).ok());
  ck_assert(b.nginx_sees(sid, now) == Lookup::kRevoked);
  ck_assert(a.comes_to(sid, Lookup::kRevoked, now));
  // An ended session's end moved later: waited for (only an active one's is not).
  ck_assert(rewrite(a.store, sid, [&](auto& r) { r.expires_at = far + 1100; }).ok());
  ck_assert_int_eq(waits(), ++w);
  // A revocation that finds the session ended already: waited for too.
  ck_assert(a.store.transact([&](Store::Txn& t) {
    ck_assert(load_session(t, sid)->state == spa::core::SessionState::kRevoked);
    t.await_mirror();
    return TxnEnd::kCommit;
  }).ok());
  ck_assert_int_eq(waits(), ++w);
  ck_assert_int_eq(deferred(), d);
}
END_TEST

// Through the service, as spa-authd runs it: a rotation is deferred, a
// logout waits for this node's mirror, and so does a logout of a session
// that is already ended (a retry after a 503, or the end made elsewhere).
START_TEST(a_rotation_through_the_service_is_deferred_and_its_logout_waits) {
  test::AuthWorld w;  // (on PostgreSQL, with a mirror: SPA_TEST_STORE=postgresql)
  ck_assert(w.pg != nullptr);
  auto waits = [&] { return metric(*w.pg, "spa_authd_store_mirror_waits_total"); };
  auto deferred = [&] { return metric(*w.pg, "spa_authd_store_mirror_deferred_total"); };
  w.signup_verified("rotates@example.com", "rotates", "rotates password 1");
  Outcome login = w.service->login("rotates@example.com", "rotates password 1", w.client);
  ck_assert(login.ok());
  int64_t w0 = waits(), d0 = deferred();
  w.now += 60;  // (a rotation in the same second would leave the end where it was)
  Outcome next = w.service->refresh(login.tokens->refresh_token, w.client);
  ck_assert_msg(next.ok(), "%s", next.code.c_str());
  ck_assert_int_eq(deferred(), d0 + 1);
  ck_assert_int_eq(waits(), w0);
  // Again in the same second: the session's end stays, unwritten (written
  // unchanged, it would wait).
  next = w.service->refresh(next.tokens->refresh_token, w.client);
  ck_assert_msg(next.ok(), "%s", next.code.c_str());
  ck_assert_int_eq(deferred(), d0 + 1);
  ck_assert_int_eq(waits(), w0);
  ck_assert(w.service->logout(std::nullopt, next.tokens->refresh_token, w.client).ok());
  ck_assert_int_eq(waits(), w0 + 1);
  ck_assert(w.service->logout(std::nullopt, next.tokens->refresh_token, w.client).ok());
  ck_assert_int_eq(waits(), w0 + 2);
  ck_assert_int_eq(deferred(), d0 + 1);
  // Disabled by an admin, then disabled again: the second finds the
  // session ended and waits too.
  w.config.admin_require_mfa = false;
  w.signup_verified("boss@example.com", "boss", "boss password 1");
  ck_assert(w.service->set_role("boss@example.com", "admin").ok());
  Outcome boss = w.service->login("boss@example.com", "boss password 1", w.client);
  ck_assert(boss.ok());
  Principal admin = w.principal(boss.tokens->access_token);
  Outcome user = w.service->login("rotates@example.com", "rotates password 1", w.client);
  ck_assert(user.ok());
  std::string user_id = w.principal(user.tokens->access_token).user_id;
  int64_t w1 = waits();
  ck_assert(w.service->admin_update_user(admin, user_id, {{"disabled", true}}, w.client).ok());
  ck_assert_int_eq(waits(), w1 + 1);
  ck_assert(w.service->admin_update_user(admin, user_id, {{"disabled", true}}, w.client).ok());
  ck_assert_int_eq(waits(), w1 + 2);
}
END_TEST

// A trigger `name` on spa_audit (`clause`: CREATE's words after CREATE, up
// to EXECUTE) running a PL/pgSQL function of the same name with `body`;
// one left by an earlier run is replaced. The test drops it at its end.
void audit_trigger(PGconn* admin, const std::string& name, const std::string& body, const std::string& clause) {
  sql1(admin, "CREATE OR REPLACE FUNCTION " + name + "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN " + body +
                  " END $$; DROP TRIGGER IF EXISTS " + name + " ON spa_audit; CREATE " + clause +
                  " EXECUTE FUNCTION " + name + "()");
}

// Writes are queued and sent together; one the server refuses (here a
// trigger raising) fails its transaction as if it had failed when made:
// the reads after it see nothing, and nothing of the transaction is kept.
START_TEST(a_queued_write_the_server_refuses_fails_its_transaction_whole) {
  test::empty_test_database();
  pg::Conn admin = raw();
  audit_trigger(admin.get(), "spa_test_refuse",
                "IF NEW.v = 'refused'::bytea THEN RAISE EXCEPTION 'refused by the test' USING DETAIL = 'a detail kept out';"
                " END IF; RETURN NEW;",
                "TRIGGER spa_test_refuse BEFORE INSERT OR UPDATE ON spa_audit FOR EACH ROW");
  Node a(false);
  int runs = 0;
  bool read_after = true;
  Error e = a.store.transact([&](Store::Txn& t) {
    ++runs;
    bool ok = t.put(Db::kUsers, "before", "1") && t.put(Db::kAudit, "audit", "refused") && t.put(Db::kUsers, "after", "2");
    ck_assert(ok);  // (queued: not yet sent)
    read_after = t.get(Db::kUsers, "before").has_value();
    return commit_if(ok);
  });
  ck_assert_int_eq(runs, 1);
  ck_assert(!read_after);  // the read that carried the refused write returned nothing
  ck_assert(e.code == Errc::kStoreFailed);
  ck_assert_msg(e.message.find("refused by the test") != std::string::npos, "%s", e.message.c_str());
  ck_assert_msg(e.message.find("a detail kept out") == std::string::npos, "%s", e.message.c_str());
  // Refused at the COMMIT's batch (no read after it): the same.
  e = a.store.transact([&](Store::Txn& t) {
    return commit_if(t.put(Db::kUsers, "before", "1") && t.put(Db::kAudit, "audit", "refused"));
  });
  ck_assert(e.code == Errc::kStoreFailed);
  a.store.view([&](const Store::Txn& t) {
    ck_assert(!t.get(Db::kUsers, "before"));
    ck_assert(!t.get(Db::kUsers, "after"));
    ck_assert(!t.get(Db::kAudit, "audit"));
  });
  // The connection is still good for the next transaction.
  ck_assert(put(a.store, Db::kUsers, "next", "3").ok());
  sql1(admin.get(), "DROP TRIGGER spa_test_refuse ON spa_audit; DROP FUNCTION spa_test_refuse()");
}
END_TEST

// The connection lost while the COMMIT runs: whether the write landed is
// unknown, so it is answered as unavailable and never run again (run twice,
// a rotation would make two successors, a sign-up two accounts).
START_TEST(a_write_whose_connection_dies_during_its_commit_is_not_run_again) {
  test::empty_test_database();
  pg::Conn admin = raw();
  // A deferred trigger: runs at the COMMIT, and sleeps there.
  audit_trigger(admin.get(), "spa_test_slow", "PERFORM pg_sleep(5); RETURN NULL;",
                "CONSTRAINT TRIGGER spa_test_slow AFTER INSERT ON spa_audit DEFERRABLE INITIALLY DEFERRED"
                " FOR EACH ROW WHEN (NEW.v = 'slow'::bytea)");
  Node a(false);
  for (bool reads : {false, true}) {
    std::atomic<bool> cut{false};
    std::thread killer([&] {
      pg::Conn k = raw();
      for (int i = 0; i < 1000 && !cut; ++i) {
        if (sql1(k.get(), "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                          " WHERE application_name = 'spa-authd' AND wait_event = 'PgSleep'"
                          " AND datname = current_database()") != "0")
          cut = true;
        else std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
    int runs = 0;
    Error e = a.store.transact([&](Store::Txn& t) {
      ++runs;
      if (reads) t.get(Db::kUsers, "x");
      return commit_if(t.put(Db::kUsers, "x", "1") && t.put(Db::kAudit, "slow", "slow"));
    });
    killer.join();
    ck_assert(cut);
    ck_assert_int_eq(runs, 1);
    ck_assert_msg(e.code == Errc::kStoreUnavailable, "%s", e.message.c_str());
    a.store.view([&](const Store::Txn& t) { ck_assert(!t.get(Db::kUsers, "x")); });  // (cut before it landed)
  }
  sql1(admin.get(), "DROP TRIGGER spa_test_slow ON spa_audit; DROP FUNCTION spa_test_slow()");
  ck_assert(put(a.store, Db::kUsers, "next", "3").ok());
}
END_TEST

// A database restored from a backup (its change sequence went back) or
// another one (its epoch differs): the change rows say nothing of what
// the mirror holds, and the feed reads the whole sessions table.
START_TEST(a_restored_or_other_database_is_read_whole) {
  test::empty_test_database();
  Node a;
  const std::string kept = "11111111111111111111111111111111", gone = "22222222222222222222222222222222";
  ck_assert(put(a.store, Db::kSessions, kept, session(spa::core::SessionState::kActive).encode()).ok());
  ck_assert(put(a.store, Db::kSessions, gone, session(spa::core::SessionState::kActive).encode()).ok());
  ck_assert(a.nginx_sees(gone) == Lookup::kValid);
  int64_t full = metric(a.store, "spa_authd_store_mirror_full_rounds_total");
  pg::Conn admin = raw();
  // The backup from before `gone` began: no such session, no change rows,
  // the sequence back at its start.
  auto drop_session = [&](const std::string& sid) {
    ck_assert(pg::ok(pg::Params().add(sid).run(admin.get(), "DELETE FROM spa_sessions WHERE k = $1").get()));
  };
  // (one transaction: no round sees the session gone while its change row
  // is there; the sequence, never transactional, goes back after)
  auto full_round_after = [&](int64_t before) {
    for (int i = 0; i < 1000 && metric(a.store, "spa_authd_store_mirror_full_rounds_total") <= before; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return metric(a.store, "spa_authd_store_mirror_full_rounds_total") > before;
  };
  sql1(admin.get(), "BEGIN");
  drop_session(gone);
  sql1(admin.get(), "TRUNCATE spa_session_changes; COMMIT");
  sql1(admin.get(), "SELECT setval('spa_session_changes_seq_seq', 1, false)");
  ck_assert(a.comes_to(gone, Lookup::kUnknown));  // (only a full round can see it gone)
  ck_assert(a.nginx_sees(kept) == Lookup::kValid);
  ck_assert(full_round_after(full));
  // Another database (its epoch): the same.
  full = metric(a.store, "spa_authd_store_mirror_full_rounds_total");
  sql1(admin.get(), "BEGIN");
  drop_session(kept);
  sql1(admin.get(), "UPDATE spa_feed_state SET epoch = gen_random_uuid()::text; COMMIT");
  ck_assert(a.comes_to(kept, Lookup::kUnknown));
  ck_assert(full_round_after(full));
}
END_TEST

START_TEST(a_feed_that_lost_its_connection_reads_what_it_missed) {
  test::empty_test_database();
  Node a, b;
  // (the feed's first round of its own connection: open's round had another)
  for (int i = 0; i < 1000 && metric(b.store, "spa_authd_store_mirror_rounds_total") < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  pg::Conn admin = raw();
  // Every connection of spa-authd's dropped (a PostgreSQL restart, a failover).
  sql1(admin.get(), "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = 'spa-authd' AND pid <> pg_backend_pid()");
  // B's feed notices (its next wait or round fails) before A writes.
  for (int i = 0; i < 1000 && metric(b.store, "spa_authd_store_mirror_failures_total") == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ck_assert_int_ge(metric(b.store, "spa_authd_store_mirror_failures_total"), 1);
  const std::string sid = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  // The pool finds its connections dead at the write's first round trip,
  // drops them all and tries the write once more on a new one: the
  // restart costs the caller nothing.
  Error e = put(a.store, Db::kSessions, sid, session(spa::core::SessionState::kActive).encode());
  ck_assert_msg(e.ok(), "%s", e.message.c_str());
  sql1(admin.get(), "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = 'spa-authd' AND pid <> pg_backend_pid()");
  Error read = a.store.view([&](const Store::Txn& t) { ck_assert(t.get(Db::kSessions, sid)); });
  ck_assert_msg(read.ok(), "a read after the restart: %s", read.message.c_str());  // (the same for a read)
  ck_assert(b.comes_to(sid, Lookup::kValid));
  // It read everything again after reconnecting (the first full round is
  // open's; the count goes up just after the round wrote the mirror).
  for (int i = 0; i < 1000 && metric(b.store, "spa_authd_store_mirror_full_rounds_total") < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ck_assert_int_ge(metric(b.store, "spa_authd_store_mirror_full_rounds_total"), 2);
}
END_TEST

START_TEST(a_change_committed_after_later_ones_is_not_missed) {
  test::empty_test_database();
  Node a, b;
  const std::string late = "11111111111111111111111111111111", early = "22222222222222222222222222222222";
  // A writer that takes its change's number, then waits before it commits...
  pg::Conn slow = raw();
  sql1(slow.get(), "BEGIN");
  pg::Result r = pg::Params()
                     .add(late)
                     .add(session(spa::core::SessionState::kActive).encode())
                     .run(slow.get(), "INSERT INTO spa_sessions (k, v) VALUES ($1, $2)");
  ck_assert(pg::ok(r.get()));
  r = pg::Params().add(late).run(slow.get(), "INSERT INTO spa_session_changes (sid) VALUES ($1)");
  ck_assert(pg::ok(r.get()));
  // ...while another commits a later number, and every mirror moves past it.
  ck_assert(put(a.store, Db::kSessions, early, session(spa::core::SessionState::kActive).encode()).ok());
  ck_assert(b.comes_to(early, Lookup::kValid));
  std::this_thread::sleep_for(std::chrono::milliseconds(2 * PgStore::kHeartbeatMs));
  sql1(slow.get(), "COMMIT");
  ck_assert(b.comes_to(late, Lookup::kValid));
  ck_assert(a.comes_to(late, Lookup::kValid));
}
END_TEST

START_TEST(a_single_machines_store_moves_into_the_database_whole) {
  unsetenv("SPA_TEST_STORE");
  test::AuthWorld one;  // the single machine: LMDB
  ck_assert(one.pg == nullptr);
  one.signup_verified("moved@example.com", "moved", "moved password 1");
  Outcome login = one.service->login("moved@example.com", "moved password 1", one.client);
  ck_assert(login.ok());
  ck_assert(one.service->signup("waiting@example.com", "waiting", "waiting password 1", one.client).ok());
  // A TOTP seed, sealed under the MFA key (set up, not yet enabled).
  Outcome setup = one.service->mfa_setup(one.principal(login.tokens->access_token));
  ck_assert_msg(setup.ok(), "%s", setup.code.c_str());
  // An installation from before the indexes: the unverified entry absent,
  // no meta "indexes" at all. The import builds them as an open would.
  ck_assert(one.store.transact([](Store::Txn& t) {
    std::vector<std::string> keys;
    t.scan(Db::kUnverified, "", [&](std::string_view k, std::string_view) { return keys.emplace_back(k), true; });
    ck_assert_uint_eq(keys.size(), 1);
    bool ok = t.del(Db::kMeta, "indexes");
    for (const auto& k : keys) ok = ok && t.del(Db::kUnverified, k);
    return commit_if(ok);
  }).ok());
  std::map<Db, size_t> counts;
  one.store.view([&](const Store::Txn& t) {
    for (Db db : {Db::kUsers, Db::kSessions, Db::kRefresh, Db::kAudit, Db::kUserSessions, Db::kSessionRefresh})
      t.scan(db, "", [&](std::string_view, std::string_view) { return ++counts[db], true; });
  });
  const std::string source = one.dir + "/store/private";

  test::empty_test_database();
  Node node(false);
  ImportResult r = import_lmdb_store(source, node.store, {one.mfa_key, 1 << 30});
  ck_assert_msg(r.error.empty(), "%s", r.error.c_str());
  ck_assert_msg(r.warnings.empty(), "%s", r.warnings.empty() ? "" : r.warnings[0].c_str());
  for (auto [db, n] : counts)
    ck_assert_msg(r.rows[static_cast<int>(db)] == n, "%s: %llu imported of %zu", db_name(db),
                  static_cast<unsigned long long>(r.rows[static_cast<int>(db)]), n);
  ck_assert_uint_gt(r.bytes, 0);
  node.store.view([&](const Store::Txn& t) {
    for (auto [db, n] : counts) {
      size_t there = 0;
      t.scan(db, "", [&](std::string_view, std::string_view) { return ++there, true; });
      ck_assert_msg(there == n, "%s: %zu in the database, %zu in LMDB", db_name(db), there, n);
    }
    size_t unverified = 0;
    t.scan(Db::kUnverified, "", [&](std::string_view, std::string_view) { return ++unverified, true; });
    ck_assert_uint_eq(unverified, 1);  // built in the import's transaction
    ck_assert_str_eq(t.get(Db::kMeta, "indexes").value_or("").c_str(), "2");
    ck_assert(!t.get(Db::kMeta, "timing_pad"));
  });

  // The same users, sessions and tokens, through a service on the database
  // (the same keys and MFA key: the operator keeps and copies them).
  AuthService moved(one.config, node.store, *one.keys, one.hasher, [&one] { return one.now; }, {one.mfa_key});
  Outcome refreshed = moved.refresh(login.tokens->refresh_token, one.client);
  ck_assert_msg(refreshed.ok(), "the refresh token from before the move: %s", refreshed.code.c_str());
  ck_assert(moved.login("moved@example.com", "moved password 1", one.client).ok());
  ck_assert_int_eq(moved.login("moved@example.com", "wrong password 1", one.client).status, 401);

  // Refused, with nothing written: a second import, the mirror, no store, another schema.
  auto users = [&](Store& store) {
    size_t n = 0;
    ck_assert(store.view([&](const Store::Txn& t) { t.scan(Db::kUsers, "", [&](auto, auto) { return ++n, true; }); }).ok());
    return n;
  };
  size_t users_before = users(node.store);
  ck_assert_uint_eq(users_before, 2);
  ImportResult again = import_lmdb_store(source, node.store, {one.mfa_key});
  ck_assert_msg(again.error.find("already holds records (table users)") != std::string::npos, "%s", again.error.c_str());
  ck_assert_uint_eq(users(node.store), users_before);
  test::empty_test_database();
  Node empty(false);
  ImportResult mirror = import_lmdb_store(one.dir + "/store", empty.store, {one.mfa_key});
  ck_assert_msg(mirror.error.find("is not a whole spa-authd store") != std::string::npos, "%s", mirror.error.c_str());
  ImportResult none = import_lmdb_store(one.dir + "/nothing", empty.store, {one.mfa_key});
  ck_assert_msg(none.error.find("holds no LMDB store") != std::string::npos, "%s", none.error.c_str());
  // A daemon still writing the source: refused, nothing imported (a logout
  // after the snapshot would be lost).
  WritingMeanwhile busy(empty.store, [&] {
    ck_assert(one.store.transact([](Store::Txn& t) { return commit_if(t.put(Db::kMeta, "timing_pad", "")); }).ok());
  });
  // Another node's MFA key (the old machine's file not copied): every TOTP would fail.
  ImportResult other_key = import_lmdb_store(source, empty.store, {spa::authd::random_bytes(32)});
  ck_assert_msg(other_key.error.find("mfa.secret_key_file does not open the TOTP secrets") != std::string::npos, "%s",
                other_key.error.c_str());
  ck_assert_uint_eq(users(empty.store), 0);
  ImportResult live = import_lmdb_store(source, busy, {one.mfa_key});
  ck_assert_msg(live.error.find("was written during the import") != std::string::npos, "%s", live.error.c_str());
  ck_assert_uint_eq(users(empty.store), 0);
  ck_assert(one.store.transact([](Store::Txn& t) { return commit_if(t.put(Db::kMeta, "schema_version", "9")); }).ok());
  ImportResult newer = import_lmdb_store(source, empty.store, {one.mfa_key});
  ck_assert_msg(newer.error.find("has schema version 9, this spa-authd reads version 1") != std::string::npos, "%s",
                newer.error.c_str());
  ck_assert_uint_eq(users(empty.store), 0);
  // More than max_size: imported, with a warning saying what follows.
  ck_assert(one.store.transact([](Store::Txn& t) { return commit_if(t.put(Db::kMeta, "schema_version", "1")); }).ok());
  ImportResult big = import_lmdb_store(source, empty.store, {one.mfa_key, 100});
  ck_assert_msg(big.error.empty(), "%s", big.error.c_str());
  ck_assert_uint_eq(big.warnings.size(), 1);
  ck_assert_msg(big.warnings[0].find("more than [store] max_size (100)") != std::string::npos, "%s",
                big.warnings[0].c_str());
  ck_assert_uint_eq(users(empty.store), 2);
  // No TOTP seed to check the MFA key against: imported, with a warning.
  ck_assert(one.store.transact([](Store::Txn& t) {
    std::vector<std::pair<std::string, UserRecord>> all;
    t.scan(Db::kUsers, "", [&](std::string_view k, std::string_view v) {
      if (auto u = UserRecord::from_json(v)) all.emplace_back(std::string(k), *u);
      return true;
    });
    bool ok = all.size() == 2;
    for (auto& [k, u] : all) ok = ok && (u.mfa.reset(), t.put_record(Db::kUsers, k, u));
    return commit_if(ok);
  }).ok());
  test::empty_test_database();
  ImportResult blind = import_lmdb_store(source, empty.store, {spa::authd::random_bytes(32)});
  ck_assert_msg(blind.error.empty(), "%s", blind.error.c_str());
  ck_assert_uint_eq(blind.warnings.size(), 1);
  ck_assert_msg(blind.warnings[0].find("no TOTP seed in the store to check mfa.secret_key_file") != std::string::npos,
                "%s", blind.warnings[0].c_str());
}
END_TEST

// Every statement of the store reads by index, even on a table of a few
// rows whose statistics make a sequential scan look cheaper: under
// SERIALIZABLE a sequential scan locks the whole table, and every two
// writers of it at once then conflict (measured before: more retries than
// commits, bench/cluster.pl).
START_TEST(the_stores_reads_take_the_index_whatever_the_statistics) {
  test::empty_test_database();
  Node a(false);
  for (int i = 0; i < 5; ++i) ck_assert(put(a.store, Db::kUsers, "user " + std::to_string(i), "{}").ok());
  pg::Conn admin = raw();
  sql1(admin.get(), "ANALYZE spa_users");  // a table of one page, known to be so
  auto scans = [&](const char* kind) {
    return std::atoll(sql1(admin.get(), std::string("SELECT ") + kind +
                                            " FROM pg_stat_user_tables WHERE relname = 'spa_users'").c_str());
  };
  int64_t seq0 = scans("seq_scan"), idx0 = scans("idx_scan");
  for (int i = 0; i < 20; ++i)
    ck_assert(a.store.view([&](const Store::Txn& t) { ck_assert(t.get(Db::kUsers, "user 1")); }).ok());
  // (a backend reports its counts within a second or so of going idle)
  for (int i = 0; i < 500 && scans("idx_scan") < idx0 + 20; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ck_assert_int_ge(scans("idx_scan"), idx0 + 20);
  ck_assert_int_eq(scans("seq_scan"), seq0);
}
END_TEST

Suite* pg_store_suite() {
  Suite* s = suite_create("pg_store");
  TCase* tc = tcase_create("pg_store");
  tcase_set_timeout(tc, 60);
  // Only with a server (tests/unit/with-postgres): `make unit` runs it so.
  if (std::getenv("SPA_TEST_PG")) {
    tcase_add_test(tc, the_schema_is_made_by_migrate_and_refused_when_missing_or_newer);
    tcase_add_test(tc, transactions_and_scans_keep_the_interfaces_rules);
    tcase_add_test(tc, two_nodes_writing_the_same_record_at_once_lose_no_update);
    tcase_add_test(tc, one_node_of_all_claims_a_duty);
    tcase_add_test(tc, the_signing_keys_are_the_clusters);
    tcase_add_test(tc, a_refresh_token_at_two_nodes_at_once_rotates_once);
    tcase_add_test(tc, a_session_written_on_one_node_reaches_every_mirror);
    tcase_add_test(tc, a_session_moved_later_is_answered_at_once_and_reaches_every_mirror_soon);
    tcase_add_test(tc, a_rotation_through_the_service_is_deferred_and_its_logout_waits);
    tcase_add_test(tc, a_queued_write_the_server_refuses_fails_its_transaction_whole);
    tcase_add_test(tc, a_write_whose_connection_dies_during_its_commit_is_not_run_again);
    tcase_add_test(tc, a_restored_or_other_database_is_read_whole);
    tcase_add_test(tc, a_feed_that_lost_its_connection_reads_what_it_missed);
    tcase_add_test(tc, a_change_committed_after_later_ones_is_not_missed);
    tcase_add_test(tc, a_single_machines_store_moves_into_the_database_whole);
    tcase_add_test(tc, the_stores_reads_take_the_index_whatever_the_statistics);
  }
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(pg_store_suite);
