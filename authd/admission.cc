#include "authd/admission.h"

#include <chrono>

namespace spa::authd {

using core::Bulkhead;

int64_t Gate::now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void Gate::Pass::release() {
  if (gate_) gate_->leave();
  gate_ = nullptr;
}

Gate::Pass Gate::enter() {
  std::unique_lock<std::mutex> lock(mu_);
  int64_t now = now_ms();
  Bulkhead::Ticket ticket = 0;
  Bulkhead::Admit a = bulkhead_.enter(now, ticket);
  if (a == Bulkhead::Admit::kWait) {
    auto until = std::chrono::steady_clock::time_point(std::chrono::milliseconds(bulkhead_.deadline(now)));
    for (;;) {
      a = bulkhead_.poll(ticket, now_ms());
      if (a != Bulkhead::Admit::kWait) break;
      // Woken by a leave() (maybe for another waiter), or at the deadline,
      // after which poll() says kShed.
      changed_.wait_until(lock, until);
    }
  }
  return a == Bulkhead::Admit::kRun ? Pass(this) : Pass();
}

void Gate::leave() {
  bool handed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    handed = bulkhead_.leave(now_ms());
  }
  if (handed) changed_.notify_all();
}

size_t Gate::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bulkhead_.running();
}

size_t Gate::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bulkhead_.waiting();
}

uint64_t Gate::shed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bulkhead_.shed();
}

}  // namespace spa::authd
