// Admission of slow work: core::Bulkhead on a fake clock (bounds at and
// past the limit, FIFO hand-over, deadlines), then authd's Gate with real
// threads, sequenced by the gate's own state (no sleeps, no timing).
#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "authd/admission.h"
#include "authd/passwords.h"
#include "core/bulkhead.h"
#include "tests/unit/helpers.h"

namespace {

using spa::core::Bulkhead;
using Admit = Bulkhead::Admit;

constexpr int64_t kT0 = 1'000'000;  // any monotonic origin, ms

START_TEST(runs_up_to_the_bound_then_queues_then_sheds) {
  Bulkhead b({2, 3, 500});
  Bulkhead::Ticket t = 0;
  ck_assert(b.enter(kT0, t) == Admit::kRun);
  ck_assert(b.enter(kT0, t) == Admit::kRun);  // at the running bound
  ck_assert_uint_eq(b.running(), 2);
  Bulkhead::Ticket w[3];
  for (auto& ticket : w) ck_assert(b.enter(kT0, ticket) == Admit::kWait);
  ck_assert_uint_eq(b.waiting(), 3);  // at the queue bound
  Bulkhead::Ticket past = 0;
  ck_assert(b.enter(kT0, past) == Admit::kShed);  // one past it: turned away at once
  ck_assert_uint_eq(b.shed(), 1);
  ck_assert_uint_eq(b.waiting(), 3);  // and nothing of it stays
  ck_assert(b.poll(past, kT0) == Admit::kShed);
  for (auto ticket : w) ck_assert(b.poll(ticket, kT0 + 1) == Admit::kWait);
}
END_TEST

START_TEST(a_freed_slot_goes_to_the_oldest_waiter) {
  Bulkhead b({1, 2, 500});
  Bulkhead::Ticket t = 0, first = 0, second = 0;
  ck_assert(b.enter(kT0, t) == Admit::kRun);
  ck_assert(b.enter(kT0 + 1, first) == Admit::kWait);
  ck_assert(b.enter(kT0 + 2, second) == Admit::kWait);
  ck_assert(b.leave(kT0 + 10));  // handed over, not freed
  ck_assert_uint_eq(b.running(), 1);
  // A newcomer does not overtake the queue, even though the slot is not
  // picked up yet.
  Bulkhead::Ticket late = 0;
  ck_assert(b.enter(kT0 + 11, late) == Admit::kWait);
  ck_assert(b.poll(second, kT0 + 12) == Admit::kWait);
  ck_assert(b.poll(first, kT0 + 12) == Admit::kRun);
  ck_assert(b.poll(first, kT0 + 12) == Admit::kShed);  // a grant is taken once
  ck_assert_uint_eq(b.waiting(), 2);
  ck_assert(b.leave(kT0 + 20));
  ck_assert(b.poll(second, kT0 + 21) == Admit::kRun);
  ck_assert(b.leave(kT0 + 30));
  ck_assert(b.poll(late, kT0 + 31) == Admit::kRun);
  ck_assert(!b.leave(kT0 + 40));  // nobody queued: the slot is free
  ck_assert_uint_eq(b.running(), 0);
  ck_assert(b.enter(kT0 + 41, t) == Admit::kRun);
  ck_assert_uint_eq(b.shed(), 0);
}
END_TEST

START_TEST(a_waiter_gives_up_at_its_deadline) {
  Bulkhead b({1, 2, 500});
  Bulkhead::Ticket t = 0, w = 0;
  ck_assert(b.enter(kT0, t) == Admit::kRun);
  ck_assert(b.enter(kT0, w) == Admit::kWait);
  ck_assert_int_eq(b.deadline(kT0), kT0 + 500);
  ck_assert(b.poll(w, kT0 + 499) == Admit::kWait);  // one millisecond early: still waiting
  ck_assert(b.poll(w, kT0 + 500) == Admit::kShed);  // on the dot: gone
  ck_assert_uint_eq(b.waiting(), 0);
  ck_assert_uint_eq(b.shed(), 1);
  ck_assert(!b.leave(kT0 + 600));  // nobody left to hand the slot to
  ck_assert_uint_eq(b.running(), 0);
}
END_TEST

START_TEST(a_release_skips_waiters_past_their_deadline) {
  Bulkhead b({1, 3, 100});
  Bulkhead::Ticket t = 0, old1 = 0, old2 = 0, young = 0;
  ck_assert(b.enter(kT0, t) == Admit::kRun);
  ck_assert(b.enter(kT0, old1) == Admit::kWait);
  ck_assert(b.enter(kT0 + 10, old2) == Admit::kWait);
  ck_assert(b.enter(kT0 + 60, young) == Admit::kWait);
  // At +110 the first two have waited their 100 ms; the slot goes to the third.
  ck_assert(b.leave(kT0 + 110));
  ck_assert(b.poll(old1, kT0 + 111) == Admit::kShed);
  ck_assert(b.poll(old2, kT0 + 111) == Admit::kShed);
  ck_assert(b.poll(young, kT0 + 200) == Admit::kRun);  // granted before its deadline: it runs even if it looks late
  ck_assert_uint_eq(b.shed(), 2);
  // Expired waiters also make room for newcomers without any release.
  Bulkhead::Ticket a = 0, c = 0, d = 0, e = 0;
  ck_assert(b.enter(kT0 + 300, a) == Admit::kWait);
  ck_assert(b.enter(kT0 + 300, c) == Admit::kWait);
  ck_assert(b.enter(kT0 + 300, d) == Admit::kWait);
  ck_assert(b.enter(kT0 + 300, e) == Admit::kShed);
  ck_assert(b.enter(kT0 + 400, e) == Admit::kWait);  // the three expired at +400
  ck_assert_uint_eq(b.waiting(), 1);
}
END_TEST

START_TEST(no_queue_means_shed_at_once) {
  Bulkhead b({1, 0, 0});
  Bulkhead::Ticket t = 0;
  ck_assert(b.enter(kT0, t) == Admit::kRun);
  ck_assert(b.enter(kT0, t) == Admit::kShed);
  // A queue without any wait is no queue either.
  Bulkhead zero_wait({1, 5, 0});
  ck_assert(zero_wait.enter(kT0, t) == Admit::kRun);
  ck_assert(zero_wait.enter(kT0, t) == Admit::kShed);
  // At least one runs, whatever the limits say.
  Bulkhead none({0, 0, 0});
  ck_assert(none.enter(kT0, t) == Admit::kRun);
  ck_assert(none.enter(kT0, t) == Admit::kShed);
}
END_TEST

// The blocking side: a waiter is woken by the release, in order; an
// excess caller returns at once with nothing held.
START_TEST(gate_hands_a_slot_to_a_blocked_waiter) {
  spa::authd::Gate gate({1, 1, 60'000});
  auto holder = gate.enter();
  ck_assert(holder);
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    auto pass = gate.enter();
    got = static_cast<bool>(pass);
  });
  while (gate.waiting() == 0) std::this_thread::yield();  // the waiter is queued
  auto excess = gate.enter();  // running and queue full
  ck_assert(!excess);
  ck_assert_uint_eq(gate.shed(), 1);
  ck_assert(!got);
  holder.release();
  waiter.join();
  ck_assert(got);
  ck_assert_uint_eq(gate.running(), 0);  // the waiter's pass went with it
  ck_assert_uint_eq(gate.waiting(), 0);
}
END_TEST

START_TEST(gate_pass_moves_and_releases_once) {
  spa::authd::Gate gate({1, 0, 0});
  {
    auto a = gate.enter();
    spa::authd::Gate::Pass b = std::move(a);
    ck_assert(!a && b);
    ck_assert_uint_eq(gate.running(), 1);
    a = std::move(b);
    ck_assert_uint_eq(gate.running(), 1);
  }
  ck_assert_uint_eq(gate.running(), 0);
  ck_assert(gate.enter());
}
END_TEST

// Argon2 behind its gate: with every slot held and no queue, a check is
// shed at once; with a queue, it waits its turn.
START_TEST(hasher_sheds_when_every_slot_is_held) {
  spa::authd::PasswordHasher h(19456, 2, 1, {1, 60'000});
  std::string phc = h.hash("correct horse battery").value();
  auto& gate = h.admission();
  std::vector<spa::authd::Gate::Pass> held;
  for (size_t i = 0; i < gate.limits().running; ++i) held.push_back(gate.enter());
  ck_assert_uint_eq(h.max_callers(), gate.limits().running + 1);
  std::optional<bool> queued;
  std::thread waiter([&] { queued = h.verify(phc, "correct horse battery"); });
  while (gate.waiting() == 0) std::this_thread::yield();
  // Running and queue full: shed, and said so in the metrics.
  ck_assert(!h.verify(phc, "correct horse battery").has_value());
  ck_assert(!h.hash("another password").has_value());
  ck_assert(!h.verify_dummy("x"));
  ck_assert(h.metrics().find("spa_authd_argon2_shed_total 3\n") != std::string::npos);
  ck_assert(h.metrics().find("spa_authd_argon2_waiting 1\n") != std::string::npos);
  held.pop_back();  // one slot free: the queued check runs, and is right
  waiter.join();
  ck_assert(queued.has_value() && *queued);
}
END_TEST

}  // namespace

Suite* bulkhead_suite() {
  Suite* s = suite_create("bulkhead");
  TCase* t = tcase_create("core");
  tcase_add_test(t, runs_up_to_the_bound_then_queues_then_sheds);
  tcase_add_test(t, a_freed_slot_goes_to_the_oldest_waiter);
  tcase_add_test(t, a_waiter_gives_up_at_its_deadline);
  tcase_add_test(t, a_release_skips_waiters_past_their_deadline);
  tcase_add_test(t, no_queue_means_shed_at_once);
  tcase_add_test(t, gate_hands_a_slot_to_a_blocked_waiter);
  tcase_add_test(t, gate_pass_moves_and_releases_once);
  tcase_add_test(t, hasher_sheds_when_every_slot_is_held);
  tcase_set_timeout(t, 60);
  suite_add_tcase(s, t);
  return s;
}
REGISTER_SUITE(bulkhead_suite);
