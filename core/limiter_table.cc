#include "core/limiter_table.h"

#include <openssl/sha.h>

#include <cstring>
#include <new>

namespace spa::core {
namespace {

constexpr uint64_t kMagic = 0x7370615f6c696d31ull;  // "spa_lim1"
constexpr uint32_t kNone = UINT32_MAX;

struct Header {
  uint64_t magic;
  uint64_t bytes;      // the block size it was made for
  uint64_t seed;
  uint32_t capacity;
  uint32_t count;
  uint32_t lru_head;   // most recently used
  uint32_t lru_tail;   // least recently used: evicted first
  uint32_t free_head;  // never-used entries are taken in order first
  uint32_t unused;
  LimiterTable::Counters counters;
  uint8_t pad[128 - 8 * 3 - 4 * 6 - sizeof(LimiterTable::Counters)];
};
static_assert(sizeof(Header) == 128);

struct Entry {
  int64_t tat_us;
  uint32_t next;      // bucket chain
  uint32_t hash;      // high bits of the key's hash, to skip most compares
  uint8_t key_len;
  uint8_t digest;     // 1: key holds SHA-256 of a key longer than kInlineKey
  uint8_t key[LimiterTable::kInlineKey];
};
// The recency list lives apart from the entries: moving a key to the front
// touches its neighbours' links, and 8-byte links stay in cache where
// 120-byte entries would not.
struct Links {
  uint32_t prev;
  uint32_t next;
};
static_assert(sizeof(Entry) + sizeof(Links) == LimiterTable::kEntryBytes);

Header* header(void* self) { return static_cast<Header*>(self); }
const Header* header(const void* self) { return static_cast<const Header*>(self); }
uint32_t* buckets(void* self) { return reinterpret_cast<uint32_t*>(static_cast<uint8_t*>(self) + sizeof(Header)); }
Links* links(void* self) {
  auto* h = header(self);
  return reinterpret_cast<Links*>(reinterpret_cast<uint8_t*>(buckets(self)) +
                                  ((h->capacity * sizeof(uint32_t) + 7) & ~size_t{7}));
}
Entry* entries(void* self) { return reinterpret_cast<Entry*>(links(self) + header(self)->capacity); }

// A seeded 64-bit hash (multiply-xorshift): the seed is random per zone, so
// keys that collide cannot be chosen from outside.
uint64_t hash_key(std::string_view k, uint64_t seed) {
  uint64_t h = seed ^ (k.size() * 0x9e3779b97f4a7c15ull);
  size_t i = 0;
  for (; i + 8 <= k.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, k.data() + i, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, k.data() + i, k.size() - i);
  h = (h ^ tail) * 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 29;
  h *= 0xff51afd7ed558ccdull;
  return h ^ (h >> 32);
}

void lru_unlink(Header* h, Links* l, uint32_t i) {
  if (l[i].prev != kNone) l[l[i].prev].next = l[i].next;
  else h->lru_head = l[i].next;
  if (l[i].next != kNone) l[l[i].next].prev = l[i].prev;
  else h->lru_tail = l[i].prev;
}

void lru_push_front(Header* h, Links* l, uint32_t i) {
  l[i].prev = kNone;
  l[i].next = h->lru_head;
  if (h->lru_head != kNone) l[h->lru_head].prev = i;
  h->lru_head = i;
  if (h->lru_tail == kNone) h->lru_tail = i;
}

void bucket_unlink(uint32_t* b, Entry* e, uint32_t bucket, uint32_t i) {
  for (uint32_t* link = &b[bucket]; *link != kNone; link = &e[*link].next) {
    if (*link == i) {
      *link = e[i].next;
      return;
    }
  }
}

}  // namespace

size_t LimiterTable::capacity_for(size_t bytes) {
  constexpr size_t kPerKey = LimiterTable::kEntryBytes + sizeof(uint32_t);  // entry, links, bucket
  if (bytes < sizeof(Header) + 8 + kPerKey) return 0;
  size_t n = (bytes - sizeof(Header) - 8) / kPerKey;
  return n > kNone - 1 ? kNone - 1 : n;
}

LimiterTable* LimiterTable::attach(void* mem, size_t bytes, uint64_t seed, bool keep, bool& kept) {
  size_t capacity = capacity_for(bytes);
  kept = false;
  if (capacity == 0) return nullptr;
  Header* h = static_cast<Header*>(mem);
  if (keep && h->magic == kMagic && h->bytes == bytes && h->capacity == capacity) {
    kept = true;
    return static_cast<LimiterTable*>(mem);
  }
  *h = Header{};
  h->bytes = bytes;
  h->seed = seed;
  h->capacity = static_cast<uint32_t>(capacity);
  h->lru_head = h->lru_tail = kNone;
  h->free_head = 0;
  uint32_t* b = buckets(mem);
  for (size_t i = 0; i < capacity; ++i) b[i] = kNone;
  h->magic = kMagic;
  return static_cast<LimiterTable*>(mem);
}

RateDecision LimiterTable::hit(std::string_view key, const RateLimit& limit, int64_t now_us) {
  Header* h = header(this);
  if (key.empty()) {
    RateDecision d;
    d.allowed = true;
    d.remaining = limit.limit;
    return d;
  }
  uint8_t digest[SHA256_DIGEST_LENGTH];
  bool hashed = key.size() > kInlineKey;
  if (hashed) {
    SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
    key = std::string_view(reinterpret_cast<const char*>(digest), sizeof digest);
  }
  uint64_t full = hash_key(key, h->seed ^ (hashed ? 1 : 0));
  uint32_t bucket = static_cast<uint32_t>(full % h->capacity);
  uint32_t tag = static_cast<uint32_t>(full >> 32);
  uint32_t* b = buckets(this);
  Links* l = links(this);
  Entry* e = entries(this);

  uint32_t i = b[bucket];
  while (i != kNone && !(e[i].hash == tag && e[i].digest == hashed && e[i].key_len == key.size() &&
                         std::memcmp(e[i].key, key.data(), key.size()) == 0))
    i = e[i].next;

  if (i == kNone) {
    if (h->free_head < h->capacity) {
      i = h->free_head++;
    } else {
      // Full: the least recently used key makes room.
      i = h->lru_tail;
      lru_unlink(h, l, i);
      bucket_unlink(b, e, static_cast<uint32_t>(hash_key(std::string_view(reinterpret_cast<const char*>(e[i].key),
                                                                          e[i].key_len),
                                                         h->seed ^ e[i].digest) %
                                                h->capacity),
                    i);
      --h->count;
      ++h->counters.evicted;
    }
    e[i].tat_us = 0;
    e[i].hash = tag;
    e[i].digest = hashed;
    e[i].key_len = static_cast<uint8_t>(key.size());
    std::memcpy(e[i].key, key.data(), key.size());
    e[i].next = b[bucket];
    b[bucket] = i;
    ++h->count;
  } else if (h->lru_head != i) {
    lru_unlink(h, l, i);
  }
  if (h->lru_head != i) lru_push_front(h, l, i);

  RateDecision d = rate_check(limit, e[i].tat_us, now_us);
  e[i].tat_us = d.tat_us;
  if (d.allowed) ++h->counters.allowed;
  else ++h->counters.refused;
  return d;
}

size_t LimiterTable::size() const { return header(this)->count; }
size_t LimiterTable::capacity() const { return header(this)->capacity; }
LimiterTable::Counters LimiterTable::counters() const { return header(this)->counters; }

}  // namespace spa::core
