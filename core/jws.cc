#include "core/jws.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "core/base64url.h"
#include "core/json_strict.h"

namespace spa::core {
namespace {

const EVP_MD* alg_digest(Alg a) {
  switch (a) {
    case Alg::kEdDSA: return nullptr;
    case Alg::kES256: case Alg::kRS256: case Alg::kPS256: case Alg::kHS256: return EVP_sha256();
    case Alg::kES384: case Alg::kRS384: case Alg::kPS384: case Alg::kHS384: return EVP_sha384();
    case Alg::kRS512: case Alg::kPS512: case Alg::kHS512: return EVP_sha512();
  }
  return nullptr;
}

bool is_pss(Alg a) { return a == Alg::kPS256 || a == Alg::kPS384 || a == Alg::kPS512; }

size_t ec_coordinate_bytes(Alg a) { return a == Alg::kES256 ? 32 : 48; }

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

bool all_zero(std::string_view s) {
  for (char c : s)
    if (c != 0) return false;
  return true;
}

// JWS ECDSA signatures are r||s, fixed width (RFC 7518 §3.4); OpenSSL wants DER.
bool ecdsa_raw_to_der(std::string_view raw, size_t n, std::string& der) {
  if (raw.size() != 2 * n) return false;
  std::string_view r = raw.substr(0, n), s = raw.substr(n);
  if (all_zero(r) || all_zero(s)) return false;
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BIGNUM* br = BN_bin2bn(bytes(r), static_cast<int>(n), nullptr);
  BIGNUM* bs = BN_bin2bn(bytes(s), static_cast<int>(n), nullptr);
  if (!sig || !br || !bs || ECDSA_SIG_set0(sig.get(), br, bs) != 1) {
    BN_free(br);
    BN_free(bs);
    return false;
  }
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return false;
  der.resize(static_cast<size_t>(len));
  unsigned char* p = reinterpret_cast<unsigned char*>(der.data());
  return i2d_ECDSA_SIG(sig.get(), &p) == len;
}

bool ecdsa_der_to_raw(std::string_view der, size_t n, std::string& raw) {
  const unsigned char* p = bytes(der);
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return false;
  const BIGNUM *r = nullptr, *s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  raw.assign(2 * n, '\0');
  unsigned char* out = reinterpret_cast<unsigned char*>(raw.data());
  return BN_bn2binpad(r, out, static_cast<int>(n)) == static_cast<int>(n) &&
         BN_bn2binpad(s, out + n, static_cast<int>(n)) == static_cast<int>(n);
}

bool hmac(Alg alg, const Jwk& key, std::string_view input, std::string& mac) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(alg_digest(alg), key.secret.data(), static_cast<int>(key.secret.size()), bytes(input),
            input.size(), out, &len))
    return false;
  mac.assign(reinterpret_cast<char*>(out), len);
  return true;
}

// Sets up a digest sign/verify context with the padding the algorithm needs.
bool init_pkey_ctx(EVP_MD_CTX* md, Alg alg, EVP_PKEY* pkey, bool sign) {
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* digest = alg_digest(alg);
  int ok = sign ? EVP_DigestSignInit(md, &pctx, digest, nullptr, pkey)
                : EVP_DigestVerifyInit(md, &pctx, digest, nullptr, pkey);
  if (ok != 1) return false;
  if (is_pss(alg)) {
    // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, digest) != 1)
      return false;
  } else if (alg_key_kind(alg) == KeyKind::kRsa) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) return false;
  }
  return true;
}

bool is_base64url_char(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

}  // namespace

Status parse_compact_jws(std::string_view token, CompactJws& out, std::string& detail) {
  if (token.empty()) {
    detail = "empty token";
    return Status::kMalformed;
  }
  if (token.size() > kMaxTokenBytes) {
    detail = "token longer than " + std::to_string(kMaxTokenBytes) + " bytes";
    return Status::kMalformed;
  }
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    detail = "not three dot-separated parts";
    return Status::kMalformed;
  }
  for (unsigned char c : token)
    if (c != '.' && !is_base64url_char(c)) {
      detail = "character outside base64url";
      return Status::kMalformed;
    }
  std::string header_text;
  if (!base64url_decode(token.substr(0, dot1), header_text)) {
    detail = "header is not base64url";
    return Status::kMalformed;
  }
  if (!base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1), out.payload)) {
    detail = "payload is not base64url";
    return Status::kMalformed;
  }
  if (!base64url_decode(token.substr(dot2 + 1), out.signature) || out.signature.empty()) {
    detail = "signature is missing or not base64url";
    return Status::kMalformed;
  }
  out.signing_input = token.substr(0, dot2);

  nlohmann::json header;
  std::string err;
  if (!parse_json_strict(header_text, header, err, JsonLimits{4096, 4})) {
    detail = "header: " + err;
    return Status::kMalformed;
  }
  if (!header.is_object()) {
    detail = "header is not a JSON object";
    return Status::kMalformed;
  }
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string()) {
    detail = "header has no \"alg\" string";
    return Status::kMalformed;
  }
  auto known = alg_from_name(alg->get_ref<const std::string&>());
  if (!known) {
    detail = "algorithm is not supported";  // includes "none" in any spelling
    return Status::kAlgNotAllowed;
  }
  out.header.alg = *known;
  out.header.kid.reset();
  if (auto kid = header.find("kid"); kid != header.end()) {
    if (!kid->is_string()) {
      detail = "\"kid\" is not a string";
      return Status::kMalformed;
    }
    out.header.kid = kid->get<std::string>();
  }
  // RFC 7515 §4.1.11: a recipient MUST reject a JWS whose "crit" lists an
  // extension it does not understand; we implement none.
  if (header.contains("crit")) {
    detail = "unsupported critical header parameter";
    return Status::kMalformed;
  }
  return Status::kOk;
}

bool verify_jws_signature(Alg alg, const Jwk& key, std::string_view signing_input,
                          std::string_view signature) {
  if (!key.usable_for(alg)) return false;
  if (alg_is_hmac(alg)) {
    std::string mac;
    return hmac(alg, key, signing_input, mac) && mac.size() == signature.size() &&
           CRYPTO_memcmp(mac.data(), signature.data(), mac.size()) == 0;
  }
  std::string der;
  if (alg == Alg::kES256 || alg == Alg::kES384) {
    if (!ecdsa_raw_to_der(signature, ec_coordinate_bytes(alg), der)) return false;
    signature = der;
  } else if (alg == Alg::kEdDSA) {
    if (signature.size() != 64) return false;
  } else if (signature.size() != static_cast<size_t>(EVP_PKEY_get_size(key.pkey.get()))) {
    return false;
  }
  EvpMdCtxPtr md(EVP_MD_CTX_new());
  if (!md || !init_pkey_ctx(md.get(), alg, key.pkey.get(), false)) return false;
  return EVP_DigestVerify(md.get(), bytes(signature), signature.size(), bytes(signing_input),
                          signing_input.size()) == 1;
}

bool sign_jws(Alg alg, const Jwk& key, std::string_view signing_input, std::string& signature) {
  if (!key.has_private || !key.usable_for(alg)) return false;
  if (alg_is_hmac(alg)) return hmac(alg, key, signing_input, signature);
  EvpMdCtxPtr md(EVP_MD_CTX_new());
  if (!md || !init_pkey_ctx(md.get(), alg, key.pkey.get(), true)) return false;
  size_t len = 0;
  if (EVP_DigestSign(md.get(), nullptr, &len, bytes(signing_input), signing_input.size()) != 1)
    return false;
  std::string sig(len, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     bytes(signing_input), signing_input.size()) != 1)
    return false;
  sig.resize(len);
  if (alg == Alg::kES256 || alg == Alg::kES384)
    return ecdsa_der_to_raw(sig, ec_coordinate_bytes(alg), signature);
  signature = std::move(sig);
  return true;
}

std::optional<std::string> make_compact_jws(nlohmann::json header, std::string_view payload,
                                            Alg alg, const Jwk& key) {
  header["alg"] = std::string(alg_name(alg));
  if (!key.kid.empty() && !header.contains("kid")) header["kid"] = key.kid;
  std::string input = base64url_encode(header.dump()) + "." + base64url_encode(payload);
  std::string sig;
  if (!sign_jws(alg, key, input, sig)) return std::nullopt;
  return input + "." + base64url_encode(sig);
}

}  // namespace spa::core
