// core::Bulkhead with the blocking around it: a mutex, a condition variable
// and the steady clock. One Gate per kind of slow work (docs/authd.md
// "Concurrency").
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "core/bulkhead.h"

namespace spa::authd {

class Gate {
 public:
  explicit Gate(core::Bulkhead::Limits limits) : bulkhead_(limits) {}
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  // A slot held for a scope; empty (false) when the caller was shed.
  class Pass {
   public:
    Pass() = default;
    Pass(Pass&& o) noexcept : gate_(o.gate_) { o.gate_ = nullptr; }
    Pass& operator=(Pass&& o) noexcept {
      if (this != &o) {
        release();
        gate_ = o.gate_;
        o.gate_ = nullptr;
      }
      return *this;
    }
    ~Pass() { release(); }
    explicit operator bool() const { return gate_ != nullptr; }
    void release();

   private:
    friend class Gate;
    explicit Pass(Gate* g) : gate_(g) {}
    Gate* gate_ = nullptr;
  };

  // Waits up to the gate's max_wait for a slot (not at all when it has no
  // queue).
  Pass enter();

  size_t running() const;
  size_t waiting() const;
  uint64_t shed() const;
  const core::Bulkhead::Limits& limits() const { return bulkhead_.limits(); }

 private:
  static int64_t now_ms();
  void leave();

  mutable std::mutex mu_;
  std::condition_variable changed_;
  core::Bulkhead bulkhead_;
};

}  // namespace spa::authd
