// SigningKeys against a real temp directory, with time passed in.
#include <filesystem>
#include <sys/stat.h>

#include <cstdlib>

#include "authd/files.h"
#include "authd/signing_keys.h"
#include "tests/unit/helpers.h"

using namespace spa::authd;
using namespace spa::core;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/spa-keys-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::error_code ignored; std::filesystem::remove_all(path, ignored); }
};

SigningKeys::Options options(const TempDir& d) {
  return {d.path + "/keys", d.path + "/jwks.json", Alg::kEdDSA, 900, 5};
}

Jwks published(const TempDir& d) {
  std::string text, err;
  ck_assert(read_file(d.path + "/jwks.json", text, err));
  Jwks set;
  std::vector<std::string> warnings;
  ck_assert_msg(Jwks::parse(text, set, err, warnings), "%s", err.c_str());
  return set;
}

mode_t mode_of(const std::string& path) {
  struct stat st;
  ck_assert_int_eq(stat(path.c_str(), &st), 0);
  return st.st_mode & 0777;
}

}  // namespace

START_TEST(first_open_creates_a_private_key_and_publishes_it) {
  TempDir d;
  SigningKeys keys(options(d));
  std::string err;
  ck_assert_msg(keys.open(1000, err), "%s", err.c_str());
  JwkPtr k = keys.signing_key(1000);
  ck_assert(k && k->has_private);
  ck_assert(k->kid == k->thumbprint);
  ck_assert_int_eq(mode_of(d.path + "/keys"), 0700);
  ck_assert_int_eq(mode_of(d.path + "/keys/" + k->kid + ".pem"), 0600);
  ck_assert_int_eq(mode_of(d.path + "/jwks.json"), 0644);
  Jwks set = published(d);
  ck_assert_uint_eq(set.size(), 1);
  ck_assert(!set.keys()[0]->has_private);
  ck_assert(set.resolve(std::string_view(k->kid), Alg::kEdDSA) != nullptr);
  // The JWKS carries no private member.
  std::string text;
  ck_assert(read_file(d.path + "/jwks.json", text, err));
  ck_assert(text.find("\"d\"") == std::string::npos);
}
END_TEST

START_TEST(reopening_keeps_the_key) {
  TempDir d;
  std::string err, kid;
  {
    SigningKeys keys(options(d));
    ck_assert(keys.open(1000, err));
    kid = keys.signing_key(1000)->kid;
  }
  SigningKeys again(options(d));
  ck_assert(again.open(2000, err));
  ck_assert(again.signing_key(2000)->kid == kid);
  ck_assert_uint_eq(again.schedule().size(), 1);
}
END_TEST

START_TEST(rotation_publishes_first_and_signs_later) {
  TempDir d;
  std::string err;
  SigningKeys keys(options(d));
  ck_assert(keys.open(1000, err));
  std::string old_kid = keys.signing_key(1000)->kid;
  ck_assert(keys.rotate(2000, err));
  std::string new_kid = keys.schedule().back().kid;
  ck_assert(new_kid != old_kid);
  ck_assert_uint_eq(published(d).size(), 2);
  ck_assert(keys.signing_key(2004)->kid == old_kid);  // published, not yet signing
  ck_assert(keys.signing_key(2005)->kid == new_kid);
}
END_TEST

START_TEST(a_retired_key_stays_until_its_tokens_expired) {
  TempDir d;
  std::string err;
  SigningKeys keys(options(d));
  ck_assert(keys.open(1000, err));
  std::string old_kid = keys.signing_key(1000)->kid;
  ck_assert(keys.rotate(2000, err));  // old key retired at 2005
  // access_ttl 900 + 600 s of skew margin after retirement.
  SigningKeys later(options(d));
  ck_assert(later.open(2005 + 900 + 600, err));
  ck_assert_uint_eq(published(d).size(), 2);
  SigningKeys much_later(options(d));
  ck_assert(much_later.open(2005 + 900 + 601, err));
  ck_assert_uint_eq(published(d).size(), 1);
  ck_assert(published(d).resolve(std::string_view(old_kid), Alg::kEdDSA) == nullptr);
  struct stat st;
  ck_assert(stat((d.path + "/keys/" + old_kid + ".pem").c_str(), &st) != 0);
}
END_TEST

START_TEST(a_tampered_schedule_is_refused) {
  TempDir d;
  std::string err;
  {
    SigningKeys keys(options(d));
    ck_assert(keys.open(1000, err));
  }
  ck_assert(write_file_atomic(d.path + "/keys/keys.json", "{\"keys\":[{\"kid\":\"../../etc/x\",\"alg\":\"EdDSA\",\"active_from\":1}]}", 0600, err));
  SigningKeys keys(options(d));
  ck_assert(!keys.open(2000, err));
  ck_assert(write_file_atomic(d.path + "/keys/keys.json", "not json", 0600, err));
  ck_assert(!keys.open(2000, err));
}
END_TEST

// A running daemon whose schedule turns unreadable or disappears keeps
// the keys it has: a failed reload changes nothing, and a missing
// keys.json is never a first start (a new key would unpublish the old).
START_TEST(a_failed_reload_keeps_the_keys_in_memory) {
  TempDir d;
  std::string err;
  SigningKeys keys(options(d));
  ck_assert(keys.open(1000, err));
  std::string kid = keys.signing_key(1000)->kid;
  ck_assert(write_file_atomic(d.path + "/keys/keys.json", "not json", 0600, err));
  ck_assert(!keys.reload_if_changed(1001, err));
  ck_assert(keys.signing_key(1001) && keys.signing_key(1001)->kid == kid);
  ck_assert_uint_eq(keys.schedule().size(), 1);
  std::filesystem::remove_all(d.path + "/keys");
  std::filesystem::create_directory(d.path + "/keys");
  err.clear();
  ck_assert(!keys.reload_if_changed(1002, err));
  ck_assert_msg(err.find("keys in memory") != std::string::npos, "%s", err.c_str());
  ck_assert(keys.signing_key(1002)->kid == kid);
  ck_assert_uint_eq(published(d).size(), 1);
  ck_assert(published(d).resolve(std::string_view(kid), Alg::kEdDSA) != nullptr);
  struct stat st;
  ck_assert(stat((d.path + "/keys/keys.json").c_str(), &st) != 0);  // nothing made there
}
END_TEST

// A rotation whose schedule cannot be written (here: the JWKS's directory
// is missing) leaves no private key file behind.
START_TEST(a_failed_rotation_leaves_no_key_file) {
  TempDir d;
  std::string err;
  {
    SigningKeys keys(options(d));
    ck_assert(keys.open(1000, err));
  }
  auto o = options(d);
  o.jwks_file = d.path + "/missing/jwks.json";
  SigningKeys keys(o);
  ck_assert(!keys.rotate(2000, err));
  std::string out;
  ck_assert(read_file(d.path + "/keys/keys.json", out, err));
  int pems = std::system(("test $(ls " + d.path + "/keys/*.pem | wc -l) -eq 1").c_str());
  ck_assert_int_eq(pems, 0);
}
END_TEST

// --check-config's directory check (authd/files.h): the key directory of
// these tests is such a directory, before and after it exists.
START_TEST(writable_dir_names_what_is_wrong) {
  TempDir d;
  std::string err;
  ck_assert(writable_dir(d.path, err));
  ck_assert(writable_dir(d.path + "/keys/deeper", err));  // to be created
  ck_assert(write_file_atomic(d.path + "/file", "x", 0600, err));
  ck_assert(!writable_dir(d.path + "/file", err));
  std::string want = d.path + "/file is not a directory";
  ck_assert_str_eq(err.c_str(), want.c_str());
  ck_assert(!writable_dir(d.path + "/file/under", err));
  ck_assert_msg(err.find("Not a directory") != std::string::npos, "%s", err.c_str());  // ENOTDIR from stat
}
END_TEST

START_TEST(es256_and_rs256_keys) {
  for (Alg alg : {Alg::kES256, Alg::kRS256}) {
    TempDir d;
    auto o = options(d);
    o.alg = alg;
    SigningKeys keys(o);
    std::string err;
    ck_assert(keys.open(1000, err));
    ck_assert(keys.signing_key(1000)->usable_for(alg));
    Jwks set = published(d);
    ck_assert(set.keys()[0]->alg == alg);
  }
}
END_TEST

Suite* signing_keys_suite() {
  Suite* s = suite_create("signing_keys");
  TCase* tc = tcase_create("core");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, first_open_creates_a_private_key_and_publishes_it);
  tcase_add_test(tc, reopening_keeps_the_key);
  tcase_add_test(tc, rotation_publishes_first_and_signs_later);
  tcase_add_test(tc, a_retired_key_stays_until_its_tokens_expired);
  tcase_add_test(tc, a_tampered_schedule_is_refused);
  tcase_add_test(tc, a_failed_reload_keeps_the_keys_in_memory);
  tcase_add_test(tc, a_failed_rotation_leaves_no_key_file);
  tcase_add_test(tc, writable_dir_names_what_is_wrong);
  tcase_add_test(tc, es256_and_rs256_keys);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(signing_keys_suite);
