#include "core/envelope.h"
#include "core/json_strict.h"
#include "tests/unit/helpers.h"

using spa::core::JsonLimits;
using spa::core::parse_json_strict;

START_TEST(parses_plain_objects) {
  nlohmann::json j;
  std::string err;
  ck_assert(parse_json_strict(R"({"a":1,"b":{"c":[1,2]}})", j, err));
  ck_assert_int_eq(j["a"].get<int>(), 1);
}
END_TEST

START_TEST(rejects_duplicate_member_names) {
  nlohmann::json j;
  std::string err;
  ck_assert(!parse_json_strict(R"({"sub":"alice","sub":"admin"})", j, err));
  ck_assert_str_eq(err.c_str(), "duplicate JSON member name");
  ck_assert(!parse_json_strict(R"({"a":{"x":1,"x":2}})", j, err));
  // The same name in sibling objects is fine.
  ck_assert(parse_json_strict(R"({"a":{"x":1},"b":{"x":2}})", j, err));
}
END_TEST

START_TEST(rejects_deep_nesting_and_large_documents) {
  nlohmann::json j;
  std::string err;
  std::string deep(40, '[');
  deep += std::string(40, ']');
  ck_assert(!parse_json_strict(deep, j, err, JsonLimits{1024, 16}));
  ck_assert_str_eq(err.c_str(), "JSON nested too deeply");
  ck_assert(!parse_json_strict(std::string(2000, ' ') + "{}", j, err, JsonLimits{1024, 16}));
  ck_assert_str_eq(err.c_str(), "JSON document too large");
}
END_TEST

START_TEST(rejects_invalid_json_and_utf8) {
  nlohmann::json j;
  std::string err;
  ck_assert(!parse_json_strict("{", j, err));
  ck_assert(!parse_json_strict("{\"a\":1} trailing", j, err));
  ck_assert(!parse_json_strict("{\"a\":\"\xff\"}", j, err));
  ck_assert(!parse_json_strict("{/*c*/}", j, err));
}
END_TEST

// What a client or a provider sent comes back as JSON no browser takes
// for HTML, and as the same string once parsed.
START_TEST(envelopes_escape_html_and_replace_bad_utf8) {
  std::string hostile = "</script><img src=x onerror=alert(1)>&amp;\u2028";
  std::string text = spa::core::success_envelope({{"email", hostile}, {"bad", "a\xff"}}, "r", 0);
  ck_assert_msg(text.find('<') == std::string::npos && text.find('>') == std::string::npos &&
                    text.find('&') == std::string::npos, "%s", text.c_str());
  ck_assert(text.find("\\u003c/script\\u003e") != std::string::npos);
  nlohmann::json back;
  std::string err;
  ck_assert_msg(parse_json_strict(text, back, err), "%s", err.c_str());
  std::string email = back["data"]["email"], bad = back["data"]["bad"];
  ck_assert_str_eq(email.c_str(), hostile.c_str());
  ck_assert_str_eq(bad.c_str(), "a\xef\xbf\xbd");
  std::string error = spa::core::error_envelope("x", "a <b> & c", "r", 0);
  ck_assert(error.find("a \\u003cb\\u003e \\u0026 c") != std::string::npos);
}
END_TEST

Suite* json_suite() {
  Suite* s = suite_create("json_strict");
  TCase* tc = tcase_create("core");
  tcase_add_test(tc, parses_plain_objects);
  tcase_add_test(tc, rejects_duplicate_member_names);
  tcase_add_test(tc, rejects_deep_nesting_and_large_documents);
  tcase_add_test(tc, rejects_invalid_json_and_utf8);
  tcase_add_test(tc, envelopes_escape_html_and_replace_bad_utf8);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(json_suite);
