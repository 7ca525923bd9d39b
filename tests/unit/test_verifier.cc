// verify_access_token end to end over a key set, and still_trusted for hits.
#include "core/verifier.h"
#include "tests/unit/helpers.h"

using namespace spa::core;
using json = nlohmann::json;

namespace {

struct Fixture {
  JwkPtr ed = test::make_key(KeyKind::kEd25519);
  JwkPtr rsa = test::make_key(KeyKind::kRsa);
  Jwks jwks;
  Fixture() {
    jwks.add(test::public_of(*ed));
    jwks.add(test::public_of(*rsa));
  }
  KeySource keys() const { return KeySource{&jwks, nullptr}; }
};

json claims() { return {{"sub", "alice"}, {"exp", 4'000'000'000}}; }

Status run(const std::string& token, const KeySource& keys, AlgSet allowed = default_algorithms()) {
  VerifiedTokenPtr out;
  std::string detail;
  return verify_access_token(token, keys, allowed, out, detail);
}

}  // namespace

START_TEST(valid_tokens_verify) {
  Fixture f;
  VerifiedTokenPtr out;
  std::string detail;
  ck_assert(verify_access_token(test::mint(*f.ed, Alg::kEdDSA, claims()), f.keys(), default_algorithms(), out,
                                detail) == Status::kOk);
  ck_assert_str_eq(out->claims.sub.c_str(), "alice");
  ck_assert(run(test::mint(*f.rsa, Alg::kRS256, claims()), f.keys()) == Status::kOk);
  ck_assert(run(test::mint(*f.rsa, Alg::kPS256, claims()), f.keys()) == Status::kOk);
}
END_TEST

START_TEST(allowlist_is_enforced) {
  Fixture f;
  AlgSet only_ed;
  only_ed.add(Alg::kEdDSA);
  ck_assert(run(test::mint(*f.rsa, Alg::kRS256, claims()), f.keys(), only_ed) == Status::kAlgNotAllowed);
  ck_assert(run(test::mint(*f.rsa, Alg::kRS512, claims()), f.keys()) == Status::kAlgNotAllowed);
}
END_TEST

START_TEST(unknown_kid_and_key_type_confusion) {
  Fixture f;
  JwkPtr stranger = test::make_key(KeyKind::kEd25519);
  ck_assert(run(test::mint(*stranger, Alg::kEdDSA, claims()), f.keys()) == Status::kUnknownKid);
  // The RSA key's kid with an EdDSA header: a key of another type.
  ck_assert(run(test::mint(*stranger, Alg::kEdDSA, claims(), {{"kid", f.rsa->kid}}), f.keys()) ==
            Status::kAlgNotAllowed);
  // HS256 without a configured secret, even when allowed, names the RSA kid.
  std::string err;
  JwkPtr fake_secret = jwk_from_hmac_secret(std::string(64, 'r'), err);
  AlgSet with_hs = default_algorithms();
  with_hs.add(Alg::kHS256);
  ck_assert(run(test::mint(*fake_secret, Alg::kHS256, claims(), {{"kid", f.rsa->kid}}), f.keys(), with_hs) ==
            Status::kAlgNotAllowed);
}
END_TEST

START_TEST(signature_from_another_key_with_a_known_kid) {
  Fixture f;
  JwkPtr stranger = test::make_key(KeyKind::kEd25519);
  ck_assert(run(test::mint(*stranger, Alg::kEdDSA, claims(), {{"kid", f.ed->kid}}), f.keys()) ==
            Status::kBadSignature);
}
END_TEST

START_TEST(hmac_only_with_a_secret) {
  std::string err;
  JwkPtr secret = jwk_from_hmac_secret(std::string(32, 's'), err);
  AlgSet hs;
  hs.add(Alg::kHS256);
  ck_assert(run(test::mint(*secret, Alg::kHS256, claims()), KeySource{nullptr, secret}, hs) == Status::kOk);
  ck_assert(run(test::mint(*secret, Alg::kHS256, claims()), KeySource{nullptr, nullptr}, hs) ==
            Status::kAlgNotAllowed);
  JwkPtr other = jwk_from_hmac_secret(std::string(32, 'o'), err);
  ck_assert(run(test::mint(*other, Alg::kHS256, claims()), KeySource{nullptr, secret}, hs) == Status::kBadSignature);
}
END_TEST

START_TEST(payload_problems_surface_after_the_signature) {
  Fixture f;
  ck_assert(run(test::mint(*f.ed, Alg::kEdDSA, {{"sub", "x"}}), f.keys()) == Status::kMalformed);
  ck_assert(run(test::mint(*f.ed, Alg::kEdDSA, {{"sub", "x"}, {"exp", "soon"}}), f.keys()) == Status::kMalformed);
}
END_TEST

START_TEST(still_trusted_follows_keys_and_allowlist) {
  Fixture f;
  VerifiedTokenPtr out;
  std::string detail;
  ck_assert(verify_access_token(test::mint(*f.ed, Alg::kEdDSA, claims()), f.keys(), default_algorithms(), out,
                                detail) == Status::kOk);
  ck_assert(still_trusted(*out, f.keys(), default_algorithms()));
  AlgSet only_rs;
  only_rs.add(Alg::kRS256);
  ck_assert(!still_trusted(*out, f.keys(), only_rs));
  Jwks without;  // the key left the JWKS
  without.add(test::public_of(*f.rsa));
  ck_assert(!still_trusted(*out, KeySource{&without, nullptr}, default_algorithms()));
  Jwks replaced;  // same kid, a different key object
  replaced.add(test::public_of(*f.ed));
  ck_assert(!still_trusted(*out, KeySource{&replaced, nullptr}, default_algorithms()));
}
END_TEST

Suite* verifier_suite() {
  Suite* s = suite_create("verifier");
  TCase* tc = tcase_create("core");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, valid_tokens_verify);
  tcase_add_test(tc, allowlist_is_enforced);
  tcase_add_test(tc, unknown_kid_and_key_type_confusion);
  tcase_add_test(tc, signature_from_another_key_with_a_known_kid);
  tcase_add_test(tc, hmac_only_with_a_secret);
  tcase_add_test(tc, payload_problems_surface_after_the_signature);
  tcase_add_test(tc, still_trusted_follows_keys_and_allowlist);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(verifier_suite);
