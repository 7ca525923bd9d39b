// JWS algorithms (RFC 7518 §3, RFC 8037) we implement and the key each needs.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace spa::core {

enum class Alg : uint8_t {
  kEdDSA, kES256, kES384,
  kRS256, kRS384, kRS512,
  kPS256, kPS384, kPS512,
  kHS256, kHS384, kHS512,
};
inline constexpr int kAlgCount = 12;

enum class KeyKind : uint8_t { kEd25519, kP256, kP384, kRsa, kHmac };

// Exact, case-sensitive names as RFC 7518 spells them. "none", in any
// spelling, is not an algorithm we know.
std::optional<Alg> alg_from_name(std::string_view name);
std::string_view alg_name(Alg a);
KeyKind alg_key_kind(Alg a);
bool alg_is_hmac(Alg a);

// A set of algorithms as a bit mask, cheap to copy into each location.
class AlgSet {
 public:
  constexpr AlgSet() = default;
  void add(Alg a) { bits_ |= bit(a); }
  bool contains(Alg a) const { return (bits_ & bit(a)) != 0; }
  bool empty() const { return bits_ == 0; }
  bool has_hmac() const;

 private:
  static constexpr uint32_t bit(Alg a) { return 1u << static_cast<unsigned>(a); }
  uint32_t bits_ = 0;
};

// DESIGN.md's default allowlist: EdDSA ES256 RS256 PS256.
AlgSet default_algorithms();

}  // namespace spa::core
