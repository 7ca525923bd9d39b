// The limiter table against a model anyone can read: a std::list in
// recency order and a std::map of arrival times, with the same GCRA step
// (core/gcra.h). Every hit must decide the same, and the table must hold
// the same keys, through growth, eviction and a clock that jumps about.
// Input: one limit, then hits of (key choice, time step).
#include <list>
#include <map>
#include <memory>

#include "core/limiter_table.h"
#include "tests/fuzz/fuzz.h"

using namespace spa::core;

namespace {

class Model {
 public:
  explicit Model(size_t capacity) : capacity_(capacity) {}
  RateDecision hit(const std::string& key, const RateLimit& limit, int64_t now) {
    if (key.empty()) {
      RateDecision d;
      d.allowed = true;
      d.remaining = limit.limit;
      return d;
    }
    auto it = tat_.find(key);
    if (it == tat_.end()) {
      if (tat_.size() == capacity_) {
        tat_.erase(order_.back());
        order_.pop_back();
      }
      it = tat_.emplace(key, Entry{0, {}}).first;
    } else {
      order_.erase(it->second.place);
    }
    order_.push_front(key);
    it->second.place = order_.begin();
    RateDecision d = rate_check(limit, it->second.tat, now);
    it->second.tat = d.tat_us;
    return d;
  }
  size_t size() const { return tat_.size(); }

 private:
  struct Entry {
    int64_t tat;
    std::list<std::string>::iterator place;
  };
  size_t capacity_;
  std::list<std::string> order_;
  std::map<std::string, Entry> tat_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  RateLimit limit;
  limit.limit = 1 + in.byte() % 10;
  static const int64_t kPeriods[] = {1'000'000, 60'000'000, 900'000'000, 3'600'000'000};
  limit.period_us = kPeriods[in.byte() % 4];

  // A small table, so that eviction happens: 2 to 9 keys.
  size_t bytes = 136 + 132 * (2 + in.byte() % 8);
  auto block = std::make_unique<uint64_t[]>(bytes / 8 + 1);
  bool kept = false;
  LimiterTable* table = LimiterTable::attach(block.get(), bytes, 0x5eed, false, kept);
  FUZZ_CHECK(table != nullptr && !kept);
  Model model(table->capacity());

  int64_t now = 1'700'000'000'000'000;
  while (!in.empty()) {
    uint8_t op = in.byte();
    // Keys: a few short ones, one empty, and long ones (stored as their hash).
    std::string key;
    switch (op % 16) {
      case 0: break;
      case 1: key = std::string(103 + op % 7, 'k'); break;
      case 2: key = std::string(in.bytes(in.byte() % 120)); break;
      default: key = "client-" + std::to_string(op % 13); break;
    }
    // Time: small steps forward mostly, sometimes a jump either way.
    uint8_t t = in.byte();
    if (t < 200) now += int64_t{t} * 50'000;
    else if (t < 230) now += int64_t{t - 199} * 600'000'000;
    else now -= int64_t{t - 229} * 600'000'000;

    RateDecision got = table->hit(key, limit, now);
    RateDecision want = model.hit(key, limit, now);
    FUZZ_CHECK(got.allowed == want.allowed);
    FUZZ_CHECK(got.tat_us == want.tat_us);
    FUZZ_CHECK(got.remaining == want.remaining);
    FUZZ_CHECK(got.retry_after_us == want.retry_after_us);
    FUZZ_CHECK(got.reset_us == want.reset_us);
    FUZZ_CHECK(table->size() == model.size());
    FUZZ_CHECK(got.remaining <= limit.limit);
  }
  return 0;
}
