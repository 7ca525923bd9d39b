#include "authd/mail_quota.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <vector>

namespace spa::authd {
namespace {

// Keys hold no address: a class letter, a kind letter and a SHA-256.
std::string key(MailClass c, char kind, std::string_view id) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(id.data()), id.size(), d);
  std::string k{static_cast<char>('0' + static_cast<int>(c)), kind};
  k.append(reinterpret_cast<const char*>(d), sizeof d);
  return k;
}

}  // namespace

std::string inbox_of(std::string_view address) {
  size_t at = address.rfind('@');
  std::string_view local = at == std::string_view::npos ? address : address.substr(0, at);
  std::string_view domain = at == std::string_view::npos ? std::string_view() : address.substr(at);
  if (size_t plus = local.find('+'); plus != std::string_view::npos) local = local.substr(0, plus);
  std::string out;
  for (char ch : local)
    if (ch != '.') out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  for (char ch : domain) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  return out;
}

const char* mail_class_name(MailClass c) {
  switch (c) {
    case MailClass::kLink: return "link";
    case MailClass::kCode: return "code";
    case MailClass::kNotice: return "notice";
  }
  return "other";
}

MailQuota::Decision MailQuota::take(MailClass c, std::string_view recipient, std::string_view account,
                                    int64_t now_us) {
  std::lock_guard<std::mutex> lock(mu_);
  if (tat_.size() >= kMaxKeys) {
    // A key whose bucket is full again is the same as no key; if that
    // frees too little, the tenth nearest to full go (the least spent).
    std::erase_if(tat_, [&](const auto& e) { return e.second <= now_us; });
    if (tat_.size() >= kMaxKeys - kMaxKeys / 10) {
      std::vector<int64_t> tats;
      tats.reserve(tat_.size());
      for (const auto& e : tat_) tats.push_back(e.second);
      auto cut = tats.begin() + static_cast<std::ptrdiff_t>(kMaxKeys / 10);
      std::nth_element(tats.begin(), cut, tats.end());
      int64_t below = *cut;
      std::erase_if(tat_, [&](const auto& e) { return e.second < below; });
      for (auto it = tat_.begin(); it != tat_.end() && tat_.size() >= kMaxKeys;)
        it = it->second == below ? tat_.erase(it) : std::next(it);
    }
  }
  std::string rk = key(c, 'r', recipient);
  auto r = core::rate_check(limits_.per_recipient, tat_.count(rk) ? tat_[rk] : 0, now_us);
  if (!r.allowed) return {false, core::ceil_seconds(r.retry_after_us), "recipient_limit"};
  if (!account.empty()) {
    std::string ak = key(c, 'a', account);
    auto a = core::rate_check(limits_.per_account, tat_.count(ak) ? tat_[ak] : 0, now_us);
    if (!a.allowed) return {false, core::ceil_seconds(a.retry_after_us), "account_limit"};
    tat_[ak] = a.tat_us;
  }
  tat_[rk] = r.tat_us;
  return {true, 0, ""};
}

void MailQuota::count_drop(MailClass c, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  ++outcomes_[{static_cast<int>(c), reason}];
}

void MailQuota::count_sent(MailClass c) {
  std::lock_guard<std::mutex> lock(mu_);
  ++outcomes_[{static_cast<int>(c), "queued"}];
}

std::string MailQuota::metrics() const {
  std::string out = "# TYPE spa_authd_mail_total counter\n";
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [k, n] : outcomes_)
    out += std::string("spa_authd_mail_total{class=\"") + mail_class_name(static_cast<MailClass>(k.first)) +
           "\",outcome=\"" + k.second + "\"} " + std::to_string(n) + "\n";
  return out;
}

}  // namespace spa::authd
