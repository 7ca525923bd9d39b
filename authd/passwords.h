// Argon2id password hashing (libargon2), PHC-encoded with a random salt,
// and the checks a new password must pass.
#pragma once

#include <cstdint>
#include <optional>
#include <semaphore>
#include <string>
#include <string_view>

namespace spa::authd {

class PasswordHasher {
 public:
  PasswordHasher(uint32_t memory_kib, uint32_t iterations, uint32_t parallelism);

  std::string hash(std::string_view password) const;  // "$argon2id$v=19$m=...,t=...,p=...$salt$hash"
  bool verify(std::string_view phc, std::string_view password) const;

  // Spends the same time as verify() against a real hash, for e-mails that
  // have no account, so the response time does not tell them apart.
  void verify_dummy(std::string_view password) const;

 private:
  uint32_t memory_kib_, iterations_, parallelism_;
  std::string dummy_;
  // At most one Argon2 computation per core at a time: bounds memory
  // (memory_kib each) and leaves the other threads free to answer.
  mutable std::counting_semaphore<256> slots_;
};

// Why a new password is refused (nullopt: accepted): length 8 to 128
// characters, not one of the most common passwords, not the e-mail or
// username.
std::optional<std::string> password_problem(std::string_view password, std::string_view email,
                                            std::string_view username);

// E-mail syntax we accept (a practical subset of RFC 5321), and its
// case-folded form used as the unique key.
bool valid_email(std::string_view email);
std::string fold(std::string_view s);

// 3 to 32 of [A-Za-z0-9_.-], starting with a letter or digit.
bool valid_username(std::string_view username);

}  // namespace spa::authd
