// Accounts behind provider logins (IdentityService) through the whole
// OAuth login: linking only by a verified address, claims of unproven
// accounts, and links that die with the session that started them.
#include "authd/oauth.h"
#include "tests/unit/oauth_world.h"

namespace {

using namespace spa::authd;
using test::kIssuer;
using test::OAuthWorld;
using test::query_param;

START_TEST(accounts_link_only_by_verified_email) {
  OAuthWorld w;
  w.signup_verified("alice@example.com", "alice", "a long password 1");
  // An address the provider did not verify finds no account and makes
  // none, with one answer whether the address has an account or not.
  w.idp.email_verified = false;
  ck_assert(w.login().location == "/login?error=email_not_verified");
  w.idp.subject = "nobody";
  w.idp.email = "nobody@example.com";
  ck_assert(w.login().location == "/login?error=email_not_verified");
  w.config.require_verified_email = false;  // the relaxed mode links nothing either
  w.idp.subject = "alice";
  w.idp.email = "alice@example.com";
  ck_assert(w.login().location == "/login?error=account_exists");
  w.config.require_verified_email = true;
  w.idp.email_verified = true;
  OAuthAnswer a = w.login();
  ck_assert(a.tokens.has_value());
  std::string why;
  auto who = w.service->authenticate(a.tokens->access_token, why);
  Outcome me = w.service->me(*who);
  ck_assert(me.data["user"]["username"].get<std::string>() == "alice");  // the existing, verified account
  ck_assert(me.data["user"]["has_password"].get<bool>());
  // With a password, the provider may go; without one, the last identity may not.
  ck_assert_int_eq(w.service->oauth_unlink(*who, "corp", w.client).status, 200);
  ck_assert(w.service->oauth_unlink(*who, "corp", w.client).code == "not_linked");

  w.idp.subject = "bob";
  w.idp.email = "bob@example.com";
  OAuthAnswer b = w.login();
  auto bob = w.service->authenticate(b.tokens->access_token, why);
  ck_assert(w.service->oauth_unlink(*bob, "corp", w.client).code == "last_sign_in_method");
  // Bob's provider account cannot be linked to Alice too.
  ck_assert(w.service->oauth_link(who->user_id, who->sid, {"corp", "bob", "bob@example.com", true, ""}, w.client).code == "identity_in_use");
}
END_TEST

// Pre-account takeover: a squatter signs up with the victim's address
// (never proving it), sets up a second factor and stays signed in; the
// victim then signs in with a provider that verified the address. The
// verified identity gets the account; the squatter's password, second
// factor, sessions and pending links are gone.
START_TEST(unverified_account_is_claimed_by_a_verified_provider_login) {
  OAuthWorld w;
  w.config.require_verified_email = false;  // the squatter could even sign in
  ck_assert_int_eq(w.service->signup("carol@example.com", "squatter", "squatter password 1", w.client).status, 201);
  Outcome squat = w.service->login("carol@example.com", "squatter password 1", w.client);
  ck_assert(squat.tokens.has_value());
  std::string why;
  auto squatter = w.service->authenticate(squat.tokens->access_token, why);
  ck_assert(w.service->mfa_setup(*squatter).ok());
  ck_assert_int_eq(w.service->password_reset_request("carol@example.com", w.client).status, 202);
  std::string reset_link = w.mail.token();

  w.idp.subject = "carol";
  w.idp.email = "carol@example.com";
  w.idp.email_verified = true;
  OAuthAnswer a = w.login();
  ck_assert(a.tokens.has_value());
  auto carol = w.service->authenticate(a.tokens->access_token, why);
  ck_assert(carol.has_value() && carol->user_id == squatter->user_id);
  Outcome me = w.service->me(*carol);
  ck_assert(!me.data["user"]["has_password"].get<bool>());
  ck_assert(me.data["user"]["email_verified"].get<bool>());
  ck_assert(!me.data["user"]["mfa_enabled"].get<bool>());
  // The squatter is out: no session, no password, no refresh, no reset link.
  ck_assert(!w.service->authenticate(squat.tokens->access_token, why));
  ck_assert_int_eq(w.service->refresh(squat.tokens->refresh_token, w.client).status, 401);
  ck_assert_int_eq(w.service->login("carol@example.com", "squatter password 1", w.client).status, 401);
  ck_assert_int_eq(w.service->password_reset_confirm(reset_link, "new squatter pass 2", w.client).status, 401);
}
END_TEST


// A link under way belongs to the session that started it: once that
// session has ended (logout, password change, a claim of the account) the
// callback links nothing.
START_TEST(a_pending_link_dies_with_its_session) {
  OAuthWorld w;
  w.signup_verified("gail@example.com", "gail", "a long password 1");
  Outcome in = w.service->login("gail@example.com", "a long password 1", w.client);
  std::string why;
  auto gail = w.service->authenticate(in.tokens->access_token, why);
  std::string binding;
  Outcome started = w.oauth->start_link(*gail, "corp", "", binding, w.client);
  ck_assert(started.ok());
  std::string url = started.data["authorization_url"];
  w.idp.subject = "attacker";
  w.idp.email = "attacker@example.com";
  std::string code = w.idp.approve(url);
  ck_assert(w.service->logout(gail, "", w.client).ok());
  OAuthAnswer a = w.oauth->callback("corp", {code, query_param(url, "state"), "", kIssuer}, binding, w.client);
  ck_assert_msg(a.location.find("error=") != std::string::npos, "%s", a.location.c_str());
  Outcome again = w.service->login("gail@example.com", "a long password 1", w.client);
  auto back = w.service->authenticate(again.tokens->access_token, why);
  ck_assert(w.service->me(*back).data["user"]["providers"].empty());
  // The attacker's provider account signs in as itself, not as gail.
  OAuthAnswer own = w.login();
  auto who = w.service->authenticate(own.tokens->access_token, why);
  ck_assert(who->user_id != back->user_id);
  // Starting a link needs a recent authentication, like every account change.
  w.now += SessionIssuer::kRecentAuth + 1;
  ck_assert(w.oauth->start_link(*back, "corp", "", binding, w.client).code == "reauthentication_required");
}
END_TEST

// In the relaxed mode (require_verified_email = false) a provider that did
// not verify an address can make an account with it; the first proof of
// the address by a mailed link (a reset here) claims that account: the
// squatter's identity, second factor and sessions go.
START_TEST(a_reset_claims_an_account_squatted_through_a_provider) {
  OAuthWorld w;
  w.config.require_verified_email = false;
  w.idp.subject = "squatter";
  w.idp.email = "hana@example.com";
  w.idp.email_verified = false;
  OAuthAnswer squat = w.login();
  ck_assert(squat.tokens.has_value());
  std::string why;
  auto squatter = w.service->authenticate(squat.tokens->access_token, why);
  ck_assert(squatter.has_value());
  ck_assert_int_eq(w.service->password_reset_request("hana@example.com", w.client).status, 202);
  ck_assert(w.service->password_reset_confirm(w.mail.token(), "hana's own password", w.client).ok());
  ck_assert(!w.service->authenticate(squat.tokens->access_token, why));
  Outcome in = w.service->login("hana@example.com", "hana's own password", w.client);
  auto hana = w.service->authenticate(in.tokens->access_token, why);
  Outcome me = w.service->me(*hana);
  ck_assert(me.data["user"]["providers"].empty() && me.data["user"]["email_verified"] == true);
  // The squatter's provider login no longer reaches the account.
  ck_assert(w.login().location == "/login?error=account_exists");
}
END_TEST

// Relaxed mode: the owner of a password-less account, signed in with her
// provider, confirms her address from the SPA: her account stays hers.
START_TEST(a_signed_in_owner_confirms_without_losing_her_account) {
  OAuthWorld w;
  w.config.require_verified_email = false;
  w.idp.subject = "ivy";
  w.idp.email = "ivy@example.com";
  w.idp.email_verified = false;
  OAuthAnswer in = w.login();
  std::string why;
  auto ivy = w.service->authenticate(in.tokens->access_token, why);
  ck_assert_int_eq(w.service->verify_email_request("ivy@example.com", w.client).status, 202);
  std::string link = w.mail.token();
  ck_assert(w.service->verify_email_confirm(link, "", w.client, &*ivy).ok());
  ck_assert(w.service->authenticate(in.tokens->access_token, why).has_value());
  Outcome me = w.service->me(*ivy);
  ck_assert(me.data["user"]["email_verified"] == true && me.data["user"]["providers"].size() == 1);
}
END_TEST

}  // namespace

Suite* oauth_accounts_suite() {
  Suite* s = suite_create("oauth_accounts");
  TCase* t = tcase_create("core");
  tcase_add_test(t, accounts_link_only_by_verified_email);
  tcase_add_test(t, unverified_account_is_claimed_by_a_verified_provider_login);
  tcase_add_test(t, a_pending_link_dies_with_its_session);
  tcase_add_test(t, a_reset_claims_an_account_squatted_through_a_provider);
  tcase_add_test(t, a_signed_in_owner_confirms_without_losing_her_account);
  tcase_set_timeout(t, 60);
  suite_add_tcase(s, t);
  return s;
}
REGISTER_SUITE(oauth_accounts_suite);
