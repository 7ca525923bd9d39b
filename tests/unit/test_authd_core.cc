// spa-authd's pure pieces: the refresh state machine (time passed in),
// sealing, the session record format, passwords and input validation, and
// store transactions.
#include <cstdlib>

#include "authd/crypto.h"
#include "authd/passwords.h"
#include "authd/refresh_rotation.h"
#include "authd/lmdb_store.h"
#include "core/session_reader.h"
#include "core/session_record.h"
#include "tests/unit/helpers.h"

using namespace spa::authd;
using spa::core::SessionRecord;
using spa::core::SessionState;

namespace {

RefreshRecord fresh(int64_t issued, int64_t ttl) {
  RefreshRecord r;
  r.sid = "s";
  r.user_id = "u";
  r.issued_at = issued;
  r.expires_at = issued + ttl;
  return r;
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/spa-store-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf " + path).c_str()); }
};

}  // namespace

START_TEST(rotation_first_use_rotates) {
  RefreshRecord r = fresh(1000, 3600);
  ck_assert(decide_refresh(&r, true, 1000, 10) == RefreshDecision::kRotate);
  ck_assert(decide_refresh(&r, true, 4599, 10) == RefreshDecision::kRotate);
}
END_TEST

START_TEST(rotation_expiry_and_ended_sessions) {
  RefreshRecord r = fresh(1000, 3600);
  ck_assert(decide_refresh(&r, true, 4600, 10) == RefreshDecision::kExpired);
  ck_assert(decide_refresh(&r, false, 2000, 10) == RefreshDecision::kSessionEnded);
  ck_assert(decide_refresh(nullptr, true, 2000, 10) == RefreshDecision::kUnknown);
}
END_TEST

START_TEST(rotation_grace_window_boundaries) {
  RefreshRecord r = fresh(1000, 3600);
  r.rotated_at = 2000;
  r.successor = "abc";
  r.successor_box = "sealed";
  ck_assert(decide_refresh(&r, true, 2000, 10) == RefreshDecision::kSameSuccessor);
  ck_assert(decide_refresh(&r, true, 2010, 10) == RefreshDecision::kSameSuccessor);
  ck_assert(decide_refresh(&r, true, 2011, 10) == RefreshDecision::kReuse);
  ck_assert(decide_refresh(&r, true, 2000, 0) == RefreshDecision::kSameSuccessor);
  ck_assert(decide_refresh(&r, true, 2001, 0) == RefreshDecision::kReuse);
  // A revoked family never hands out its successor, even inside the window.
  ck_assert(decide_refresh(&r, false, 2005, 10) == RefreshDecision::kReuse);
  // Without a sealed successor there is nothing to hand out.
  r.successor_box.clear();
  ck_assert(decide_refresh(&r, true, 2005, 10) == RefreshDecision::kReuse);
}
END_TEST

START_TEST(refresh_record_round_trip_and_garbage) {
  RefreshRecord r = fresh(1000, 3600);
  r.rotated_at = 1500;
  r.parent = "ee";
  r.successor = "ff";
  r.successor_box = "box";
  auto back = RefreshRecord::from_json(r.to_json());
  ck_assert(back && back->sid == "s" && back->rotated_at == 1500 && back->successor_box == "box" && back->parent == "ee");
  ck_assert(!RefreshRecord::from_json("{}"));
  ck_assert(!RefreshRecord::from_json("not json"));
  ck_assert(!RefreshRecord::from_json(R"({"sid":1,"user":"u","issued_at":1,"expires_at":2,"rotated_at":0})"));
}
END_TEST

START_TEST(sealed_boxes_open_only_with_their_key_and_aad) {
  std::string key = hkdf_sha256("refresh-token-1", "info");
  std::string other = hkdf_sha256("refresh-token-2", "info");
  ck_assert_uint_eq(key.size(), 32);
  ck_assert(key != other);
  std::string box = seal(key, "the pair", "aad");
  ck_assert(open_sealed(key, box, "aad") == std::string("the pair"));
  ck_assert(!open_sealed(other, box, "aad"));
  ck_assert(!open_sealed(key, box, "other aad"));
  std::string tampered = box;
  tampered[15] ^= 1;
  ck_assert(!open_sealed(key, tampered, "aad"));
  ck_assert(!open_sealed(key, box.substr(0, 20), "aad"));
  ck_assert(seal(key, "the pair", "aad") != box);  // fresh nonce each time
}
END_TEST

START_TEST(random_ids_and_constant_time_compare) {
  ck_assert_uint_eq(random_hex_id().size(), 32);
  ck_assert_uint_eq(random_token().size(), 43);
  ck_assert(random_token() != random_token());
  ck_assert(equal_secret("abc", "abc"));
  ck_assert(!equal_secret("abc", "abd"));
  ck_assert(!equal_secret("abc", "abcd"));
  ck_assert(hex(sha256("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");  // FIPS 180-2 B.1
}
END_TEST

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
}
END_TEST

START_TEST(passwords_hash_and_verify) {
  PasswordHasher h(19456, 2, 1);
  std::string phc = h.hash("correct horse battery").value();
  ck_assert(phc.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0) == 0);
  ck_assert(h.verify(phc, "correct horse battery") == true);
  ck_assert(h.verify(phc, "correct horse batterY") == false);
  ck_assert(h.verify("garbage", "x") == false);
  ck_assert(h.hash("correct horse battery").value() != phc);  // salted
}
END_TEST

START_TEST(password_rules) {
  ck_assert(!password_problem("correct horse", "a@example.com", "alice"));
  ck_assert(password_problem("short", "a@example.com", "alice"));
  ck_assert(password_problem(std::string(129, 'x'), "a@example.com", "alice"));
  ck_assert(!password_problem(std::string(128, 'x'), "a@example.com", "alice"));
  ck_assert(password_problem("PASSWORD123", "a@example.com", "alice"));  // common, any case
  ck_assert(password_problem("alice@example.com", "alice@example.com", "bob"));
  // 8 characters of UTF-8 (16 bytes) count as 8, not 16.
  ck_assert(!password_problem("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", "a@example.com", "alice"));
  ck_assert(password_problem("\xc3\xa9\xc3\xa9\xc3\xa9", "a@example.com", "alice"));
}
END_TEST

START_TEST(email_and_username_rules) {
  for (const char* ok : {"a@example.com", "first.last+tag@sub.example.org", "A_B@x-y.io"})
    ck_assert_msg(valid_email(ok), "refused %s", ok);
  for (const char* bad : {"", "a", "@example.com", "a@", "a@b", "a@@b.com", "a b@example.com", "a@-x.com",
                          "a@x-.com", ".a@example.com", "a..b@example.com", "a@exa mple.com", "a@example..com"})
    ck_assert_msg(!valid_email(bad), "accepted %s", bad);
  ck_assert(valid_username("alice_01"));
  ck_assert(!valid_username("al"));
  ck_assert(!valid_username("_alice"));
  ck_assert(!valid_username("alice!"));
  ck_assert(!valid_username(std::string(33, 'a')));
  ck_assert(fold("Alice@Example.COM") == "alice@example.com");
}
END_TEST

START_TEST(store_commits_all_or_nothing) {
  TempDir d;
  LmdbStore store;
  std::string err;
  ck_assert_msg(store.open(d.path + "/db", err), "%s", err.c_str());
  ck_assert(store.write([](Store::Txn& t) { return t.put(Db::kUsers, "u1", "{}") && t.put(Db::kUsersByEmail, "a", "u1"); }, err));
  // A transaction that gives up leaves nothing behind.
  err.clear();
  ck_assert(!store.write([](Store::Txn& t) { t.put(Db::kUsers, "u2", "{}"); return false; }, err));
  ck_assert(err.empty());
  bool u1 = false, u2 = true;
  ck_assert(store.read([&](const Store::Txn& t) {
    u1 = t.get(Db::kUsers, "u1").has_value();
    u2 = t.get(Db::kUsers, "u2").has_value();
  }, err));
  ck_assert(u1 && !u2);
  // Prefix scans stop at the prefix.
  ck_assert(store.write([](Store::Txn& t) {
    return t.put(Db::kUserSessions, "u1:a", "") && t.put(Db::kUserSessions, "u1:b", "") && t.put(Db::kUserSessions, "u2:c", "");
  }, err));
  int seen = 0;
  store.read([&](const Store::Txn& t) { t.scan(Db::kUserSessions, "u1:", [&](std::string_view, std::string_view) { ++seen; return true; }); }, err);
  ck_assert_int_eq(seen, 2);
}
END_TEST

START_TEST(store_refuses_another_schema_version) {
  TempDir d;
  std::string err;
  {
    LmdbStore store;
    ck_assert(store.open(d.path + "/db", err));
    ck_assert(store.write([](Store::Txn& t) { return t.put(Db::kMeta, "schema_version", "99"); }, err));
  }
  LmdbStore again;
  ck_assert(!again.open(d.path + "/db", err));
  ck_assert(err.find("schema version 99") != std::string::npos);
}
END_TEST

START_TEST(session_reader_sees_writes_at_once) {
  TempDir d;
  LmdbStore store;
  std::string err;
  ck_assert(store.open(d.path + "/db", err));
  SessionRecord r;
  r.created_at = 100;
  r.expires_at = 1000;
  ck_assert(store.write([&](Store::Txn& t) { return t.put(Db::kSessions, "sid1", r.encode()); }, err));
  spa::core::SessionReader reader;
  ck_assert_msg(reader.open(d.path + "/db", err), "%s", err.c_str());
  ck_assert(reader.check("sid1", 500, 400, err) == spa::core::SessionReader::Lookup::kValid);
  ck_assert(reader.check("nope", 500, 400, err) == spa::core::SessionReader::Lookup::kUnknown);
  ck_assert(reader.check("", 500, 400, err) == spa::core::SessionReader::Lookup::kUnknown);
  ck_assert(reader.check(std::string(600, 'a'), 500, 400, err) == spa::core::SessionReader::Lookup::kUnknown);
  ck_assert(reader.check("sid1", 1000, 400, err) == spa::core::SessionReader::Lookup::kRevoked);
  r.state = SessionState::kRevoked;
  ck_assert(store.write([&](Store::Txn& t) { return t.put(Db::kSessions, "sid1", r.encode()); }, err));
  ck_assert(reader.check("sid1", 500, 400, err) == spa::core::SessionReader::Lookup::kRevoked);
  ck_assert(store.write([&](Store::Txn& t) { return t.put(Db::kSessions, "sid2", "garbage"); }, err));
  ck_assert(reader.check("sid2", 500, 400, err) == spa::core::SessionReader::Lookup::kUnknown);
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
  ck_assert(store.write([&](Store::Txn& t) { return t.put(Db::kSessions, "sid1", r.encode()); }, err));
  spa::core::SessionReader reader;
  ck_assert(reader.open(d.path + "/db", err));
  ck_assert(reader.check("sid1", 500, 399, err) == spa::core::SessionReader::Lookup::kRevoked);
  ck_assert(reader.check("sid1", 500, 400, err) == spa::core::SessionReader::Lookup::kValid);
}
END_TEST

Suite* authd_core_suite() {
  Suite* s = suite_create("authd_core");
  TCase* tc = tcase_create("core");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, rotation_first_use_rotates);
  tcase_add_test(tc, rotation_expiry_and_ended_sessions);
  tcase_add_test(tc, rotation_grace_window_boundaries);
  tcase_add_test(tc, refresh_record_round_trip_and_garbage);
  tcase_add_test(tc, sealed_boxes_open_only_with_their_key_and_aad);
  tcase_add_test(tc, random_ids_and_constant_time_compare);
  tcase_add_test(tc, session_record_round_trip_and_fail_closed);
  tcase_add_test(tc, passwords_hash_and_verify);
  tcase_add_test(tc, password_rules);
  tcase_add_test(tc, email_and_username_rules);
  tcase_add_test(tc, store_commits_all_or_nothing);
  tcase_add_test(tc, store_refuses_another_schema_version);
  tcase_add_test(tc, session_reader_sees_writes_at_once);
  tcase_add_test(tc, session_floor_refuses_older_tokens);
  suite_add_tcase(s, tc);
  return s;
}
