// One name check for every directive that takes a name (core/names.h),
// each kind at its bound and one past it.
#include <string>

#include "core/names.h"
#include "tests/unit/helpers.h"

namespace {

using namespace spa::core;

START_TEST(names_by_kind) {
  ck_assert(valid_name("__Host-spa_at", NameKind::kParameter));
  ck_assert(valid_name("my.token", NameKind::kParameter));
  ck_assert(valid_name("X-User-Id", NameKind::kHeader));
  ck_assert(valid_name("X_User_Id", NameKind::kHeader));
  ck_assert(!valid_name("X.User", NameKind::kHeader));
  ck_assert(valid_name("login-ip_2", NameKind::kZone));
  ck_assert(!valid_name("login.ip", NameKind::kZone));
  ck_assert(valid_name("binary_remote_addr", NameKind::kVariable));
  ck_assert(!valid_name("spa-auth", NameKind::kVariable));
  for (NameKind k : {NameKind::kParameter, NameKind::kHeader, NameKind::kZone, NameKind::kVariable}) {
    ck_assert(!valid_name("", k));
    ck_assert(!valid_name("a b", k));
    ck_assert(!valid_name("a=b", k));
    ck_assert(!valid_name("a;b", k));
    ck_assert(!valid_name("a\r\nb", k));
    ck_assert(!valid_name(std::string_view("a\0b", 3), k));
    ck_assert(!valid_name("caf\xC3\xA9", k));
  }
}
END_TEST

START_TEST(names_at_their_bounds) {
  const std::string p128(128, 'a'), p129(129, 'a'), z64(64, 'z'), z65(65, 'z');
  ck_assert(valid_name(p128, NameKind::kParameter));
  ck_assert(!valid_name(p129, NameKind::kParameter));
  ck_assert(valid_name(p128, NameKind::kHeader));
  ck_assert(!valid_name(p129, NameKind::kHeader));
  ck_assert(valid_name(z64, NameKind::kZone));
  ck_assert(!valid_name(z65, NameKind::kZone));
  const std::string long_variable(1000, 'v');
  ck_assert(valid_name(long_variable, NameKind::kVariable));
}
END_TEST

}  // namespace

Suite* names_suite() {
  Suite* s = suite_create("names");
  TCase* t = tcase_create("core");
  tcase_add_test(t, names_by_kind);
  tcase_add_test(t, names_at_their_bounds);
  suite_add_tcase(s, t);
  return s;
}

REGISTER_SUITE(names_suite);
