// VerifiedTokenCache: per-worker LRU of tokens whose signature checked out,
// keyed by the whole token, so a token is verified once, not per request.
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/verifier.h"

namespace spa::core {

class VerifiedTokenCache {
 public:
  // `capacity` entries at most; an entry is dropped `retain_after_exp`
  // seconds after its exp (the largest leeway any location uses).
  VerifiedTokenCache(size_t capacity, int64_t retain_after_exp)
      : capacity_(capacity), retain_after_exp_(retain_after_exp) {}

  VerifiedTokenCache(const VerifiedTokenCache&) = delete;
  VerifiedTokenCache& operator=(const VerifiedTokenCache&) = delete;

  // The cached result, or nullptr. A hit becomes most recently used; an
  // entry past its retention is removed and reported as a miss.
  VerifiedTokenPtr find(std::string_view token, int64_t now);

  // Adds or replaces; evicts the least recently used entry when full.
  void insert(std::string_view token, VerifiedTokenPtr verified);

  size_t size() const { return index_.size(); }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  uint64_t evictions() const { return evictions_; }

 private:
  struct Entry {
    std::string token;
    VerifiedTokenPtr verified;
  };
  struct ViewHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using List = std::list<Entry>;

  size_t capacity_;
  int64_t retain_after_exp_;
  List lru_;  // front = most recently used
  // Keys view the token stored in the list node, which never moves.
  std::unordered_map<std::string_view, List::iterator, ViewHash, std::equal_to<>> index_;
  uint64_t hits_ = 0, misses_ = 0, evictions_ = 0;
};

}  // namespace spa::core
