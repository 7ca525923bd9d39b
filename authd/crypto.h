// The OpenSSL compositions spa-authd uses: random ids, SHA-256, HKDF and
// AES-256-GCM. No cryptography of our own beyond putting these together.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace spa::authd {

std::string random_bytes(size_t n);        // aborts the process if the CSPRNG fails
std::string random_hex_id();               // 128 bits as 32 hex characters
std::string random_token();                // 256 bits, base64url (43 characters)
std::string hex(std::string_view bytes);
std::string base64(std::string_view bytes);  // RFC 4648 §4, with padding (HTTP Basic)
std::string sha256(std::string_view data);  // raw 32 bytes

// HMAC-SHA256 of `data` under `key`, raw 32 bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);

// HKDF-SHA256 (RFC 5869) of `ikm` with `info`, 32 bytes.
std::string hkdf_sha256(std::string_view ikm, std::string_view info);

// AES-256-GCM with a random 96-bit nonce: nonce || ciphertext || tag.
std::string seal(std::string_view key32, std::string_view plaintext, std::string_view aad);
std::optional<std::string> open_sealed(std::string_view key32, std::string_view box, std::string_view aad);

// Constant-time equality for secrets and their hashes.
bool equal_secret(std::string_view a, std::string_view b);

}  // namespace spa::authd
