#include "core/jwk.h"

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "core/base64url.h"
#include "core/json_strict.h"

namespace spa::core {
namespace {

using json = nlohmann::json;

bool member_string(const json& j, const char* name, std::string& out) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

bool member_b64(const json& j, const char* name, std::string& out, std::string& err) {
  std::string text;
  if (!member_string(j, name, text)) {
    err = std::string("JWK member \"") + name + "\" missing or not a string";
    return false;
  }
  if (!base64url_decode(text, out) || out.empty()) {
    err = std::string("JWK member \"") + name + "\" is not valid base64url";
    return false;
  }
  return true;
}

EvpPkeyPtr ec_public_key(const char* group, const std::string& x, const std::string& y,
                         std::string& err) {
  std::string point;
  point.reserve(1 + x.size() + y.size());
  point.push_back('\x04');  // uncompressed SEC1 point
  point += x;
  point += y;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(group), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
      OSSL_PARAM_construct_end(),
  };
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    err = "EC key is not a point on its curve";
    return nullptr;
  }
  EvpPkeyPtr key(raw);
  EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    err = "EC key is not a point on its curve";
    return nullptr;
  }
  return key;
}

EvpPkeyPtr rsa_public_key(const std::string& n, const std::string& e, std::string& err) {
  BignumPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                           static_cast<int>(n.size()), nullptr));
  BignumPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                           static_cast<int>(e.size()), nullptr));
  OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    err = "RSA key could not be built";
    return nullptr;
  }
  OsslParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    err = "RSA key could not be built";
    return nullptr;
  }
  return EvpPkeyPtr(raw);
}

std::string bn_param(const EVP_PKEY* pkey, const char* name, size_t pad_to) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) return {};
  BignumPtr bn(raw);
  size_t len = pad_to ? pad_to : static_cast<size_t>(BN_num_bytes(bn.get()));
  std::string out(len, '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(len)) < 0)
    return {};
  return out;
}

// Sets kind from the EVP key; false for key types we do not support.
bool classify(const EVP_PKEY* pkey, KeyKind& kind) {
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_ED25519: kind = KeyKind::kEd25519; return true;
    case EVP_PKEY_RSA: kind = KeyKind::kRsa; return EVP_PKEY_get_bits(pkey) >= 2048;
    case EVP_PKEY_EC:
      if (EVP_PKEY_get_bits(pkey) == 256) { kind = KeyKind::kP256; return true; }
      if (EVP_PKEY_get_bits(pkey) == 384) { kind = KeyKind::kP384; return true; }
      return false;
    default: return false;
  }
}

}  // namespace

bool Jwk::usable_for(Alg a) const {
  if (alg_key_kind(a) != kind) return false;
  return !alg || *alg == a;
}

JwkPtr jwk_from_json(const json& j, std::string& err, bool& skip) {
  skip = false;
  if (!j.is_object()) {
    err = "JWK is not an object";
    return nullptr;
  }
  std::string kty;
  if (!member_string(j, "kty", kty)) {
    err = "JWK has no \"kty\"";
    return nullptr;
  }
  auto k = std::make_shared<Jwk>();
  if (auto it = j.find("kid"); it != j.end()) {
    if (!it->is_string()) { err = "JWK \"kid\" is not a string"; return nullptr; }
    k->kid = it->get<std::string>();
  }
  if (auto it = j.find("use"); it != j.end()) {
    if (!it->is_string()) { err = "JWK \"use\" is not a string"; return nullptr; }
    if (it->get<std::string>() != "sig") { skip = true; err = "key is not for signatures"; return nullptr; }
  }
  if (j.contains("d") || j.contains("p") || j.contains("q")) {
    err = "JWK contains private key material; publish public keys only";
    return nullptr;
  }
  std::optional<Alg> declared;
  if (auto it = j.find("alg"); it != j.end()) {
    if (!it->is_string()) { err = "JWK \"alg\" is not a string"; return nullptr; }
    declared = alg_from_name(it->get<std::string>());
    if (!declared) { skip = true; err = "key algorithm is not supported"; return nullptr; }
  }

  if (kty == "OKP") {
    std::string crv, x;
    if (!member_string(j, "crv", crv)) { err = "OKP JWK has no \"crv\""; return nullptr; }
    if (crv != "Ed25519") { skip = true; err = "OKP curve " + crv + " is not supported"; return nullptr; }
    if (!member_b64(j, "x", x, err)) return nullptr;
    if (x.size() != 32) { err = "Ed25519 \"x\" must be 32 bytes"; return nullptr; }
    k->pkey.reset(EVP_PKEY_new_raw_public_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x.data()), x.size()));
    if (!k->pkey) { err = "Ed25519 key could not be built"; return nullptr; }
    k->kind = KeyKind::kEd25519;
  } else if (kty == "EC") {
    std::string crv, x, y;
    if (!member_string(j, "crv", crv)) { err = "EC JWK has no \"crv\""; return nullptr; }
    size_t len;
    const char* group;
    if (crv == "P-256") { len = 32; group = "P-256"; k->kind = KeyKind::kP256; }
    else if (crv == "P-384") { len = 48; group = "P-384"; k->kind = KeyKind::kP384; }
    else { skip = true; err = "EC curve " + crv + " is not supported"; return nullptr; }
    if (!member_b64(j, "x", x, err) || !member_b64(j, "y", y, err)) return nullptr;
    if (x.size() != len || y.size() != len) { err = "EC coordinates have the wrong length for " + crv; return nullptr; }
    k->pkey = ec_public_key(group, x, y, err);
    if (!k->pkey) return nullptr;
  } else if (kty == "RSA") {
    std::string n, e;
    if (!member_b64(j, "n", n, err) || !member_b64(j, "e", e, err)) return nullptr;
    // e = 1 would make every message its own signature; even e is not RSA.
    if (e.size() > 8 || (e.size() == 1 && static_cast<unsigned char>(e[0]) < 3) || (e.back() & 1) == 0) {
      err = "RSA exponent is not an odd number from 3 to 2^64";
      return nullptr;
    }
    k->pkey = rsa_public_key(n, e, err);
    if (!k->pkey) return nullptr;
    if (EVP_PKEY_get_bits(k->pkey.get()) < 2048) { skip = true; err = "RSA key shorter than 2048 bits"; return nullptr; }
    k->kind = KeyKind::kRsa;
  } else if (kty == "oct") {
    skip = true;
    err = "symmetric keys are not read from a JWKS (use spa_auth_hmac_secret_file)";
    return nullptr;
  } else {
    skip = true;
    err = "key type " + kty + " is not supported";
    return nullptr;
  }
  if (declared && alg_key_kind(*declared) != k->kind) {
    err = "JWK \"alg\" does not match its key type";
    return nullptr;
  }
  k->alg = declared;
  k->thumbprint = jwk_thumbprint(*k);
  return k;
}

json jwk_public_json(const Jwk& k) {
  json j = json::object();
  const EVP_PKEY* p = k.pkey.get();
  switch (k.kind) {
    case KeyKind::kEd25519: {
      unsigned char raw[32];
      size_t len = sizeof raw;
      if (EVP_PKEY_get_raw_public_key(p, raw, &len) != 1) return json();
      j["kty"] = "OKP";
      j["crv"] = "Ed25519";
      j["x"] = base64url_encode(std::string_view(reinterpret_cast<char*>(raw), len));
      break;
    }
    case KeyKind::kP256:
    case KeyKind::kP384: {
      size_t len = k.kind == KeyKind::kP256 ? 32 : 48;
      j["kty"] = "EC";
      j["crv"] = k.kind == KeyKind::kP256 ? "P-256" : "P-384";
      j["x"] = base64url_encode(bn_param(p, OSSL_PKEY_PARAM_EC_PUB_X, len));
      j["y"] = base64url_encode(bn_param(p, OSSL_PKEY_PARAM_EC_PUB_Y, len));
      break;
    }
    case KeyKind::kRsa:
      j["kty"] = "RSA";
      j["n"] = base64url_encode(bn_param(p, OSSL_PKEY_PARAM_RSA_N, 0));
      j["e"] = base64url_encode(bn_param(p, OSSL_PKEY_PARAM_RSA_E, 0));
      break;
    case KeyKind::kHmac:
      return json();  // never published
  }
  if (!k.kid.empty()) j["kid"] = k.kid;
  if (k.alg) j["alg"] = std::string(alg_name(*k.alg));
  j["use"] = "sig";
  return j;
}

std::string jwk_thumbprint(const Jwk& k) {
  json pub = jwk_public_json(k);
  if (pub.is_null()) return {};
  // RFC 7638 §3.2: required members only, sorted, no whitespace; nlohmann's
  // default object is a std::map and dump() writes exactly that form.
  json required = json::object();
  for (const char* name : {"crv", "e", "kty", "n", "x", "y"})
    if (pub.contains(name)) required[name] = pub[name];
  std::string text = required.dump();
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return base64url_encode(std::string_view(reinterpret_cast<char*>(digest), sizeof digest));
}

JwkPtr jwk_from_private_pem(std::string_view pem, std::string& err) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) { err = "out of memory"; return nullptr; }
  auto k = std::make_shared<Jwk>();
  k->pkey.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!k->pkey) { err = "not a PEM private key"; return nullptr; }
  if (!classify(k->pkey.get(), k->kind)) {
    err = "key type not supported (Ed25519, P-256, P-384, RSA >= 2048)";
    return nullptr;
  }
  k->has_private = true;
  k->thumbprint = jwk_thumbprint(*k);
  k->kid = k->thumbprint;
  return k;
}

JwkPtr jwk_from_hmac_secret(std::string secret, std::string& err) {
  if (secret.size() < 32) {
    err = "HMAC secret must be at least 32 bytes";
    return nullptr;
  }
  auto k = std::make_shared<Jwk>();
  k->kind = KeyKind::kHmac;
  k->secret = std::move(secret);
  k->has_private = true;
  return k;
}

bool Jwks::parse(std::string_view text, Jwks& out, std::string& err,
                 std::vector<std::string>& warnings) {
  json doc;
  if (!parse_json_strict(text, doc, err, JsonLimits{1 << 20, 8})) return false;
  out = Jwks();
  auto keys = doc.is_object() ? doc.find("keys") : doc.end();
  if (!doc.is_object() || keys == doc.end() || !keys->is_array()) {
    err = "JWKS must be an object with a \"keys\" array";
    return false;
  }
  size_t index = 0;
  for (const auto& entry : *keys) {
    std::string why;
    bool skip = false;
    JwkPtr k = jwk_from_json(entry, why, skip);
    if (!k) {
      if (!skip) {
        err = "key #" + std::to_string(index) + ": " + why;
        return false;
      }
      warnings.push_back("key #" + std::to_string(index) + " ignored: " + why);
    } else if (!k->kid.empty() && out.by_kid_.count(k->kid)) {
      err = "key #" + std::to_string(index) + ": duplicate kid \"" + k->kid + "\"";
      return false;
    } else {
      out.add(std::move(k));
    }
    ++index;
  }
  if (out.keys_.empty()) {
    err = "JWKS has no usable signing keys";
    return false;
  }
  return true;
}

void Jwks::add(JwkPtr k) {
  if (!k->kid.empty()) by_kid_[k->kid] = k;
  keys_.push_back(std::move(k));
}

JwkPtr Jwks::resolve(std::optional<std::string_view> kid, Alg alg) const {
  if (kid) {
    auto it = by_kid_.find(*kid);
    if (it == by_kid_.end() || !it->second->usable_for(alg)) return nullptr;
    return it->second;
  }
  JwkPtr only;
  for (const auto& k : keys_) {
    if (!k->usable_for(alg)) continue;
    if (only) return nullptr;
    only = k;
  }
  return only;
}

void Jwks::adopt_unchanged_from(const Jwks& previous) {
  for (auto& k : keys_) {
    for (const auto& old : previous.keys_) {
      if (old->kid == k->kid && old->thumbprint == k->thumbprint && old->alg == k->alg) {
        if (!k->kid.empty()) by_kid_[k->kid] = old;
        k = old;
        break;
      }
    }
  }
}

}  // namespace spa::core
