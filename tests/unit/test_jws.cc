// Published vectors (RFC 8037 A.4, RFC 7515 A.1-A.3) and the ways a token
// must fail: alg "none", crit, bit flips, truncation, ECDSA edge values.
#include "core/base64url.h"
#include "core/jws.h"
#include "tests/unit/helpers.h"

using namespace spa::core;
using json = nlohmann::json;

namespace {

// RFC 8037 A.1 key; A.4 JWS of "Example of Ed25519 signing", header {"alg":"EdDSA"}.
const char* kEdX = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
const char* kEdD = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const char* kEdJws =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

// RFC 7515 A.2 (RS256) and A.3 (ES256): payload
// {"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}
const char* kRsaN =
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-"
    "SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-"
    "KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_"
    "h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
const char* kRs256Jws =
    "eyJhbGciOiJSUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
const char* kEcX = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
const char* kEcY = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
const char* kEs256Jws =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
// RFC 7515 A.1 (HS256): header {"typ":"JWT",\r\n "alg":"HS256"}.
const char* kHmacK = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
const char* kHs256Jws =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

JwkPtr jwk(const json& j) {
  std::string err;
  bool skip = false;
  JwkPtr k = jwk_from_json(j, err, skip);
  ck_assert_msg(k != nullptr, "jwk_from_json: %s", err.c_str());
  return k;
}

bool verifies(const char* token, Alg alg, const Jwk& key) {
  CompactJws jws;
  std::string detail;
  if (parse_compact_jws(token, jws, detail) != Status::kOk) return false;
  return jws.header.alg == alg && verify_jws_signature(alg, key, jws.signing_input, jws.signature);
}

Status parse_status(const std::string& token) {
  CompactJws jws;
  std::string detail;
  return parse_compact_jws(token, jws, detail);
}

std::string with_header(const std::string& header_json, const std::string& rest = "e30.c2ln") {
  return base64url_encode(header_json) + "." + rest;
}

}  // namespace

START_TEST(rfc8037_ed25519_vector_verifies) {
  ck_assert(verifies(kEdJws, Alg::kEdDSA, *jwk({{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", kEdX}})));
}
END_TEST

START_TEST(rfc8037_ed25519_signature_is_reproduced) {
  std::string d;
  ck_assert(base64url_decode(kEdD, d));
  auto k = std::make_shared<Jwk>();
  k->pkey.reset(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                             reinterpret_cast<const unsigned char*>(d.data()), d.size()));
  k->has_private = true;
  std::string sig;
  ck_assert(sign_jws(Alg::kEdDSA, *k, "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc", sig));
  std::string expected = kEdJws;
  ck_assert(base64url_encode(sig) == expected.substr(expected.rfind('.') + 1));
}
END_TEST

START_TEST(rfc7515_a2_rs256_vector_verifies) {
  ck_assert(verifies(kRs256Jws, Alg::kRS256, *jwk({{"kty", "RSA"}, {"n", kRsaN}, {"e", "AQAB"}})));
}
END_TEST

START_TEST(rfc7515_a3_es256_vector_verifies) {
  ck_assert(verifies(kEs256Jws, Alg::kES256, *jwk({{"kty", "EC"}, {"crv", "P-256"}, {"x", kEcX}, {"y", kEcY}})));
}
END_TEST

START_TEST(rfc7515_a1_hs256_vector_verifies) {
  std::string k, err;
  ck_assert(base64url_decode(kHmacK, k));
  JwkPtr key = jwk_from_hmac_secret(k, err);
  ck_assert(key != nullptr);
  ck_assert(verifies(kHs256Jws, Alg::kHS256, *key));
}
END_TEST

START_TEST(every_algorithm_round_trips_and_rejects_flips) {
  struct Case {
    KeyKind kind;
    Alg alg;
  } cases[] = {{KeyKind::kEd25519, Alg::kEdDSA}, {KeyKind::kP256, Alg::kES256}, {KeyKind::kP384, Alg::kES384},
               {KeyKind::kRsa, Alg::kRS256},     {KeyKind::kRsa, Alg::kPS256},  {KeyKind::kRsa, Alg::kRS512},
               {KeyKind::kHmac, Alg::kHS256},    {KeyKind::kHmac, Alg::kHS512}};
  for (const auto& c : cases) {
    JwkPtr key = test::make_key(c.kind);
    JwkPtr pub = c.kind == KeyKind::kHmac ? key : test::public_of(*key);
    std::string token = test::mint(*key, c.alg, json{{"sub", "alice"}});
    ck_assert_msg(verifies(token.c_str(), c.alg, *pub), "%s does not verify", std::string(alg_name(c.alg)).c_str());
    for (size_t bit : {0u, 7u, 100u, 255u, 511u})
      ck_assert_msg(!verifies(test::flip_signature_bit(token, bit).c_str(), c.alg, *pub), "%s accepted a flipped bit",
                    std::string(alg_name(c.alg)).c_str());
    ck_assert(!verifies(test::truncate_signature(token, 4).c_str(), c.alg, *pub));
    // A payload change breaks the signature too.
    std::string tampered = token;
    size_t dot = tampered.find('.');
    tampered.replace(dot + 1, tampered.find('.', dot + 1) - dot - 1, base64url_encode(R"({"sub":"admin"})"));
    ck_assert(!verifies(tampered.c_str(), c.alg, *pub));
  }
}
END_TEST

START_TEST(alg_none_is_refused_in_any_spelling) {
  for (const char* none : {"none", "None", "NONE", "nOnE"})
    ck_assert(parse_status(with_header(std::string(R"({"alg":")") + none + "\"}")) == Status::kAlgNotAllowed);
  // ...including with an empty signature, the classic form.
  ck_assert(parse_status(base64url_encode(R"({"alg":"none"})") + ".e30.") != Status::kOk);
}
END_TEST

START_TEST(unknown_or_badly_typed_alg_is_refused) {
  ck_assert(parse_status(with_header(R"({"alg":"HS1"})")) == Status::kAlgNotAllowed);
  ck_assert(parse_status(with_header(R"({"alg":"es256"})")) == Status::kAlgNotAllowed);
  ck_assert(parse_status(with_header(R"({"alg":256})")) == Status::kMalformed);
  ck_assert(parse_status(with_header(R"({"kid":"x"})")) == Status::kMalformed);
  ck_assert(parse_status(with_header(R"({"alg":"EdDSA","kid":7})")) == Status::kMalformed);
}
END_TEST

START_TEST(crit_is_refused) {
  ck_assert(parse_status(with_header(R"({"alg":"EdDSA","crit":["exp"],"exp":1})")) == Status::kMalformed);
  ck_assert(parse_status(with_header(R"({"alg":"EdDSA","crit":["b64"],"b64":false})")) == Status::kMalformed);
}
END_TEST

START_TEST(duplicate_header_members_are_refused) {
  ck_assert(parse_status(with_header(R"({"alg":"EdDSA","alg":"none"})")) == Status::kMalformed);
}
END_TEST

START_TEST(structure_errors_are_malformed) {
  for (const char* t : {"", "abc", "a.b", "a.b.c.d", "e30.e30.", "e30.e30.c2ln=", "e30.e30.c2l+", "e30 .e30.c2ln",
                        "W10.e30.c2ln" /* header [] */, "bm90anNvbg.e30.c2ln" /* header "notjson" */})
    ck_assert_msg(parse_status(t) == Status::kMalformed, "accepted \"%s\"", t);
  ck_assert(parse_status(std::string(kMaxTokenBytes + 1, 'a')) == Status::kMalformed);
}
END_TEST

START_TEST(ecdsa_signature_edge_values_fail) {
  JwkPtr key = test::make_key(KeyKind::kP256);
  JwkPtr pub = test::public_of(*key);
  std::string input = "eyJhbGciOiJFUzI1NiJ9.e30";
  std::string sig;
  ck_assert(sign_jws(Alg::kES256, *key, input, sig));
  ck_assert_uint_eq(sig.size(), 64);
  ck_assert(verify_jws_signature(Alg::kES256, *pub, input, sig));
  std::string zero_r = std::string(32, '\0') + sig.substr(32);
  std::string zero_s = sig.substr(0, 32) + std::string(32, '\0');
  ck_assert(!verify_jws_signature(Alg::kES256, *pub, input, zero_r));
  ck_assert(!verify_jws_signature(Alg::kES256, *pub, input, zero_s));
  ck_assert(!verify_jws_signature(Alg::kES256, *pub, input, std::string(64, '\0')));
  ck_assert(!verify_jws_signature(Alg::kES256, *pub, input, sig.substr(0, 63)));
  ck_assert(!verify_jws_signature(Alg::kES256, *pub, input, sig + '\0'));
  // r and s of n (the group order) and above are out of range.
  std::string n_bytes;
  ck_assert(base64url_decode("_____wAAAAD__________7zm-q2nF56E87nKwvxjJVE", n_bytes));
  ck_assert(!verify_jws_signature(Alg::kES256, *pub, input, n_bytes + sig.substr(32)));
  ck_assert(!verify_jws_signature(Alg::kES256, *pub, input, std::string(64, '\xff')));
}
END_TEST

START_TEST(key_type_must_match_alg) {
  JwkPtr rsa = test::public_of(*test::make_key(KeyKind::kRsa));
  JwkPtr ed = test::public_of(*test::make_key(KeyKind::kEd25519));
  JwkPtr p256 = test::public_of(*test::make_key(KeyKind::kP256));
  ck_assert(!rsa->usable_for(Alg::kHS256));
  ck_assert(!rsa->usable_for(Alg::kEdDSA));
  ck_assert(!ed->usable_for(Alg::kES256));
  ck_assert(!p256->usable_for(Alg::kES384));
  // The classic confusion: HS256 keyed with the RSA public key's bytes.
  ck_assert(!verify_jws_signature(Alg::kHS256, *rsa, "a.b", std::string(32, 'x')));
}
END_TEST

Suite* jws_suite() {
  Suite* s = suite_create("jws");
  TCase* tc = tcase_create("vectors");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, rfc8037_ed25519_vector_verifies);
  tcase_add_test(tc, rfc8037_ed25519_signature_is_reproduced);
  tcase_add_test(tc, rfc7515_a2_rs256_vector_verifies);
  tcase_add_test(tc, rfc7515_a3_es256_vector_verifies);
  tcase_add_test(tc, rfc7515_a1_hs256_vector_verifies);
  tcase_add_test(tc, every_algorithm_round_trips_and_rejects_flips);
  suite_add_tcase(s, tc);
  TCase* neg = tcase_create("rejections");
  tcase_add_test(neg, alg_none_is_refused_in_any_spelling);
  tcase_add_test(neg, unknown_or_badly_typed_alg_is_refused);
  tcase_add_test(neg, crit_is_refused);
  tcase_add_test(neg, duplicate_header_members_are_refused);
  tcase_add_test(neg, structure_errors_are_malformed);
  tcase_add_test(neg, ecdsa_signature_edge_values_fail);
  tcase_add_test(neg, key_type_must_match_alg);
  suite_add_tcase(s, neg);
  return s;
}
REGISTER_SUITE(jws_suite);
