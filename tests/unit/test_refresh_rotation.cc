// The refresh state machine (authd/refresh_rotation.h), time passed in,
// and the refresh record's JSON.
#include "authd/refresh_rotation.h"
#include "tests/unit/helpers.h"

using namespace spa::authd;

namespace {

RefreshRecord fresh(int64_t issued, int64_t ttl) {
  RefreshRecord r;
  r.sid = "s";
  r.user_id = "u";
  r.issued_at = issued;
  r.expires_at = issued + ttl;
  return r;
}

}  // namespace

START_TEST(rotation_first_use_rotates) {
  RefreshRecord r = fresh(1000, 3600);
  ck_assert(decide_refresh(&r, true, 1000, 10) == RefreshDecision::kRotate);
  ck_assert(decide_refresh(&r, true, 4599, 10) == RefreshDecision::kRotate);
}
END_TEST

START_TEST(rotation_expiry_and_ended_sessions) {
  RefreshRecord r = fresh(1000, 3600);
  ck_assert(decide_refresh(&r, true, 4600, 10) == RefreshDecision::kExpired);
  ck_assert(decide_refresh(&r, false, 2000, 10) == RefreshDecision::kSessionEnded);
  ck_assert(decide_refresh(nullptr, true, 2000, 10) == RefreshDecision::kUnknown);
}
END_TEST

START_TEST(rotation_grace_window_boundaries) {
  RefreshRecord r = fresh(1000, 3600);
  r.rotated_at = 2000;
  r.successor = "abc";
  r.successor_box = "sealed";
  ck_assert(decide_refresh(&r, true, 2000, 10) == RefreshDecision::kSameSuccessor);
  ck_assert(decide_refresh(&r, true, 2010, 10) == RefreshDecision::kSameSuccessor);
  ck_assert(decide_refresh(&r, true, 2011, 10) == RefreshDecision::kReuse);
  ck_assert(decide_refresh(&r, true, 2000, 0) == RefreshDecision::kSameSuccessor);
  ck_assert(decide_refresh(&r, true, 2001, 0) == RefreshDecision::kReuse);
  // A clock that went back: within the window's size, still a parallel
  // tab; further back, a reuse (not a window as long as the step).
  ck_assert(decide_refresh(&r, true, 1990, 10) == RefreshDecision::kSameSuccessor);
  ck_assert(decide_refresh(&r, true, 1989, 10) == RefreshDecision::kReuse);
  ck_assert(decide_refresh(&r, true, 2000 - 3600, 10) == RefreshDecision::kReuse);
  // A revoked family never hands out its successor, even inside the window.
  ck_assert(decide_refresh(&r, false, 2005, 10) == RefreshDecision::kReuse);
  // Without a sealed successor there is nothing to hand out.
  r.successor_box.clear();
  ck_assert(decide_refresh(&r, true, 2005, 10) == RefreshDecision::kReuse);
}
END_TEST

START_TEST(refresh_record_round_trip_and_garbage) {
  RefreshRecord r = fresh(1000, 3600);
  r.rotated_at = 1500;
  r.parent = "ee";
  r.successor = "ff";
  r.successor_box = "box";
  auto back = RefreshRecord::from_json(r.to_json());
  ck_assert(back && back->sid == "s" && back->rotated_at == 1500 && back->successor_box == "box" && back->parent == "ee");
  ck_assert(!RefreshRecord::from_json("{}"));
  ck_assert(!RefreshRecord::from_json("not json"));
  ck_assert(!RefreshRecord::from_json(R"({"sid":1,"user":"u","issued_at":1,"expires_at":2,"rotated_at":0})"));
}
END_TEST

Suite* refresh_rotation_suite() {
  Suite* s = suite_create("refresh_rotation");
  TCase* tc = tcase_create("core");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, rotation_first_use_rotates);
  tcase_add_test(tc, rotation_expiry_and_ended_sessions);
  tcase_add_test(tc, rotation_grace_window_boundaries);
  tcase_add_test(tc, refresh_record_round_trip_and_garbage);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(refresh_rotation_suite);
