// Passwords and input rules (authd/passwords.h): Argon2id hashes, the
// password rules, e-mail addresses and usernames.
#include "authd/passwords.h"
#include "tests/unit/helpers.h"

using namespace spa::authd;

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

Suite* passwords_suite() {
  Suite* s = suite_create("passwords");
  TCase* tc = tcase_create("core");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, passwords_hash_and_verify);
  tcase_add_test(tc, password_rules);
  tcase_add_test(tc, email_and_username_rules);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(passwords_suite);
