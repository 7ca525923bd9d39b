// Admission for one kind of slow work (Argon2 hashing, calls to one OpenID
// provider): at most `running` callers at a time, at most `waiting` queued
// behind them, each queued for at most `max_wait_ms`. A caller past those
// bounds is turned away at once (shed) instead of holding a thread, so the
// threads slow work can hold are bounded and quick requests always find
// one (docs/authd.md "Concurrency").
//
// Pure: time (monotonic milliseconds) is passed in; the caller blocks and
// locks (authd/admission.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace spa::core {

class Bulkhead {
 public:
  struct Limits {
    size_t running = 1;       // at least 1
    size_t waiting = 0;       // callers queued behind the running ones
    int64_t max_wait_ms = 0;  // how long a queued caller waits for a slot
  };
  enum class Admit { kRun, kWait, kShed };
  using Ticket = uint64_t;

  explicit Bulkhead(Limits limits);

  // A caller arrives: kRun (it holds a slot: leave() when done), kWait
  // (queued as `ticket`: poll() it), or kShed (nothing held).
  Admit enter(int64_t now_ms, Ticket& ticket);

  // A queued caller looks again: kRun once a slot was handed to it (leave()
  // when done), kWait while its deadline has not passed, kShed after (it is
  // no longer queued). A ticket that was never queued is kShed.
  Admit poll(Ticket ticket, int64_t now_ms);

  // A running caller is done: its slot goes to the oldest queued caller
  // whose deadline has not passed (callers past it are dropped). True when
  // a queued caller got the slot, so the blocking side wakes them.
  bool leave(int64_t now_ms);

  // When a caller queued at `now_ms` gives up.
  int64_t deadline(int64_t now_ms) const { return now_ms + limits_.max_wait_ms; }

  size_t running() const { return running_; }  // slots held, handed-over ones included
  size_t waiting() const { return queue_.size(); }
  uint64_t shed() const { return shed_; }      // callers turned away since the start
  const Limits& limits() const { return limits_; }

 private:
  struct Waiter {
    Ticket ticket;
    int64_t deadline_ms;
  };
  void drop_expired(int64_t now_ms);

  Limits limits_;
  size_t running_ = 0;
  std::deque<Waiter> queue_;     // arrival order; deadlines ascend with it
  std::vector<Ticket> granted_;  // handed a slot, not yet polled
  Ticket next_ = 1;
  uint64_t shed_ = 0;
};

}  // namespace spa::core
