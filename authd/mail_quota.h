// How much mail spa-authd sends to one address and about one account:
// GCRA buckets (core/gcra.h) per class of mail, so that nobody can flood an
// inbox with codes or links by signing up with its address or asking for
// resets, and so that a flood of one class leaves the others their room.
// In memory, bounded; time passed in.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/gcra.h"

namespace spa::authd {

// Reset and verification links prove an address: they are what a user
// needs to get back in. Codes (the e-mail second factor) go only to proven
// addresses. Notices ("someone tried to sign up with your address") matter least.
enum class MailClass { kLink, kCode, kNotice };
inline constexpr int kMailClasses = 3;
const char* mail_class_name(MailClass c);

// The inbox an address reaches, as the quota counts it: case-folded, the
// subaddress (`+tag`) and the dots of the local part dropped, since most
// providers deliver `Victim+1@x`, `v.ictim@x` and `victim@x` to one inbox.
// Only for counting: nothing is sent to or stored under it.
std::string inbox_of(std::string_view address);

struct MailLimits {
  core::RateLimit per_recipient{5, 3600LL * 1000000};  // [smtp] recipient_limit = "5/1h"
  core::RateLimit per_account{20, 86400LL * 1000000};  // [smtp] account_limit = "20/1d"
};

class MailQuota {
 public:
  // When this many keys are live, the tenth whose buckets are fullest
  // (nearest to no key at all) are forgotten: a flood of new addresses
  // makes room for itself, it never refuses everyone.
  static constexpr size_t kMaxKeys = 100000;

  explicit MailQuota(MailLimits limits) : limits_(limits) {}

  struct Decision {
    bool allowed = false;
    int64_t retry_after = 0;  // seconds
    const char* reason = "";  // "recipient_limit", "account_limit"
  };
  // One message of class `c` to `recipient` (case-folded) about `account`
  // (a user id; empty when there is none) at `now_us`. Both buckets must
  // have room; only then is it counted in both.
  Decision take(MailClass c, std::string_view recipient, std::string_view account, int64_t now_us);

  // Counts a message that was not sent (a refused quota, a full queue, an
  // unproven address); kept for /metrics.
  void count_drop(MailClass c, const std::string& reason);
  void count_sent(MailClass c);
  std::string metrics() const;

 private:
  MailLimits limits_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, int64_t> tat_;  // key -> GCRA arrival time
  std::map<std::pair<int, std::string>, uint64_t> outcomes_;
};

}  // namespace spa::authd
