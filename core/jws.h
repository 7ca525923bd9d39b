// JWS compact serialization (RFC 7515 §7.1): parse, check and make signatures.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/algorithm.h"
#include "core/jwk.h"
#include "core/status.h"

namespace spa::core {

// Longest token we look at; real access tokens are well under 2 KiB, and
// nginx's own header buffers bound what can arrive anyway.
inline constexpr size_t kMaxTokenBytes = 16 * 1024;

struct JwsHeader {
  Alg alg = Alg::kEdDSA;
  std::optional<std::string> kid;
};

struct CompactJws {
  std::string_view signing_input;  // "header.payload", points into the token
  JwsHeader header;
  std::string payload;             // decoded payload bytes
  std::string signature;           // decoded signature bytes
};

// Splits and decodes a token and checks its header. Returns kMalformed for
// structure, encoding and header errors (including a "crit" we do not
// implement) and kAlgNotAllowed for "none" or an algorithm we do not know.
// `detail` gets a short reason for the log.
Status parse_compact_jws(std::string_view token, CompactJws& out, std::string& detail);

// True when `signature` is a valid `alg` signature of `signing_input` by
// `key`. The caller has already checked key.usable_for(alg).
bool verify_jws_signature(Alg alg, const Jwk& key, std::string_view signing_input,
                          std::string_view signature);

// Signs with a private key (or HMAC secret); ECDSA output is the JWS r||s form.
bool sign_jws(Alg alg, const Jwk& key, std::string_view signing_input, std::string& signature);

// header + payload JSON → compact token. `header` gets "alg" (and "kid"
// when the key has one and the header does not) filled in.
std::optional<std::string> make_compact_jws(nlohmann::json header, std::string_view payload,
                                            Alg alg, const Jwk& key);

}  // namespace spa::core
