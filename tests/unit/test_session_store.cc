// The session record the module reads (core/session_record.h), store
// transactions (all or nothing, prefix scans, the schema version), and the
// module's reader seeing what authd writes at once.
#include <filesystem>
#include <memory>
#include <cstdlib>

#include "authd/lmdb_store.h"
#include "authd/session_mirror.h"
#include "core/session_reader.h"
#include "core/session_record.h"
#include "tests/unit/helpers.h"

using namespace spa::authd;
using spa::core::SessionRecord;
using spa::core::SessionState;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/spa-store-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::error_code ignored; std::filesystem::remove_all(path, ignored); }
};

}  // namespace

START_TEST(session_record_round_trip_and_fail_closed) {
  SessionRecord r;
  r.state = SessionState::kActive;
  r.created_at = 1795339906;
  r.expires_at = r.created_at + 604800;
  r.user_id[0] = 0xab;
  r.user_id[15] = 0xcd;
  std::string bytes = r.encode();
  ck_assert_uint_eq(bytes.size(), SessionRecord::kSize);
  auto back = SessionRecord::decode(bytes);
  ck_assert(back && back->expires_at == r.expires_at && back->user_id == r.user_id);
  ck_assert(back->valid_at(r.expires_at - 1));
  ck_assert(!back->valid_at(r.expires_at));
  ck_assert(!SessionRecord::decode(bytes.substr(1)));
  std::string wrong_version = bytes;
  wrong_version[0] = 2;
  ck_assert(!SessionRecord::decode(wrong_version));
  std::string wrong_state = bytes;
  wrong_state[1] = 9;
  ck_assert(!SessionRecord::decode(wrong_state));
  r.state = SessionState::kUserDisabled;
  ck_assert(!SessionRecord::decode(r.encode())->valid_at(r.created_at));
  // The session is its user's: sub is the user id's lowercase hex, whole.
  ck_assert(back->belongs_to("ab0000000000000000000000000000cd"));
  ck_assert(!back->belongs_to("AB0000000000000000000000000000CD"));
  ck_assert(!back->belongs_to("ab0000000000000000000000000000ce"));
  ck_assert(!back->belongs_to("ab0000000000000000000000000000c"));
  ck_assert(!back->belongs_to("ab0000000000000000000000000000cd0"));
  ck_assert(!back->belongs_to(""));
  ck_assert(!back->belongs_to("alice"));
}
END_TEST

START_TEST(store_commits_all_or_nothing) {
  TempDir d;
  LmdbStore store;
  std::string err;
  ck_assert_msg(store.open(d.path + "/db", err), "%s", err.c_str());
  ck_assert(store.transact([](Store::Txn& t) { return commit_if(t.put(Db::kUsers, "u1", "{}") && t.put(Db::kUsersByEmail, "a", "u1")); }).ok());
  // A transaction that gives up leaves nothing behind.
  Error e = store.transact([](Store::Txn& t) {
    t.put(Db::kUsers, "u2", "{}");
    return TxnEnd::kAbort;
  });
  ck_assert(e.ok() && e.message.empty());  // given up, not failed
  bool u1 = false, u2 = true;
  ck_assert(store.view([&](const Store::Txn& t) {
    u1 = t.get(Db::kUsers, "u1").has_value();
    u2 = t.get(Db::kUsers, "u2").has_value();
  }).ok());
  ck_assert(u1 && !u2);
  // Prefix scans stop at the prefix.
  ck_assert(store.transact([](Store::Txn& t) {
    return commit_if(t.put(Db::kUserSessions, "u1:a", "") && t.put(Db::kUserSessions, "u1:b", "") && t.put(Db::kUserSessions, "u2:c", ""));
  }).ok());
  int seen = 0;
  store.view([&](const Store::Txn& t) { t.scan(Db::kUserSessions, "u1:", [&](std::string_view, std::string_view) { ++seen; return true; }); });
  ck_assert_int_eq(seen, 2);
}
END_TEST

START_TEST(store_refuses_another_schema_version) {
  TempDir d;
  std::string err;
  {
    LmdbStore store;
    ck_assert(store.open(d.path + "/db", err));
    ck_assert(store.transact([](Store::Txn& t) { return commit_if(t.put(Db::kMeta, "schema_version", "99")); }).ok());
  }
  LmdbStore again;
  ck_assert(!again.open(d.path + "/db", err));
  ck_assert(err.find("schema version 99") != std::string::npos);
}
END_TEST

// The user id of records that set none, as a token's `sub` names it.
const std::string kNobody(32, '0');

START_TEST(session_reader_sees_writes_at_once) {
  TempDir d;
  LmdbStore store;
  std::string err;
  ck_assert(store.open(d.path + "/db", err));
  SessionRecord r;
  r.created_at = 100;
  r.expires_at = 1000;
  ck_assert(store.transact([&](Store::Txn& t) { return commit_if(t.put(Db::kSessions, "sid1", r.encode())); }).ok());
  spa::core::SessionReader reader;
  ck_assert_msg(reader.open(d.path + "/db", err), "%s", err.c_str());
  ck_assert(reader.check("sid1", kNobody, 500, 400, err) == spa::core::SessionReader::Lookup::kValid);
  ck_assert(reader.check("nope", kNobody, 500, 400, err) == spa::core::SessionReader::Lookup::kUnknown);
  ck_assert(reader.check("", kNobody, 500, 400, err) == spa::core::SessionReader::Lookup::kUnknown);
  ck_assert(reader.check(std::string(600, 'a'), kNobody, 500, 400, err) == spa::core::SessionReader::Lookup::kUnknown);
  ck_assert(reader.check("sid1", kNobody, 1000, 400, err) == spa::core::SessionReader::Lookup::kRevoked);
  // Another subject on this session: refused as revoked.
  ck_assert(reader.check("sid1", std::string(31, '0') + "1", 500, 400, err) == spa::core::SessionReader::Lookup::kRevoked);
  ck_assert(reader.check("sid1", "alice", 500, 400, err) == spa::core::SessionReader::Lookup::kRevoked);
  r.state = SessionState::kRevoked;
  ck_assert(store.transact([&](Store::Txn& t) { return commit_if(t.put(Db::kSessions, "sid1", r.encode())); }).ok());
  ck_assert(reader.check("sid1", kNobody, 500, 400, err) == spa::core::SessionReader::Lookup::kRevoked);
  ck_assert(store.transact([&](Store::Txn& t) { return commit_if(t.put(Db::kSessions, "sid2", "garbage")); }).ok());
  ck_assert(reader.check("sid2", kNobody, 500, 400, err) == spa::core::SessionReader::Lookup::kUnknown);
}
END_TEST

// A role or password change floors the session: tokens issued before
// tokens_not_before are refused by the module, later ones pass.
START_TEST(session_floor_refuses_older_tokens) {
  SessionRecord r;
  r.created_at = 100;
  r.expires_at = 10'000;
  ck_assert(r.accepts(500, 100) && r.accepts(500, std::nullopt));
  r.tokens_not_before = 400;
  auto back = SessionRecord::decode(r.encode());
  ck_assert(back && back->tokens_not_before == 400);
  ck_assert(!back->accepts(500, 399));
  ck_assert(back->accepts(500, 400) && back->accepts(500, 450));
  ck_assert(!back->accepts(500, std::nullopt));  // no iat, no way to tell: refused
  ck_assert(!back->accepts(10'000, 450));        // the session's end still ends it
  // A floor at or before created_at rounds towards refusing.
  r.tokens_not_before = 50;
  ck_assert_int_eq(SessionRecord::decode(r.encode())->tokens_not_before, 101);
  // Records written before the field existed (zero bytes) have no floor.
  std::string old = SessionRecord{}.encode();
  ck_assert(old.substr(4, 4) == std::string(4, '\0'));
  ck_assert_int_eq(SessionRecord::decode(old)->tokens_not_before, 0);

  TempDir d;
  LmdbStore store;
  std::string err;
  ck_assert(store.open(d.path + "/db", err));
  r.tokens_not_before = 400;
  ck_assert(store.transact([&](Store::Txn& t) { return commit_if(t.put(Db::kSessions, "sid1", r.encode())); }).ok());
  spa::core::SessionReader reader;
  ck_assert(reader.open(d.path + "/db", err));
  ck_assert(reader.check("sid1", kNobody, 500, 399, err) == spa::core::SessionReader::Lookup::kRevoked);
  ck_assert(reader.check("sid1", kNobody, 500, 400, err) == spa::core::SessionReader::Lookup::kValid);
}
END_TEST

// A mirror fed from a shared store (PostgreSQL's feed) vouches for its
// sessions only while its confirmation is younger than max_staleness; a
// session it lacks in a token minted about when it was confirmed is on its
// way from another node. LMDB's own store drops such a confirmation.
START_TEST(a_fed_mirror_vouches_only_while_confirmed) {
  using Lookup = spa::core::SessionReader::Lookup;
  TempDir d;
  auto mirror_owner = std::make_unique<SessionMirror>();
  SessionMirror& mirror = *mirror_owner;
  std::string err;
  ck_assert_msg(mirror.open(d.path, 1 << 24, err), "%s", err.c_str());
  const int64_t now = 1'800'000'000;
  SessionRecord rec;
  rec.created_at = now - 100;
  rec.expires_at = now + 3600;
  const std::string sub(32, '0');
  spa::core::SessionReader reader;
  ck_assert_msg(reader.open(d.path, err), "%s", err.c_str());
  // Opened, not yet confirmed: nothing is vouched for.
  ck_assert(reader.check("s1", sub, now, now, err) == Lookup::kError);
  ck_assert_msg(err.find("not yet confirmed") != std::string::npos, "%s", err.c_str());
  ck_assert(mirror.apply({{"s1", rec.encode()}}, now * 1000, 30).empty());
  ck_assert(reader.check("s1", sub, now, now - 50, err) == Lookup::kValid);
  ck_assert(reader.check("s1", sub, now + 30, now - 50, err) == Lookup::kValid);
  err.clear();
  ck_assert(reader.check("s1", sub, now + 31, now - 50, err) == Lookup::kError);
  ck_assert_msg(err.find("31 s ago, more than store.max_staleness (30 s)") != std::string::npos, "%s", err.c_str());
  ck_assert(reader.stale());  // (an open WebSocket closes on it)
  ck_assert(reader.check("s1", sub, now, now - 50, err) == Lookup::kValid && !reader.stale());
  // Unknown: young enough to be on its way, or not.
  ck_assert(reader.check("s2", sub, now, now, err) == Lookup::kValid);
  ck_assert(reader.check("s2", sub, now, now - spa::core::SessionReader::kClockSkew, err) == Lookup::kValid);
  ck_assert(reader.check("s2", sub, now, now - spa::core::SessionReader::kClockSkew - 1, err) == Lookup::kUnknown);
  ck_assert(reader.check("s2", sub, now, std::nullopt, err) == Lookup::kUnknown);
  // Only while the confirmation is fresh: a node cut off for longer cannot know what became of it.
  const int64_t later = now + spa::core::SessionReader::kFreshConfirmation;
  ck_assert(reader.check("s2", sub, later, later, err) == Lookup::kValid);
  ck_assert(reader.check("s2", sub, later + 1, later + 1, err) == Lookup::kUnknown);
  ck_assert(reader.check("s1", sub, later + 1, now - 50, err) == Lookup::kValid);  // (what it holds, it still vouches for)
  // Revoked stays revoked, however young the token.
  rec.state = SessionState::kRevoked;
  rec.revoked_at = now;
  ck_assert(mirror.apply({{"s1", rec.encode()}, {"s3", std::nullopt}}, now * 1000, 30).empty());
  ck_assert(reader.check("s1", sub, now, now, err) == Lookup::kRevoked);
  // Every session replaced at once (a full round): what it lacks goes.
  size_t written = 0, deleted = 0;
  ck_assert(mirror.replace_all({{"s4", SessionRecord{}.encode()}}, now * 1000, 30, written, deleted).empty());
  ck_assert(written == 1 && deleted == 1);
  ck_assert(reader.check("s1", sub, now, now - 10, err) == Lookup::kUnknown);
  // The same directory as a single machine's LMDB store: always current.
  // (One process may not open an environment twice, nor keep a reader
  // across another handle's close: nginx and spa-authd are two processes.)
  mirror_owner.reset();
  LmdbStore store;
  ck_assert_msg(store.open(d.path, err), "%s", err.c_str());
  spa::core::SessionReader again;
  ck_assert_msg(again.open(d.path, err), "%s", err.c_str());
  Lookup seen = again.check("s2", sub, now + 1000, now + 1000, err);
  ck_assert_msg(seen == Lookup::kUnknown, "%d %s", static_cast<int>(seen), err.c_str());
}
END_TEST

Suite* session_store_suite() {
  Suite* s = suite_create("session_store");
  TCase* tc = tcase_create("core");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, session_record_round_trip_and_fail_closed);
  tcase_add_test(tc, store_commits_all_or_nothing);
  tcase_add_test(tc, store_refuses_another_schema_version);
  tcase_add_test(tc, session_reader_sees_writes_at_once);
  tcase_add_test(tc, session_floor_refuses_older_tokens);
  tcase_add_test(tc, a_fed_mirror_vouches_only_while_confirmed);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(session_store_suite);
