// OpenID Connect relying party: PKCE, discovery, provider keys, ID token
// checks and redirect targets (authd/oidc), then the whole login of
// authd/oauth against a provider answered in process, with a fake clock.
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "authd/files.h"
#include "authd/oauth.h"
#include "authd/oidc.h"
#include "core/base64url.h"
#include "tests/unit/auth_world.h"

namespace {

using json = nlohmann::json;
using namespace spa::authd;
using spa::core::Alg;
using spa::core::KeyKind;

const char* kIssuer = "https://idp.example.com";

json discovery_doc() {
  return {{"issuer", kIssuer},
          {"authorization_endpoint", "https://idp.example.com/auth"},
          {"token_endpoint", "https://idp.example.com/token"},
          {"userinfo_endpoint", "https://idp.example.com/me"},
          {"jwks_uri", "https://idp.example.com/jwks"},
          {"response_types_supported", {"code"}},
          {"code_challenge_methods_supported", {"S256"}},
          {"id_token_signing_alg_values_supported", {"RS256", "EdDSA"}},
          {"token_endpoint_auth_methods_supported", {"client_secret_post"}},
          {"authorization_response_iss_parameter_supported", true}};
}

bool discovery_ok(const json& doc, std::string& err) {
  oidc::ProviderMetadata m;
  return oidc::parse_discovery(doc.dump(), std::string(kIssuer) + "/.well-known/openid-configuration", m, err);
}

START_TEST(pkce_matches_rfc7636_appendix_b) {
  ck_assert(oidc::pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") ==
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}
END_TEST

START_TEST(only_https_or_loopback_http) {
  for (const char* ok : {"https://idp.example.com/x", "https://idp.example.com:8443", "http://127.0.0.1:9000/a",
                         "http://localhost/a", "http://[::1]:80/", "http://127.255.0.1/"})
    ck_assert_msg(oidc::url_allowed(ok), "refused %s", ok);
  for (const char* bad : {"http://idp.example.com/", "http://128.0.0.1/", "http://127.0.0.1.evil.com/",
                          "https://user@idp.example.com/", "https://idp.example.com/#x", "ftp://idp/",
                          "https://", "https://idp.example.com:99999999/", "https://idp .com/", "//idp.example.com/",
                          "http://localhost.evil.com/", "https://idp.example.com\\@evil.com/"})
    ck_assert_msg(!oidc::url_allowed(bad), "allowed %s", bad);
}
END_TEST

START_TEST(discovery_is_checked) {
  std::string err;
  ck_assert_msg(discovery_ok(discovery_doc(), err), "%s", err.c_str());
  oidc::ProviderMetadata m;
  ck_assert(oidc::parse_discovery(discovery_doc().dump(), std::string(kIssuer) + "/.well-known/openid-configuration", m, err));
  ck_assert(m.id_token_algs.contains(Alg::kRS256) && m.id_token_algs.contains(Alg::kEdDSA));
  ck_assert(!m.client_secret_basic && m.client_secret_post && m.iss_parameter);

  auto broken = [&](const char* key, json value) {
    json d = discovery_doc();
    if (value.is_null()) d.erase(key);
    else d[key] = value;
    return !discovery_ok(d, err);
  };
  ck_assert(broken("issuer", "https://other.example.com"));       // mix-up: issuer is not where we asked
  ck_assert(broken("jwks_uri", nullptr));
  ck_assert(broken("token_endpoint", "http://idp.example.com/token"));
  ck_assert(broken("code_challenge_methods_supported", json::array({"plain"})));
  ck_assert(broken("response_types_supported", json::array({"id_token"})));
  ck_assert(broken("id_token_signing_alg_values_supported", json::array({"HS256", "none"})));
  ck_assert(broken("token_endpoint_auth_methods_supported", json::array({"private_key_jwt"})));
  ck_assert(!discovery_ok(json::array(), err));
  ck_assert(!oidc::parse_discovery("{\"issuer\":1,\"issuer\":2}", "https://idp.example.com/.well-known/openid-configuration",
                                   m, err));

  // Without the optional lists: RS256 and client_secret_basic.
  json minimal = {{"issuer", kIssuer},
                  {"authorization_endpoint", "https://idp.example.com/auth"},
                  {"token_endpoint", "https://idp.example.com/token"},
                  {"jwks_uri", "https://idp.example.com/jwks"}};
  ck_assert(oidc::parse_discovery(minimal.dump(), std::string(kIssuer) + "/.well-known/openid-configuration", m, err));
  ck_assert(m.id_token_algs.contains(Alg::kRS256) && !m.id_token_algs.contains(Alg::kEdDSA));
  ck_assert(m.client_secret_basic && m.userinfo_endpoint.empty());
}
END_TEST

START_TEST(provider_keys_skip_what_we_cannot_use) {
  auto key = test::make_key(KeyKind::kP256);
  json usable = spa::core::jwk_public_json(*key);
  json enc = usable;
  enc["use"] = "enc";
  enc["kid"] = "enc-key";
  json set = {{"keys", {enc, {{"kty", "oct"}, {"k", "c2VjcmV0"}}, {{"kty", "OKP"}, {"crv", "X448"}, {"x", "AA"}}, usable}}};
  spa::core::Jwks jwks;
  std::string err;
  ck_assert_msg(oidc::parse_provider_jwks(set.dump(), jwks, err), "%s", err.c_str());
  ck_assert_uint_eq(jwks.size(), 1);
  ck_assert(!oidc::parse_provider_jwks(json{{"keys", {enc}}}.dump(), jwks, err));
  ck_assert(!oidc::parse_provider_jwks("{\"keys\":{}}", jwks, err));
  ck_assert(!oidc::parse_provider_jwks("not json", jwks, err));
}
END_TEST

START_TEST(token_responses) {
  oidc::TokenResponse t;
  std::string err;
  ck_assert(oidc::parse_token_response(R"({"access_token":"a","token_type":"bearer","id_token":"x.y.z"})", t, err));
  ck_assert(t.id_token == "x.y.z");
  ck_assert(!oidc::parse_token_response(R"({"access_token":"a","token_type":"mac","id_token":"x"})", t, err));
  ck_assert(!oidc::parse_token_response(R"({"access_token":"a","token_type":"Bearer"})", t, err));
  ck_assert(err.find("id_token") != std::string::npos);
  ck_assert(!oidc::parse_token_response(R"({"error":"invalid_grant"})", t, err));
}
END_TEST

struct IdTokenWorld {
  oidc::ProviderMetadata provider;
  spa::core::JwkPtr key = test::make_key(KeyKind::kRsa);
  spa::core::Jwks keys;
  int64_t now = 1'800'000'000;
  IdTokenWorld() {
    std::string err;
    oidc::parse_discovery(discovery_doc().dump(), std::string(kIssuer) + "/.well-known/openid-configuration", provider, err);
    keys.add(test::public_of(*key));
  }
  json claims() const {
    return {{"iss", kIssuer}, {"aud", "client-1"}, {"sub", "u1"}, {"nonce", "n-1"}, {"iat", now}, {"exp", now + 300}};
  }
  oidc::IdTokenResult check(const json& c, std::string& reason, Alg alg = Alg::kRS256) {
    oidc::IdTokenCheck ck{&provider, "client-1", "n-1", now};
    json out;
    return oidc::verify_id_token(test::mint(*key, alg, c), keys, ck, out, reason);
  }
};

START_TEST(id_tokens_are_checked_claim_by_claim) {
  IdTokenWorld w;
  std::string why;
  ck_assert_msg(w.check(w.claims(), why) == oidc::IdTokenResult::kOk, "%s", why.c_str());
  auto refused = [&](json c) { return w.check(c, why) == oidc::IdTokenResult::kInvalid; };
  json c = w.claims();
  c["iss"] = "https://evil.example.com";
  ck_assert(refused(c));
  c = w.claims();
  c["aud"] = "another-client";
  ck_assert(refused(c));
  c = w.claims();
  c["aud"] = {"client-1", "other"};  // several audiences need azp
  ck_assert(refused(c));
  c["azp"] = "client-1";
  ck_assert(!refused(c));
  c["azp"] = "other";
  ck_assert(refused(c));
  c = w.claims();
  c["nonce"] = "n-2";
  ck_assert(refused(c));
  c.erase("nonce");
  ck_assert(refused(c));
  c = w.claims();
  c["exp"] = w.now - 61;
  ck_assert(refused(c));
  c = w.claims();
  c["iat"] = w.now - 3600;  // a login from an hour ago is a replay
  ck_assert(refused(c));
  c.erase("iat");
  ck_assert(refused(c));
  c = w.claims();
  c["sub"] = "";
  ck_assert(refused(c));
  // Signed with another key: unknown kid, which lets the caller refetch.
  auto stranger = test::make_key(KeyKind::kRsa);
  oidc::IdTokenCheck ck{&w.provider, "client-1", "n-1", w.now};
  json out;
  ck_assert(oidc::verify_id_token(test::mint(*stranger, Alg::kRS256, w.claims()), w.keys, ck, out, why) ==
            oidc::IdTokenResult::kUnknownKey);
  // A bad signature, or an algorithm the provider does not list, is invalid.
  ck_assert(oidc::verify_id_token(test::flip_signature_bit(test::mint(*w.key, Alg::kRS256, w.claims()), 9), w.keys,
                                  ck, out, why) == oidc::IdTokenResult::kInvalid);
  ck_assert(w.check(w.claims(), why, Alg::kPS256) == oidc::IdTokenResult::kInvalid);
}
END_TEST

START_TEST(redirect_targets_stay_on_site) {
  std::vector<std::string> allowed = {"https://admin.example.com/", "https://app.example.com/done"};
  for (const char* ok : {"/", "/app?tab=1", "/a/b#c", "https://admin.example.com/x", "https://app.example.com/done",
                         "/caf\xC3\xA9"})
    ck_assert_msg(oidc::safe_redirect(ok, allowed).has_value(), "refused %s", ok);
  for (const char* bad : {"", "//evil.example.com", "/\\evil.example.com", "\\\\evil", "https://evil.example.com/",
                          "https://app.example.com/done2", "https://admin.example.com.evil.com/", "javascript:alert(1)",
                          "/a\r\nSet-Cookie: x=1", "/a b", "http://admin.example.com/",
                          "/\xFF", "/caf\xC3", "/\xED\xA0\x80", "https://admin.example.com/\xC0\xAF"})
    ck_assert_msg(!oidc::safe_redirect(bad, allowed).has_value(), "allowed %s", bad);
}
END_TEST

// --- the whole login against an in-process provider

std::string query_param(const std::string& url, const std::string& name) {
  size_t q = url.find_first_of("?#");
  if (q == std::string::npos) return {};
  std::string rest = "&" + url.substr(q + 1);
  size_t at = rest.find("&" + name + "=");
  if (at == std::string::npos) return {};
  at += name.size() + 2;
  return rest.substr(at, rest.find('&', at) - at);
}

struct FakeProvider final : HttpClient {
  spa::core::JwkPtr key = test::make_key(KeyKind::kRsa);
  int64_t* now = nullptr;
  bool down = false;
  int jwks_fetches = 0;
  std::string subject = "alice", email = "alice@example.com";
  bool email_verified = true;
  struct Grant {
    std::string nonce, challenge;
  };
  std::map<std::string, Grant> codes;
  std::vector<std::string> seen_forms;
  int discovery_fetches = 0;

  // A provider that hangs: a call to a URL ending in `suffix` waits until
  // release(), before it touches anything above.
  void hang(const std::string& suffix) {
    std::lock_guard<std::mutex> l(hang_mu);
    hang_suffix = suffix;
    released = false;
  }
  void wait_hanging(int n) {
    std::unique_lock<std::mutex> l(hang_mu);
    hang_cv.wait(l, [&] { return hanging >= n; });
  }
  void release() {
    std::lock_guard<std::mutex> l(hang_mu);
    released = true;
    hang_suffix.clear();
    hang_cv.notify_all();
  }
  void maybe_hang(const std::string& url) {
    std::unique_lock<std::mutex> l(hang_mu);
    if (hang_suffix.empty() || url.size() < hang_suffix.size() ||
        url.compare(url.size() - hang_suffix.size(), hang_suffix.size(), hang_suffix) != 0)
      return;
    ++hanging;
    hang_cv.notify_all();
    hang_cv.wait(l, [&] { return released; });
    --hanging;
  }
  std::mutex hang_mu;
  std::condition_variable hang_cv;
  std::string hang_suffix;
  int hanging = 0;
  bool released = false;

  HttpResult get(const std::string& url, const std::vector<std::string>& headers) override {
    maybe_hang(url);
    if (down) return {0, "", "Couldn't connect to server"};
    if (url == std::string(kIssuer) + "/.well-known/openid-configuration") {
      ++discovery_fetches;
      return {200, discovery_doc().dump(), ""};
    }
    if (url == std::string(kIssuer) + "/jwks") {
      ++jwks_fetches;
      return {200, json{{"keys", {spa::core::jwk_public_json(*key)}}}.dump(), ""};
    }
    if (url == std::string(kIssuer) + "/me") {
      if (headers.empty() || headers[0] != "Authorization: Bearer at-1") return {401, "", ""};
      return {200, json{{"sub", subject}, {"email", email}, {"email_verified", email_verified}}.dump(), ""};
    }
    return {404, "", ""};
  }
  HttpResult post_form(const std::string& url, const std::string& form, const std::vector<std::string>&) override {
    maybe_hang(url);
    if (down) return {0, "", "Couldn't connect to server"};
    seen_forms.push_back(form);
    std::string code = query_param("?" + form, "code");
    auto it = codes.find(code);
    if (url != std::string(kIssuer) + "/token" || it == codes.end() ||
        oidc::pkce_challenge(query_param("?" + form, "code_verifier")) != it->second.challenge ||
        query_param("?" + form, "client_secret") != "s3cret")
      return {400, R"({"error":"invalid_grant"})", ""};
    json claims = {{"iss", kIssuer}, {"aud", "client-1"}, {"sub", subject}, {"nonce", it->second.nonce},
                   {"iat", *now},    {"exp", *now + 300}};
    codes.erase(it);  // single use, as at a real provider
    return {200, json{{"access_token", "at-1"}, {"token_type", "Bearer"}, {"id_token", test::mint(*key, Alg::kRS256, claims)}}.dump(), ""};
  }
  // What the provider does when the user signs in: a code for this request.
  std::string approve(const std::string& authorization_url) {
    std::string code = "code-" + std::to_string(codes.size() + seen_forms.size());
    codes[code] = {query_param(authorization_url, "nonce"), query_param(authorization_url, "code_challenge")};
    return code;
  }
};

struct OAuthWorld : test::AuthWorld {
  FakeProvider idp;
  std::unique_ptr<OAuthLogin> oauth;
  explicit OAuthWorld(uint32_t calls_per_provider = 16) {
    idp.now = &now;
    config.oauth_calls_per_provider = calls_per_provider;
    OAuthProviderConfig p;
    p.name = "corp";
    p.client_id = "client-1";
    p.client_secret_file = dir + "/secret";
    p.redirect_uri = "https://app.example.com/api/v1/oauth/corp/callback";
    p.discovery = std::string(kIssuer) + "/.well-known/openid-configuration";
    config.oauth.push_back(p);
    std::string err;
    ck_assert(spa::authd::write_file_atomic(p.client_secret_file, "s3cret\n", 0600, err));
    oauth = std::make_unique<OAuthLogin>(config, *service, store, idp, [this] { return now; });
    ck_assert_msg(oauth->load_secrets(err), "%s", err.c_str());
  }
  // start → provider → callback; returns the callback's answer.
  OAuthAnswer login(const std::string& redirect_to = "") {
    OAuthAnswer a = oauth->start("corp", redirect_to, client);
    ck_assert_msg(!a.error && !a.binding.empty(), "start failed: %s", a.location.c_str());
    last_state = query_param(a.location, "state");
    last_binding = a.binding;
    return oauth->callback("corp", {idp.approve(a.location), last_state, "", kIssuer}, a.binding, client);
  }
  std::string last_state, last_binding;
};

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
  w.now += AuthService::kRecentAuth + 1;
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

Suite* oidc_suite() {
  Suite* s = suite_create("oidc");
  TCase* t = tcase_create("core");
  tcase_add_test(t, pkce_matches_rfc7636_appendix_b);
  tcase_add_test(t, only_https_or_loopback_http);
  tcase_add_test(t, discovery_is_checked);
  tcase_add_test(t, provider_keys_skip_what_we_cannot_use);
  tcase_add_test(t, token_responses);
  tcase_add_test(t, id_tokens_are_checked_claim_by_claim);
  tcase_add_test(t, redirect_targets_stay_on_site);
  tcase_add_test(t, login_creates_the_account_and_starts_a_session);
  tcase_add_test(t, a_state_works_once_in_one_browser_for_ten_minutes);
  tcase_add_test(t, redirect_to_is_never_open);
  tcase_add_test(t, unknown_kid_refetches_keys_at_most_once_a_minute);
  tcase_add_test(t, accounts_link_only_by_verified_email);
  tcase_add_test(t, unverified_account_is_claimed_by_a_verified_provider_login);
  tcase_add_test(t, a_pending_link_dies_with_its_session);
  tcase_add_test(t, a_reset_claims_an_account_squatted_through_a_provider);
  tcase_add_test(t, a_signed_in_owner_confirms_without_losing_her_account);
  tcase_add_test(t, provider_trouble_ends_on_the_login_page);
  tcase_add_test(t, google_is_built_in);
  tcase_add_test(t, a_hung_provider_holds_only_its_calls);
  tcase_add_test(t, a_refetch_holds_no_lock_across_the_network);
  tcase_add_test(t, a_cold_cache_fetches_once);
  tcase_set_timeout(t, 60);
  suite_add_tcase(s, t);
  return s;
}
