// spa-auth-mint: development and test tool. Publishes a JWKS for PEM keys
// and mints signed tokens, including deliberately odd ones for tests.
//
//   spa-auth-mint jwks KEY.pem [KEY.pem ...]
//   spa-auth-mint token --key KEY.pem [--alg ALG] [--kid KID|--no-kid]
//                 [--header JSON] [--claims JSON] [--ttl S] [--count N]
//   spa-auth-mint token --hmac-secret FILE --alg HS256 ...
//
// Default claims: sub=dev-user, iat=nbf=now, exp=now+ttl (900 s), a random
// jti. --claims JSON is merged over them; a claim set to null is removed.
#include <openssl/rand.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "core/base64url.h"
#include "core/jwk.h"
#include "core/jws.h"

namespace {

using json = nlohmann::json;
using namespace spa::core;

int usage() {
  std::cerr << "usage: spa-auth-mint jwks KEY.pem...\n"
               "       spa-auth-mint token (--key KEY.pem | --hmac-secret FILE) [--alg ALG] [--kid KID | --no-kid]\n"
               "                     [--header JSON] [--claims JSON] [--ttl SECONDS] [--count N]\n";
  return 2;
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

JwkPtr load_key(const std::string& path) {
  std::string pem, err;
  if (!read_file(path, pem)) {
    std::cerr << "spa-auth-mint: cannot read " << path << "\n";
    return nullptr;
  }
  JwkPtr k = jwk_from_private_pem(pem, err);
  if (!k) std::cerr << "spa-auth-mint: " << path << ": " << err << "\n";
  return k;
}

Alg default_alg(KeyKind kind) {
  switch (kind) {
    case KeyKind::kEd25519: return Alg::kEdDSA;
    case KeyKind::kP256: return Alg::kES256;
    case KeyKind::kP384: return Alg::kES384;
    case KeyKind::kRsa: return Alg::kRS256;
    case KeyKind::kHmac: return Alg::kHS256;
  }
  return Alg::kEdDSA;
}

int cmd_jwks(const std::vector<std::string>& args) {
  if (args.empty()) return usage();
  json keys = json::array();
  for (const auto& path : args) {
    JwkPtr k = load_key(path);
    if (!k) return 1;
    keys.push_back(jwk_public_json(*k));
  }
  std::cout << json{{"keys", keys}}.dump(2) << "\n";
  return 0;
}

std::string random_id() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) return "jti";
  return base64url_encode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));
}

int cmd_token(const std::vector<std::string>& args) {
  std::string key_path, hmac_path, alg_text, kid, header_text = "{}", claims_text = "{}";
  bool no_kid = false, kid_set = false;
  long ttl = 900, count = 1;
  for (size_t i = 0; i < args.size(); ++i) {
    auto next = [&]() -> std::string { return i + 1 < args.size() ? args[++i] : std::string(); };
    const std::string& a = args[i];
    if (a == "--key") key_path = next();
    else if (a == "--hmac-secret") hmac_path = next();
    else if (a == "--alg") alg_text = next();
    else if (a == "--kid") kid = next(), kid_set = true;
    else if (a == "--no-kid") no_kid = true;
    else if (a == "--header") header_text = next();
    else if (a == "--claims") claims_text = next();
    else if (a == "--ttl") ttl = std::stol(next());
    else if (a == "--count") count = std::stol(next());
    else return usage();
  }
  JwkPtr key;
  if (!hmac_path.empty()) {
    std::string secret, err;
    if (!read_file(hmac_path, secret)) {
      std::cerr << "spa-auth-mint: cannot read " << hmac_path << "\n";
      return 1;
    }
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    key = jwk_from_hmac_secret(secret, err);
    if (!key) {
      std::cerr << "spa-auth-mint: " << err << "\n";
      return 1;
    }
  } else if (!key_path.empty()) {
    key = load_key(key_path);
    if (!key) return 1;
  } else {
    return usage();
  }
  Alg alg = default_alg(key->kind);
  if (!alg_text.empty()) {
    auto a = alg_from_name(alg_text);
    if (!a) {
      std::cerr << "spa-auth-mint: unknown alg " << alg_text << "\n";
      return 1;
    }
    alg = *a;
  }
  json header = json::parse(header_text), extra = json::parse(claims_text);
  if (!kid_set && !no_kid && !key->kid.empty()) kid = key->kid, kid_set = true;
  if (kid_set && !header.contains("kid")) header["kid"] = kid;
  for (long n = 0; n < count; ++n) {
    long now = static_cast<long>(std::time(nullptr));
    json claims = {{"sub", "dev-user"}, {"iat", now}, {"nbf", now}, {"exp", now + ttl}, {"jti", random_id()}};
    for (auto it = extra.begin(); it != extra.end(); ++it) {
      if (it.value().is_null()) claims.erase(it.key());
      else claims[it.key()] = it.value();
    }
    // The header's "alg" is ours to set; a header that names one (for tests
    // of alg confusion) keeps it.
    json h = header;
    std::string payload = claims.dump();
    if (!h.contains("alg")) h["alg"] = std::string(alg_name(alg));
    std::string input = base64url_encode(h.dump()) + "." + base64url_encode(payload);
    std::string sig;
    if (!sign_jws(alg, *key, input, sig)) {
      std::cerr << "spa-auth-mint: signing failed (does the key fit " << alg_name(alg) << "?)\n";
      return 1;
    }
    std::cout << input << "." << base64url_encode(sig) << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (cmd == "jwks") return cmd_jwks(args);
    if (cmd == "token") return cmd_token(args);
  } catch (const std::exception& e) {
    std::cerr << "spa-auth-mint: " << e.what() << "\n";
    return 1;
  }
  return usage();
}
