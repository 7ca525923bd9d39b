// JWK import, RFC 7638 thumbprints and JWK Set rules.
#include "core/jwk.h"
#include "tests/unit/helpers.h"

using namespace spa::core;
using json = nlohmann::json;

namespace {

const char* kRfc7638N =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhM"
    "stn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5"
    "hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

bool parse(const json& doc, Jwks& out, std::string& err, std::vector<std::string>& warnings) {
  return Jwks::parse(doc.dump(), out, err, warnings);
}

json ed_jwk(const std::string& kid) {
  JwkPtr k = test::make_key(KeyKind::kEd25519);
  json j = jwk_public_json(*k);
  j["kid"] = kid;
  return j;
}

}  // namespace

START_TEST(rfc7638_rsa_thumbprint) {
  std::string err;
  bool skip;
  JwkPtr k = jwk_from_json({{"kty", "RSA"}, {"n", kRfc7638N}, {"e", "AQAB"}, {"alg", "RS256"}, {"kid", "2011-04-29"}},
                           err, skip);
  ck_assert(k != nullptr);
  ck_assert_str_eq(k->thumbprint.c_str(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}
END_TEST

START_TEST(rfc8037_ed25519_thumbprint) {
  std::string err;
  bool skip;
  JwkPtr k = jwk_from_json({{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}},
                           err, skip);
  ck_assert(k != nullptr);
  ck_assert_str_eq(k->thumbprint.c_str(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
}
END_TEST

START_TEST(set_picks_keys_by_kid) {
  Jwks set;
  std::string err;
  std::vector<std::string> warnings;
  ck_assert(parse({{"keys", {ed_jwk("a"), ed_jwk("b")}}}, set, err, warnings));
  ck_assert_uint_eq(set.size(), 2);
  JwkPtr a = set.resolve(std::string_view("a"), Alg::kEdDSA);
  JwkPtr b = set.resolve(std::string_view("b"), Alg::kEdDSA);
  ck_assert(a && b && a != b);
  ck_assert(set.resolve(std::string_view("c"), Alg::kEdDSA) == nullptr);
  ck_assert(set.resolve(std::string_view("a"), Alg::kES256) == nullptr);
  // Without kid: two candidates is ambiguous, so no key.
  ck_assert(set.resolve(std::nullopt, Alg::kEdDSA) == nullptr);
}
END_TEST

START_TEST(token_without_kid_uses_the_only_fitting_key) {
  Jwks set;
  std::string err;
  std::vector<std::string> warnings;
  json ec = jwk_public_json(*test::make_key(KeyKind::kP256));
  ec["kid"] = "ec";
  ck_assert(parse({{"keys", {ed_jwk("ed"), ec}}}, set, err, warnings));
  JwkPtr ed = set.resolve(std::nullopt, Alg::kEdDSA);
  ck_assert(ed && ed->kid == "ed");
  ck_assert(set.resolve(std::nullopt, Alg::kRS256) == nullptr);
}
END_TEST

START_TEST(unusable_keys_are_skipped_with_a_warning) {
  Jwks set;
  std::string err;
  std::vector<std::string> warnings;
  json enc = ed_jwk("enc");
  enc["use"] = "enc";
  Jwk rsa1024;
  rsa1024.kind = KeyKind::kRsa;
  rsa1024.pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024}));
  json small_rsa = jwk_public_json(rsa1024);
  json doc = {{"keys",
               {ed_jwk("ok"), {{"kty", "oct"}, {"k", "c2VjcmV0"}}, {{"kty", "foo"}}, enc, small_rsa,
                {{"kty", "OKP"}, {"crv", "X25519"}, {"x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}}}};
  ck_assert_msg(parse(doc, set, err, warnings), "%s", err.c_str());
  ck_assert_uint_eq(set.size(), 1);
  ck_assert_uint_eq(warnings.size(), 5);
}
END_TEST

START_TEST(broken_sets_are_refused) {
  std::string err;
  std::vector<std::string> warnings;
  Jwks set;
  ck_assert(!Jwks::parse("not json", set, err, warnings));
  ck_assert(!parse(json::array(), set, err, warnings));
  ck_assert(!parse({{"keys", json::array()}}, set, err, warnings));
  ck_assert_str_eq(err.c_str(), "JWKS has no usable signing keys");
  ck_assert(!parse({{"keys", {ed_jwk("a"), ed_jwk("a")}}}, set, err, warnings));
  ck_assert(err.find("duplicate kid") != std::string::npos);
  // Private key material must never be published.
  json priv = ed_jwk("p");
  priv["d"] = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
  ck_assert(!parse({{"keys", {priv}}}, set, err, warnings));
  // An EC point that is not on the curve.
  ck_assert(!parse({{"keys", {{{"kty", "EC"}, {"crv", "P-256"}, {"x", std::string(43, 'A')}, {"y", std::string(42, 'A') + "E"}}}}},
                   set, err, warnings));
  // Wrong lengths, bad base64url, declared alg that does not fit the key.
  ck_assert(!parse({{"keys", {{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "AAAA"}}}}}, set, err, warnings));
  ck_assert(!parse({{"keys", {{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR+"}}}}},
                   set, err, warnings));
  // RSA with e = 1 (signature = message) or an even exponent.
  json rsa = jwk_public_json(*test::make_key(KeyKind::kRsa));
  for (const char* e : {"AQ", "Ag", "AQAA"}) {
    rsa["e"] = e;
    ck_assert_msg(!parse({{"keys", {rsa}}}, set, err, warnings), "accepted e=%s", e);
    ck_assert(err.find("RSA exponent") != std::string::npos);
  }
  json wrong_alg = ed_jwk("w");
  wrong_alg["alg"] = "RS256";
  ck_assert(!parse({{"keys", {wrong_alg}}}, set, err, warnings));
}
END_TEST

START_TEST(reload_keeps_identity_of_unchanged_keys) {
  json a = ed_jwk("a"), b = ed_jwk("b"), b2 = ed_jwk("b");
  std::string err;
  std::vector<std::string> warnings;
  Jwks first, second;
  ck_assert(parse({{"keys", {a, b}}}, first, err, warnings));
  ck_assert(parse({{"keys", {a, b2}}}, second, err, warnings));
  second.adopt_unchanged_from(first);
  ck_assert(second.resolve(std::string_view("a"), Alg::kEdDSA) == first.resolve(std::string_view("a"), Alg::kEdDSA));
  // Same kid, different key material: a new object.
  ck_assert(second.resolve(std::string_view("b"), Alg::kEdDSA) != first.resolve(std::string_view("b"), Alg::kEdDSA));
}
END_TEST

START_TEST(hmac_secrets_must_be_long_enough) {
  std::string err;
  ck_assert(jwk_from_hmac_secret(std::string(31, 's'), err) == nullptr);
  ck_assert(jwk_from_hmac_secret(std::string(32, 's'), err) != nullptr);
}
END_TEST

Suite* jwk_suite() {
  Suite* s = suite_create("jwk");
  TCase* tc = tcase_create("core");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, rfc7638_rsa_thumbprint);
  tcase_add_test(tc, rfc8037_ed25519_thumbprint);
  tcase_add_test(tc, set_picks_keys_by_kid);
  tcase_add_test(tc, token_without_kid_uses_the_only_fitting_key);
  tcase_add_test(tc, unusable_keys_are_skipped_with_a_warning);
  tcase_add_test(tc, broken_sets_are_refused);
  tcase_add_test(tc, reload_keeps_identity_of_unchanged_keys);
  tcase_add_test(tc, hmac_secrets_must_be_long_enough);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(jwk_suite);
