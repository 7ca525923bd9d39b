#include "core/algorithm.h"

#include <array>

namespace spa::core {
namespace {

constexpr std::array<std::string_view, kAlgCount> kNames = {
    "EdDSA", "ES256", "ES384", "RS256", "RS384", "RS512",
    "PS256", "PS384", "PS512", "HS256", "HS384", "HS512",
};

}  // namespace

std::optional<Alg> alg_from_name(std::string_view name) {
  for (int i = 0; i < kAlgCount; ++i)
    if (kNames[i] == name) return static_cast<Alg>(i);
  return std::nullopt;
}

std::string_view alg_name(Alg a) { return kNames[static_cast<int>(a)]; }

KeyKind alg_key_kind(Alg a) {
  switch (a) {
    case Alg::kEdDSA: return KeyKind::kEd25519;
    case Alg::kES256: return KeyKind::kP256;
    case Alg::kES384: return KeyKind::kP384;
    case Alg::kHS256: case Alg::kHS384: case Alg::kHS512: return KeyKind::kHmac;
    default: return KeyKind::kRsa;
  }
}

bool alg_is_hmac(Alg a) { return alg_key_kind(a) == KeyKind::kHmac; }

bool AlgSet::has_hmac() const {
  return contains(Alg::kHS256) || contains(Alg::kHS384) || contains(Alg::kHS512);
}

AlgSet default_algorithms() {
  AlgSet s;
  s.add(Alg::kEdDSA);
  s.add(Alg::kES256);
  s.add(Alg::kRS256);
  s.add(Alg::kPS256);
  return s;
}

}  // namespace spa::core
