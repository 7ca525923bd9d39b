#include "core/token_cache.h"

namespace spa::core {

VerifiedTokenPtr VerifiedTokenCache::find(std::string_view token, int64_t now) {
  auto it = index_.find(token);
  if (it == index_.end()) {
    ++misses_;
    return nullptr;
  }
  List::iterator node = it->second;
  if (now >= node->verified->claims.exp + retain_after_exp_) {
    index_.erase(it);
    lru_.erase(node);
    ++misses_;
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, node);
  ++hits_;
  return node->verified;
}

void VerifiedTokenCache::insert(std::string_view token, VerifiedTokenPtr verified) {
  if (capacity_ == 0) return;
  if (auto it = index_.find(token); it != index_.end()) {
    it->second->verified = std::move(verified);
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  if (index_.size() >= capacity_) {
    index_.erase(lru_.back().token);
    lru_.pop_back();
    ++evictions_;
  }
  lru_.push_front(Entry{std::string(token), std::move(verified)});
  index_.emplace(lru_.front().token, lru_.begin());
}

}  // namespace spa::core
