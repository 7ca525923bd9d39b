#include "core/bulkhead.h"

#include <algorithm>

namespace spa::core {

Bulkhead::Bulkhead(Limits limits) : limits_(limits) {
  if (limits_.running == 0) limits_.running = 1;
  if (limits_.max_wait_ms < 0) limits_.max_wait_ms = 0;
}

void Bulkhead::drop_expired(int64_t now_ms) {
  // Every caller waits the same time, so the expired ones are at the front.
  while (!queue_.empty() && queue_.front().deadline_ms <= now_ms) {
    queue_.pop_front();
    ++shed_;
  }
}

Bulkhead::Admit Bulkhead::enter(int64_t now_ms, Ticket& ticket) {
  drop_expired(now_ms);
  // A free slot with nobody queued: run. (A slot freed while callers were
  // queued went to one of them, so a newcomer never overtakes the queue.)
  if (running_ < limits_.running && queue_.empty()) {
    ++running_;
    return Admit::kRun;
  }
  if (queue_.size() >= limits_.waiting || limits_.max_wait_ms == 0) {
    ++shed_;
    return Admit::kShed;
  }
  ticket = next_++;
  queue_.push_back({ticket, deadline(now_ms)});
  return Admit::kWait;
}

Bulkhead::Admit Bulkhead::poll(Ticket ticket, int64_t now_ms) {
  if (auto g = std::find(granted_.begin(), granted_.end(), ticket); g != granted_.end()) {
    granted_.erase(g);
    return Admit::kRun;  // its slot was counted in running_ when handed over
  }
  auto w = std::find_if(queue_.begin(), queue_.end(), [ticket](const Waiter& x) { return x.ticket == ticket; });
  if (w == queue_.end()) return Admit::kShed;  // dropped when its deadline passed
  if (w->deadline_ms <= now_ms) {
    queue_.erase(w);
    ++shed_;
    return Admit::kShed;
  }
  return Admit::kWait;
}

bool Bulkhead::leave(int64_t now_ms) {
  drop_expired(now_ms);
  if (queue_.empty()) {
    if (running_ > 0) --running_;
    return false;
  }
  // The slot passes on: running_ stays as it is.
  granted_.push_back(queue_.front().ticket);
  queue_.pop_front();
  return true;
}

}  // namespace spa::core
