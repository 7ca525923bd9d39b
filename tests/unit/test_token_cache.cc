#include "core/token_cache.h"
#include "tests/unit/helpers.h"

using namespace spa::core;

namespace {

VerifiedTokenPtr entry(int64_t exp) {
  auto t = std::make_shared<VerifiedToken>();
  t->claims.exp = exp;
  return t;
}

}  // namespace

START_TEST(hit_after_insert_and_miss_for_others) {
  VerifiedTokenCache c(4, 0);
  auto e = entry(100);
  c.insert("tok-a", e);
  ck_assert(c.find("tok-a", 50) == e);
  ck_assert(c.find("tok-b", 50) == nullptr);
  ck_assert_uint_eq(c.hits(), 1);
  ck_assert_uint_eq(c.misses(), 1);
}
END_TEST

START_TEST(entries_die_at_exp_plus_retention) {
  VerifiedTokenCache c(4, 10);
  c.insert("tok", entry(100));
  ck_assert(c.find("tok", 109) != nullptr);
  ck_assert(c.find("tok", 110) == nullptr);
  ck_assert_uint_eq(c.size(), 0);
}
END_TEST

START_TEST(least_recently_used_is_evicted) {
  VerifiedTokenCache c(2, 0);
  c.insert("a", entry(100));
  c.insert("b", entry(100));
  ck_assert(c.find("a", 0) != nullptr);  // b is now the oldest
  c.insert("c", entry(100));
  ck_assert(c.find("b", 0) == nullptr);
  ck_assert(c.find("a", 0) != nullptr);
  ck_assert(c.find("c", 0) != nullptr);
  ck_assert_uint_eq(c.size(), 2);
  ck_assert_uint_eq(c.evictions(), 1);
}
END_TEST

START_TEST(reinsert_replaces_without_growing) {
  VerifiedTokenCache c(2, 0);
  auto first = entry(100), second = entry(200);
  c.insert("a", first);
  c.insert("a", second);
  ck_assert_uint_eq(c.size(), 1);
  ck_assert(c.find("a", 0) == second);
}
END_TEST

START_TEST(bounded_under_many_inserts) {
  VerifiedTokenCache c(100, 0);
  for (int i = 0; i < 10000; ++i) c.insert("token-" + std::to_string(i), entry(100));
  ck_assert_uint_eq(c.size(), 100);
  ck_assert(c.find("token-9999", 0) != nullptr);
  ck_assert(c.find("token-0", 0) == nullptr);
}
END_TEST

Suite* token_cache_suite() {
  Suite* s = suite_create("token_cache");
  TCase* tc = tcase_create("core");
  tcase_add_test(tc, hit_after_insert_and_miss_for_others);
  tcase_add_test(tc, entries_die_at_exp_plus_retention);
  tcase_add_test(tc, least_recently_used_is_evicted);
  tcase_add_test(tc, reinsert_replaces_without_growing);
  tcase_add_test(tc, bounded_under_many_inserts);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(token_cache_suite);
