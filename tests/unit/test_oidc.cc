// OpenID Connect relying party without I/O (authd/oidc.h): PKCE,
// discovery, provider keys, token responses, ID token checks and redirect
// targets.
#include "authd/oidc.h"
#include "core/base64url.h"
#include "tests/unit/oauth_world.h"

namespace {

using json = nlohmann::json;
using namespace spa::authd;
using spa::core::Alg;
using spa::core::KeyKind;
using test::discovery_doc;
using test::kIssuer;

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

}  // namespace

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
  tcase_set_timeout(t, 60);
  suite_add_tcase(s, t);
  return s;
}
REGISTER_SUITE(oidc_suite);
