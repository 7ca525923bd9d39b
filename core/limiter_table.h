// The state of one rate-limit zone: a hash table of keys and their GCRA
// arrival times in one flat block of memory (nginx shared memory in the
// module), with least-recently-used eviction when it is full. Indices, not
// pointers, so the block means the same in every process that maps it.
// The caller serialises access (the zone's shared-memory mutex).
//
// Every entry is 128 bytes, its key and its place in the recency list
// included: keys up to 102 bytes are kept as they are, longer ones as their
// SHA-256. With one 4-byte bucket per
// entry, a block of S bytes holds (S - 136) / 132 keys; what nginx leaves of
// a 10m shared zone after its slab allocator holds 78,909.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/gcra.h"

namespace spa::core {

class LimiterTable {
 public:
  static constexpr size_t kEntryBytes = 128;
  static constexpr size_t kInlineKey = 102;

  struct Counters {
    uint64_t allowed = 0;
    uint64_t refused = 0;     // over the limit (refused, or logged under dry_run)
    uint64_t evicted = 0;     // entries dropped to make room
  };

  // How many keys a block of `bytes` holds (0 if too small for one).
  static size_t capacity_for(size_t bytes);

  // Uses `mem` (`bytes` long, 8-byte aligned) as a table: keeps the one in
  // it when `keep` is set and the block holds a table of this layout and
  // size (a reload), else starts empty with hash seed `seed`. nullptr when
  // the block is too small. `kept` says which happened.
  static LimiterTable* attach(void* mem, size_t bytes, uint64_t seed, bool keep, bool& kept);

  // One request for `key` at `now_us`: found or added (evicting the least
  // recently used key when full), checked, and its arrival time stored
  // when it passes. An empty key is not limited (allowed, not stored).
  RateDecision hit(std::string_view key, const RateLimit& limit, int64_t now_us);

  size_t size() const;
  size_t capacity() const;
  Counters counters() const;

 private:
  LimiterTable() = default;
};

}  // namespace spa::core
