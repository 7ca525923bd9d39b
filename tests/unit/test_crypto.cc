// spa-authd's OpenSSL compositions (authd/crypto.h): sealed boxes, random
// ids and tokens, constant-time compares, SHA-256.
#include "authd/crypto.h"
#include "tests/unit/helpers.h"

using namespace spa::authd;

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

Suite* crypto_suite() {
  Suite* s = suite_create("crypto");
  TCase* tc = tcase_create("core");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, sealed_boxes_open_only_with_their_key_and_aad);
  tcase_add_test(tc, random_ids_and_constant_time_compare);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(crypto_suite);
