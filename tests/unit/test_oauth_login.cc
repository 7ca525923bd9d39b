// The whole OAuth login of authd/oauth against a provider answered in
// process, with a fake clock: states, redirect targets, the provider's
// keys and metadata cached, and the calls to a slow provider bounded.
#include <thread>

#include "authd/oauth.h"
#include "authd/oidc.h"
#include "tests/unit/oauth_world.h"

namespace {

using json = nlohmann::json;
using namespace spa::authd;
using spa::core::KeyKind;
using test::kIssuer;
using test::OAuthWorld;
using test::query_param;

START_TEST(login_creates_the_account_and_starts_a_session) {
  OAuthWorld w;
  OAuthAnswer a = w.login("/app?tab=2");
  ck_assert_msg(a.tokens.has_value(), "no session: %s", a.location.c_str());
  ck_assert_str_eq(a.location.c_str(), "/app?tab=2");
  ck_assert(a.clear_binding);
  // client_secret_post, as the provider's metadata asks; the PKCE verifier went along.
  ck_assert(w.idp.seen_forms.back().find("client_secret=s3cret") != std::string::npos);
  ck_assert(w.idp.seen_forms.back().find("code_verifier=") != std::string::npos);
  std::string why;
  auto who = w.service->authenticate(a.tokens->access_token, why);
  ck_assert_msg(who.has_value(), "%s", why.c_str());
  Outcome me = w.service->me(*who);
  ck_assert(me.data["user"]["email"].get<std::string>() == "alice@example.com");  // from userinfo
  ck_assert(me.data["user"]["providers"] == json::array({"corp"}));
  ck_assert(!me.data["user"]["has_password"].get<bool>());
  // The same provider account signs in to the same user.
  OAuthAnswer again = w.login();
  ck_assert(again.tokens.has_value());
  ck_assert_str_eq(again.location.c_str(), "/");
  ck_assert(w.service->authenticate(again.tokens->access_token, why)->user_id == who->user_id);
}
END_TEST

START_TEST(a_state_works_once_in_one_browser_for_ten_minutes) {
  OAuthWorld w;
  OAuthAnswer a = w.oauth->start("corp", "", w.client);
  std::string state = query_param(a.location, "state"), code = w.idp.approve(a.location);
  ck_assert_uint_eq(state.size(), 43);
  // Another browser (no or another binding cookie): refused, and the state is gone.
  OAuthAnswer other = w.oauth->callback("corp", {code, state, "", kIssuer}, "someone-else", w.client);
  ck_assert(!other.tokens && other.location == "/login?error=invalid_state");
  OAuthAnswer replay = w.oauth->callback("corp", {code, state, "", kIssuer}, a.binding, w.client);
  ck_assert(!replay.tokens && replay.location == "/login?error=invalid_state");

  a = w.oauth->start("corp", "", w.client);
  code = w.idp.approve(a.location);
  w.now += OAuthLogin::kStateTtl + 1;
  OAuthAnswer late = w.oauth->callback("corp", {code, query_param(a.location, "state"), "", kIssuer}, a.binding, w.client);
  ck_assert(!late.tokens && late.location == "/login?error=invalid_state");

  // A tampered state, another provider's iss, the provider's own refusal.
  a = w.oauth->start("corp", "", w.client);
  std::string tampered = query_param(a.location, "state");
  tampered[20] = tampered[20] == 'A' ? 'B' : 'A';
  ck_assert(w.oauth->callback("corp", {w.idp.approve(a.location), tampered, "", kIssuer}, a.binding, w.client).location ==
            "/login?error=invalid_state");
  a = w.oauth->start("corp", "", w.client);
  ck_assert(w.oauth->callback("corp", {w.idp.approve(a.location), query_param(a.location, "state"), "", "https://evil.example.com"},
                              a.binding, w.client).location == "/login?error=invalid_state");
  a = w.oauth->start("corp", "", w.client);
  ck_assert(w.oauth->callback("corp", {"", query_param(a.location, "state"), "access_denied", ""}, a.binding, w.client)
                .location == "/login?error=access_denied");
}
END_TEST

START_TEST(redirect_to_is_never_open) {
  OAuthWorld w;
  for (const char* bad : {"//evil.example.com/", "https://evil.example.com/", "/\\evil.example.com"}) {
    OAuthAnswer a = w.oauth->start("corp", bad, w.client);
    ck_assert_msg(a.error && a.error->code == "invalid_redirect" && a.location.empty(), "accepted %s", bad);
  }
  ck_assert(w.oauth->start("nope", "", w.client).error->code == "unknown_provider");
}
END_TEST

START_TEST(unknown_kid_refetches_keys_at_most_once_a_minute) {
  OAuthWorld w;
  ck_assert(w.login().tokens.has_value());
  ck_assert_int_eq(w.idp.jwks_fetches, 1);
  ck_assert(w.login().tokens.has_value());
  ck_assert_int_eq(w.idp.jwks_fetches, 1);  // cached
  w.idp.key = test::make_key(KeyKind::kRsa);  // the provider rotates
  ck_assert(w.login().tokens.has_value());
  ck_assert_int_eq(w.idp.jwks_fetches, 2);
  w.idp.key = test::make_key(KeyKind::kRsa);  // and again, within the minute
  w.now += 30;
  OAuthAnswer a = w.login();
  ck_assert(!a.tokens && a.location == "/login?error=invalid_id_token");
  ck_assert_int_eq(w.idp.jwks_fetches, 2);
  w.now += 31;
  ck_assert(w.login().tokens.has_value());
  ck_assert_int_eq(w.idp.jwks_fetches, 3);
}
END_TEST

START_TEST(provider_trouble_ends_on_the_login_page) {
  OAuthWorld w;
  w.idp.down = true;
  OAuthAnswer a = w.oauth->start("corp", "", w.client);
  ck_assert(!a.error && a.location == "/login?error=provider_unavailable");
  w.idp.down = false;
  w.now += OAuthLogin::kFailureBackoff;
  a = w.oauth->start("corp", "", w.client);
  std::string code = w.idp.approve(a.location);
  w.idp.down = true;
  ck_assert(w.oauth->callback("corp", {code, query_param(a.location, "state"), "", kIssuer}, a.binding, w.client)
                .location == "/login?error=provider_unavailable");
  w.idp.down = false;
  a = w.oauth->start("corp", "", w.client);
  // A code the provider does not know: its token endpoint says invalid_grant.
  ck_assert(w.oauth->callback("corp", {"forged", query_param(a.location, "state"), "", kIssuer}, a.binding, w.client)
                .location == "/login?error=provider_error");
}
END_TEST

// One code for "the provider gave no usable answer", whichever call it
// hit; a refusal stays provider_error.
START_TEST(an_unusable_answer_is_provider_unavailable_wherever_it_comes) {
  OAuthWorld w;
  auto login_with = [&](const std::string& suffix, spa::authd::HttpResult r) {
    OAuthAnswer a = w.oauth->start("corp", "", w.client);
    std::string code = w.idp.approve(a.location);
    w.idp.broken = {{suffix, r}};
    OAuthAnswer b = w.oauth->callback("corp", {code, query_param(a.location, "state"), "", kIssuer}, a.binding, w.client);
    w.idp.broken.clear();
    ck_assert(!b.tokens);
    return b.location;
  };
  ck_assert(login_with("/token", {500, "<html>oops</html>", ""}) == "/login?error=provider_unavailable");
  ck_assert(login_with("/token", {200, R"({"access_token":"at-1","tok)", ""}) == "/login?error=provider_unavailable");
  ck_assert(login_with("/token", {200, R"({"access_token":"at-1"})", ""}) == "/login?error=provider_error");
  ck_assert(login_with("/token", {400, R"({"error":"invalid_grant"})", ""}) == "/login?error=provider_error");
  ck_assert(login_with("/jwks", {200, R"({"keys":[{"kty")", ""}) == "/login?error=provider_unavailable");
  ck_assert(login_with("/jwks", {503, "", ""}) == "/login?error=provider_unavailable");
  ck_assert(w.login().tokens.has_value());  // and once it answers again, the login works
}
END_TEST

bool is_busy(const OAuthAnswer& a, const Config& c) {
  return a.error && a.error->status == 503 && a.error->code == "provider_busy" &&
         a.error->retry_after == c.oauth_call_timeout && a.location.empty() && a.binding.empty() && !a.clear_binding;
}

// A token endpoint that never answers holds the calls it was given and no
// more: the next callback is told 503 before its state is spent (it works
// later), while starts, refreshes and /me go on.
START_TEST(a_hung_provider_holds_only_its_calls) {
  OAuthWorld w(1);
  OAuthAnswer warm = w.login();  // discovery and keys cached
  ck_assert(warm.tokens.has_value());
  OAuthAnswer first = w.oauth->start("corp", "", w.client), second = w.oauth->start("corp", "", w.client);
  std::string code1 = w.idp.approve(first.location), code2 = w.idp.approve(second.location);
  w.idp.hang("/token");
  OAuthAnswer hung;
  std::thread t([&] {
    hung = w.oauth->callback("corp", {code1, query_param(first.location, "state"), "", kIssuer}, first.binding, w.client);
  });
  w.idp.wait_hanging(1);
  ck_assert(w.oauth->metrics().find("spa_authd_provider_calls{provider=\"corp\"} 1\n") != std::string::npos);
  OAuthAnswer shed =
      w.oauth->callback("corp", {code2, query_param(second.location, "state"), "", kIssuer}, second.binding, w.client);
  ck_assert(is_busy(shed, w.config));
  ck_assert(w.oauth->metrics().find("spa_authd_provider_shed_total{provider=\"corp\"} 1\n") != std::string::npos);
  // A start needs no call (the document is cached); quick work needs none.
  OAuthAnswer third = w.oauth->start("corp", "", w.client);
  ck_assert(!third.error && third.location.rfind("https://idp.example.com/auth?", 0) == 0);
  ck_assert(w.service->refresh(warm.tokens->refresh_token, w.client).ok());
  // The provider said no: nothing to wait for, so no call needed either.
  ck_assert(w.oauth->callback("corp", {"", query_param(third.location, "state"), "access_denied", kIssuer},
                              third.binding, w.client).location == "/login?error=access_denied");
  w.idp.release();
  t.join();
  ck_assert(hung.tokens.has_value());
  ck_assert(w.oauth->metrics().find("spa_authd_provider_calls{provider=\"corp\"} 0\n") != std::string::npos);
  // The shed callback's state was not spent: the same callback signs in now.
  OAuthAnswer again =
      w.oauth->callback("corp", {code2, query_param(second.location, "state"), "", kIssuer}, second.binding, w.client);
  ck_assert_msg(again.tokens.has_value(), "%s", again.location.c_str());
}
END_TEST

// Refetching an expired discovery document holds no lock across the
// network: while the provider hangs, other logins use the copy they have.
START_TEST(a_refetch_holds_no_lock_across_the_network) {
  OAuthWorld w;
  ck_assert(w.login().tokens.has_value());
  w.now += OAuthLogin::kMetadataMaxAge;
  w.idp.hang("/.well-known/openid-configuration");
  OAuthAnswer refetching;
  std::thread t([&] { refetching = w.oauth->start("corp", "", w.client); });
  w.idp.wait_hanging(1);
  // A whole login (start, callback: token, keys, userinfo) meanwhile.
  OAuthAnswer other = w.login();
  ck_assert_msg(other.tokens.has_value(), "%s", other.location.c_str());
  w.idp.release();
  t.join();
  ck_assert(!refetching.error && refetching.location.rfind("https://idp.example.com/auth?", 0) == 0);
  ck_assert_int_eq(w.idp.discovery_fetches, 2);
}
END_TEST

// Nothing cached and the provider hanging: one request fetches, one more
// (within calls_per_provider) waits for that fetch, the next is shed.
START_TEST(a_cold_cache_fetches_once) {
  OAuthWorld w(2);
  w.idp.hang("/.well-known/openid-configuration");
  OAuthAnswer a, b;
  std::thread ta([&] { a = w.oauth->start("corp", "", w.client); });
  w.idp.wait_hanging(1);
  std::thread tb([&] { b = w.oauth->start("corp", "", w.client); });
  while (w.oauth->metrics().find("spa_authd_provider_calls{provider=\"corp\"} 2\n") == std::string::npos)
    std::this_thread::yield();
  ck_assert(is_busy(w.oauth->start("corp", "", w.client), w.config));
  w.idp.release();
  ta.join();
  tb.join();
  ck_assert(!a.error && a.location.rfind("https://idp.example.com/auth?", 0) == 0);
  ck_assert(!b.error && b.location.rfind("https://idp.example.com/auth?", 0) == 0);
  ck_assert_int_eq(w.idp.discovery_fetches, 1);
}
END_TEST

START_TEST(google_is_built_in) {
  OAuthWorld w;
  OAuthProviderConfig g;
  g.name = "google";
  g.client_id = "123.apps.googleusercontent.com";
  g.client_secret_file = w.dir + "/secret";
  g.redirect_uri = "https://app.example.com/api/v1/oauth/google/callback";
  w.config.oauth = {g};
  OAuthLogin login(w.config, *w.service, w.store, w.idp, [&w] { return w.now; });
  std::string err;
  ck_assert(login.load_secrets(err));
  OAuthAnswer a = login.start("google", "", w.client);
  // No discovery fetch: Google's endpoints are known.
  ck_assert_msg(a.location.rfind("https://accounts.google.com/o/oauth2/v2/auth?response_type=code&client_id=123.apps."
                                 "googleusercontent.com&redirect_uri=https%3A%2F%2Fapp.example.com%2Fapi%2Fv1%2Foauth%2F"
                                 "google%2Fcallback&scope=openid%20email%20profile&state=", 0) == 0,
                "%s", a.location.c_str());
  ck_assert(a.location.find("&code_challenge_method=S256") != std::string::npos);
  ck_assert(oidc::google_metadata().issuer_aliases == std::vector<std::string>{"accounts.google.com"});
}
END_TEST

}  // namespace

Suite* oauth_login_suite() {
  Suite* s = suite_create("oauth_login");
  TCase* t = tcase_create("core");
  tcase_add_test(t, login_creates_the_account_and_starts_a_session);
  tcase_add_test(t, a_state_works_once_in_one_browser_for_ten_minutes);
  tcase_add_test(t, redirect_to_is_never_open);
  tcase_add_test(t, unknown_kid_refetches_keys_at_most_once_a_minute);
  tcase_add_test(t, provider_trouble_ends_on_the_login_page);
  tcase_add_test(t, an_unusable_answer_is_provider_unavailable_wherever_it_comes);
  tcase_add_test(t, google_is_built_in);
  tcase_add_test(t, a_hung_provider_holds_only_its_calls);
  tcase_add_test(t, a_refetch_holds_no_lock_across_the_network);
  tcase_add_test(t, a_cold_cache_fetches_once);
  tcase_set_timeout(t, 60);
  suite_add_tcase(s, t);
  return s;
}
REGISTER_SUITE(oauth_login_suite);
