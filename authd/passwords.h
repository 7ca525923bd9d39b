// Argon2id password hashing (libargon2), PHC-encoded with a random salt,
// and the checks a new password must pass.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "authd/admission.h"

namespace spa::authd {

// At most one Argon2 computation per core at a time (memory stays at
// memory_kib per core), on threads of its own at a lower CPU priority;
// callers beyond that wait in a bounded queue for a bounded time, and past
// it are shed: hash() and verify() answer nullopt at once, and the caller
// answers 503 server_busy (docs/authd.md "Concurrency").
class PasswordHasher {
 public:
  // [password] queue, queue_timeout.
  struct Queue {
    size_t waiting = 32;
    int64_t max_wait_ms = 2000;
  };
  static constexpr int64_t kRetryAfter = 1;  // seconds: a queue of 32 drains in about that on two cores

  PasswordHasher(uint32_t memory_kib, uint32_t iterations, uint32_t parallelism);  // the default Queue
  PasswordHasher(uint32_t memory_kib, uint32_t iterations, uint32_t parallelism, Queue queue);
  ~PasswordHasher();
  PasswordHasher(const PasswordHasher&) = delete;
  PasswordHasher& operator=(const PasswordHasher&) = delete;

  // "$argon2id$v=19$m=...,t=...,p=...$salt$hash"; nullopt when shed.
  std::optional<std::string> hash(std::string_view password) const;
  // Whether the password matches; nullopt when shed.
  std::optional<bool> verify(std::string_view phc, std::string_view password) const;

  // Spends the same time as verify() against a real hash, for e-mails that
  // have no account, so the response time does not tell them apart. False
  // when shed (exactly as verify() would have been).
  bool verify_dummy(std::string_view password) const;

  // Request threads this can hold at once: computing and queued.
  size_t max_callers() const;
  // The admission of Argon2 work, one slot per worker thread (for tests
  // that fill it; a pass taken here is a slot no sign-in gets).
  Gate& admission() const { return gate_; }
  std::string metrics() const;  // Prometheus text

 private:
  class Workers;
  // `work` on a worker thread once a slot is free; false when shed.
  bool run(const std::function<void()>& work) const;

  uint32_t memory_kib_, iterations_, parallelism_;
  std::unique_ptr<Workers> workers_;
  mutable Gate gate_;
  std::string dummy_;
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
