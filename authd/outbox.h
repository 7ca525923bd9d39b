// Mail the services send. Every message passes room() (the per-recipient
// and per-account buckets of its class; a refusal is counted and logged)
// before anything is stored for it, then deliver() after the transaction
// that needs it committed (the mailer's queue; a full class is counted as
// a drop). Counts for /metrics (spa_authd_mail_total).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "authd/config.h"
#include "authd/mail_quota.h"

namespace spa::authd {

class MailSender;

class Outbox {
 public:
  // Microseconds on a clock that only runs forward.
  using Clock = std::function<int64_t()>;
  explicit Outbox(MailLimits limits) : quota_(limits) {}

  // No sender: messages are dropped silently (the CLI, some tests).
  void set_sender(MailSender* sender) { sender_ = sender; }
  // The buckets' clock: the monotonic clock unless a test drives it. Not
  // the wall clock: the buckets live in memory only, and a wall clock
  // stepped back (NTP) would hold a recipient's links for an interval.
  void set_clock(Clock clock) { clock_ = std::move(clock); }

  // Room for one message of `cls` to `address` about `account` now;
  // false with `retry_after` in seconds (the drop counted).
  bool room(MailClass cls, const std::string& address, const std::string& account, int64_t& retry_after);
  void deliver(MailClass cls, const std::string& to, const std::string& subject, const std::string& body);
  // A message not sent for `reason` (an unproven address).
  void count_drop(MailClass cls, const std::string& reason) { quota_.count_drop(cls, reason); }
  std::string metrics() const { return quota_.metrics(); }

 private:
  MailQuota quota_;  // synchronised inside
  Clock clock_ = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  MailSender* sender_ = nullptr;
};

// Where mailed links point: the SPA's origin (the first allowed one), or
// the issuer when none is configured.
std::string link_base(const Config& config);

}  // namespace spa::authd
