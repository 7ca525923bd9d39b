// core/utf8.h: client text made valid UTF-8 within a byte budget. Vectors
// follow Unicode §3.9 (maximal subparts, Table 3-7) as browsers decode.
#include <string>

#include "core/utf8.h"
#include "tests/unit/helpers.h"

using namespace spa::core;

namespace {

const std::string R = "\xEF\xBF\xBD";  // U+FFFD

struct ClipCase {
  std::string in;
  size_t max;
  std::string want;
};

}  // namespace

START_TEST(utf8_clip_cuts_at_characters_and_replaces_bad_bytes) {
  const ClipCase cases[] = {
      {"", 0, ""},
      {"abc", 0, ""},
      {"abc", 2, "ab"},
      {"abc", 3, "abc"},
      {"abc", 100, "abc"},
      {"a\xC3\xA9", 2, "a"},                       // é cut in the middle: left out
      {"a\xC3\xA9", 3, "a\xC3\xA9"},
      {"ab\xE2\x82\xAC", 4, "ab"},                 // €
      {"ab\xE2\x82\xAC", 5, "ab\xE2\x82\xAC"},
      {"a\xF0\x9F\x98\x80", 4, "a"},               // U+1F600
      {"a\xF0\x9F\x98\x80", 5, "a\xF0\x9F\x98\x80"},
      {"\xF4\x8F\xBF\xBF", 4, "\xF4\x8F\xBF\xBF"}, // U+10FFFF, the last code point
      {R, 3, R},                                   // U+FFFD itself is text
      {std::string("a\0b", 3), 3, std::string("a\0b", 3)},
      {"\x7F", 1, "\x7F"},
      // Ill-formed: one U+FFFD per maximal subpart.
      {"\xFF", 3, R},
      {"a\xFF" "b", 5, "a" + R + "b"},
      {"\x80", 3, R},                              // a stray continuation byte
      {"\x80\x80", 6, R + R},
      {"\xC0\xAF", 6, R + R},                      // overlong '/'
      {"\xC1\xBF", 6, R + R},
      {"\xE0\x80\xAF", 9, R + R + R},              // overlong, three bytes
      {"\xF0\x80\x80\xAF", 12, R + R + R + R},     // overlong, four bytes
      {"\xED\xA0\x80", 9, R + R + R},              // surrogate U+D800
      {"\xED\xBF\xBF", 9, R + R + R},              // surrogate U+DFFF
      {"\xED\x9F\xBF", 3, "\xED\x9F\xBF"},         // U+D7FF is fine
      {"\xF4\x90\x80\x80", 12, R + R + R + R},     // above U+10FFFF
      {"\xF5\x80\x80\x80", 12, R + R + R + R},
      {"\xE2\x82", 3, R},                          // cut short at the end: one subpart
      {"\xE2\x82" "A", 4, R + "A"},
      {"\xF0\x9F\x98" "A", 4, R + "A"},
      {"\xF0\x9F\x98\xF0\x9F\x98\x80", 7, R + "\xF0\x9F\x98\x80"},
      {"\xC3" "A", 4, R + "A"},
      // The replacement takes three bytes of the budget, or is left out.
      {"a\xFF", 1, "a"},
      {"a\xFF", 3, "a"},
      {"a\xFF", 4, "a" + R},
      {"a\xFF" "b", 4, "a" + R},
  };
  for (const auto& c : cases) {
    std::string got = utf8_clip(c.in, c.max);
    ck_assert_msg(got == c.want, "case of %zu bytes, max %zu: got %zu bytes", c.in.size(), c.max, got.size());
    ck_assert(utf8_valid(got));
  }
  // A User-Agent of 300 bytes whose 256th byte is inside a character.
  std::string ua = std::string(255, 'a') + "\xC3\xA9" + std::string(43, 'b');
  ck_assert_uint_eq(ua.size(), 300);
  ck_assert(utf8_clip(ua, 256) == std::string(255, 'a'));
}
END_TEST

START_TEST(utf8_valid_follows_table_3_7) {
  ck_assert(utf8_valid(""));
  ck_assert(utf8_valid("plain ASCII"));
  ck_assert(utf8_valid("\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF"));
  for (const char* bad : {"\x80", "\xC0\x80", "\xC2", "\xE0\x9F\xBF", "\xED\xA0\x80", "\xF0\x8F\xBF\xBF",
                          "\xF4\x90\x80\x80", "\xF8\x88\x80\x80\x80", "\xFE", "ok\xC3"})
    ck_assert_msg(!utf8_valid(bad), "accepted an ill-formed sequence");
}
END_TEST

// Every string of up to three bytes from a set that covers each class of
// byte: the answer is valid, within the budget, a prefix of the answer
// with a larger budget, and unchanged when clipped again.
START_TEST(utf8_clip_is_valid_bounded_and_stable_for_any_bytes) {
  const unsigned char bytes[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
                                 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF};
  std::string s;
  auto check = [](const std::string& in) {
    std::string whole = utf8_clip(in, in.size() * 3);
    ck_assert(utf8_valid(whole));
    if (utf8_valid(in)) ck_assert(whole == in);
    for (size_t max = 0; max <= in.size() * 3; ++max) {
      std::string got = utf8_clip(in, max);
      ck_assert(got.size() <= max && utf8_valid(got));
      ck_assert(whole.compare(0, got.size(), got) == 0);
      ck_assert(utf8_clip(got, max) == got);
    }
  };
  for (unsigned char a : bytes)
    for (unsigned char b : bytes)
      for (unsigned char c : bytes) {
        check(std::string{static_cast<char>(a)});
        check(std::string{static_cast<char>(a), static_cast<char>(b)});
        check(std::string{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)});
      }
}
END_TEST

Suite* utf8_suite() {
  Suite* s = suite_create("utf8");
  TCase* tc = tcase_create("core");
  tcase_add_test(tc, utf8_clip_cuts_at_characters_and_replaces_bad_bytes);
  tcase_add_test(tc, utf8_valid_follows_table_3_7);
  tcase_add_test(tc, utf8_clip_is_valid_bounded_and_stable_for_any_bytes);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(utf8_suite);
