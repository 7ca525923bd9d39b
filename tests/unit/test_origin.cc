// The Origin rules of the request path (core/origin.h): the WebSocket
// upgrade's and CSRF's, over the header lines as a request brings them.
#include <string>
#include <vector>

#include "core/origin.h"
#include "tests/unit/helpers.h"

namespace {

using namespace spa::core;
using Lines = std::vector<std::string_view>;

START_TEST(one_origin_listed_or_same) {
  const std::vector<std::string> none, listed = {"https://app.example.com", "http://localhost:5173"};
  ck_assert(origin_allowed(Lines{"https://app.example.com"}, none, "https", "app.example.com"));
  ck_assert(origin_allowed(Lines{" https://app.example.com\t"}, none, "https", "app.example.com:443"));
  ck_assert(!origin_allowed(Lines{"http://app.example.com"}, none, "https", "app.example.com"));
  ck_assert(!origin_allowed(Lines{"https://evil.example"}, none, "https", "app.example.com"));
  ck_assert(!origin_allowed(Lines{"null"}, none, "https", "app.example.com"));
  // With a list, the request's own origin is not enough.
  ck_assert(origin_allowed(Lines{"http://localhost:5173"}, listed, "https", "api.example.com"));
  ck_assert(!origin_allowed(Lines{"https://api.example.com"}, listed, "https", "api.example.com"));
  // Two lines never pass, even when both would; none is not one.
  ck_assert(!origin_allowed(Lines{"https://app.example.com", "https://app.example.com"}, none, "https",
                            "app.example.com"));
  ck_assert(!origin_allowed(Lines{}, none, "https", "app.example.com"));
}
END_TEST

START_TEST(csrf_without_origin_needs_same_origin_fetch) {
  const std::vector<std::string> none, listed = {"https://app.example.com"};
  ck_assert(csrf_origin_allowed(Lines{"https://app.example.com"}, Lines{"cross-site"}, none, "https",
                                "app.example.com"));  // Origin decides when sent
  ck_assert(!csrf_origin_allowed(Lines{"https://evil.example"}, Lines{"same-origin"}, none, "https",
                                 "app.example.com"));
  ck_assert(csrf_origin_allowed(Lines{}, Lines{"same-origin"}, none, "https", "app.example.com"));
  ck_assert(csrf_origin_allowed(Lines{}, Lines{" same-origin "}, listed, "https", "app.example.com"));
  ck_assert(!csrf_origin_allowed(Lines{}, Lines{"same-site"}, none, "https", "app.example.com"));
  ck_assert(!csrf_origin_allowed(Lines{}, Lines{"Same-Origin"}, none, "https", "app.example.com"));
  ck_assert(!csrf_origin_allowed(Lines{}, Lines{"same-origin", "same-origin"}, none, "https", "app.example.com"));
  ck_assert(!csrf_origin_allowed(Lines{}, Lines{}, none, "https", "app.example.com"));
  ck_assert(!csrf_origin_allowed(Lines{"https://app.example.com", "https://app.example.com"}, Lines{"same-origin"},
                                 none, "https", "app.example.com"));
}
END_TEST

}  // namespace

Suite* origin_suite() {
  Suite* s = suite_create("origin");
  TCase* t = tcase_create("core");
  tcase_add_test(t, one_origin_listed_or_same);
  tcase_add_test(t, csrf_without_origin_needs_same_origin_fetch);
  suite_add_tcase(s, t);
  return s;
}

REGISTER_SUITE(origin_suite);
