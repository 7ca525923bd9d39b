// RFC 4648 §10 vectors in the URL-safe alphabet, and the strictness we add.
#include "core/base64url.h"
#include "tests/unit/helpers.h"

using spa::core::base64url_decode;
using spa::core::base64url_encode;

START_TEST(rfc4648_vectors_round_trip) {
  const char* plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char* coded[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
  for (int i = 0; i < 7; ++i) {
    ck_assert(base64url_encode(plain[i]) == coded[i]);
    std::string out;
    ck_assert(base64url_decode(coded[i], out));
    ck_assert_str_eq(out.c_str(), plain[i]);
  }
}
END_TEST

START_TEST(url_safe_alphabet) {
  std::string bytes = "\xfb\xff\xbf";
  ck_assert(base64url_encode(bytes) == "-_-_");
  std::string out;
  ck_assert(base64url_decode("-_-_", out));
  ck_assert(out == bytes);
}
END_TEST

START_TEST(rejects_padding_and_foreign_characters) {
  std::string out;
  ck_assert(!base64url_decode("Zg==", out));
  ck_assert(!base64url_decode("Zm9v+w", out));   // standard alphabet '+'
  ck_assert(!base64url_decode("Zm9v/w", out));   // standard alphabet '/'
  ck_assert(!base64url_decode("Zm 9v", out));
  ck_assert(!base64url_decode("Zm9v\n", out));
  ck_assert(!base64url_decode(std::string("Zm\0v", 4), out));
}
END_TEST

START_TEST(rejects_impossible_length) {
  std::string out;
  ck_assert(!base64url_decode("Z", out));
  ck_assert(!base64url_decode("Zm9vY", out));
}
END_TEST

START_TEST(rejects_non_canonical_trailing_bits) {
  std::string out;
  ck_assert(base64url_decode("Zg", out));   // 'g' = 100000: trailing bits zero
  ck_assert(!base64url_decode("Zh", out));  // same byte, trailing bit set
  ck_assert(!base64url_decode("Zm9", out)); // '9' leaves bits set
}
END_TEST

Suite* base64url_suite() {
  Suite* s = suite_create("base64url");
  TCase* tc = tcase_create("core");
  tcase_add_test(tc, rfc4648_vectors_round_trip);
  tcase_add_test(tc, url_safe_alphabet);
  tcase_add_test(tc, rejects_padding_and_foreign_characters);
  tcase_add_test(tc, rejects_impossible_length);
  tcase_add_test(tc, rejects_non_canonical_trailing_bits);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(base64url_suite);
