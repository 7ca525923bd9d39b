// The session record the module reads (core/session_record.h), store
// transactions (all or nothing, prefix scans, the schema version), and the
// module's reader seeing what authd writes at once.
#include <filesystem>
#include <cstdlib>

#include "authd/lmdb_store.h"
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

Suite* session_store_suite() {
  Suite* s = suite_create("session_store");
  TCase* tc = tcase_create("core");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, session_record_round_trip_and_fail_closed);
  tcase_add_test(tc, store_commits_all_or_nothing);
  tcase_add_test(tc, store_refuses_another_schema_version);
  tcase_add_test(tc, session_reader_sees_writes_at_once);
  tcase_add_test(tc, session_floor_refuses_older_tokens);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(session_store_suite);
