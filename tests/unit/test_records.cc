// The store's typed JSON records (authd/records/): each one decodes what
// the services write today and writes it back byte for byte (the JSON is
// built here the way the services build it), tolerates absent fields as the
// services' value() reads did, keeps fields it does not know, and refuses a
// field of the wrong type, another format version, or text that is no JSON
// object. The public views answer what public_user() and the listing and
// export code answer.
#include "authd/auth_service.h"
#include "authd/records/audit.h"
#include "authd/records/links.h"
#include "authd/records/lockout.h"
#include "authd/records/mfa_pending.h"
#include "authd/records/oauth_state.h"
#include "authd/records/refresh_successor.h"
#include "authd/records/session_meta.h"
#include "authd/records/user.h"
#include "tests/unit/helpers.h"
#include "tests/unit/store_tests.h"

using namespace spa::authd;
using json = nlohmann::json;

namespace {

constexpr int64_t kNow = 1'800'000'000;
const char* kId = "0123456789abcdef0123456789abcdef";
const char* kAuditId = "fedcba9876543210fedcba9876543210";

// What public_user() answered for a user's JSON before the services read
// typed records (service_types.cc up to issue 13): the view the record's
// public_view() must equal.
json public_user(const json& u) {
  json providers = json::array();
  auto it = u.find("identities");
  for (const auto& i : it != u.end() && it->is_array() ? *it : json::array()) providers.push_back(i.value("provider", ""));
  return {{"id", u.value("id", "")},
          {"email", u.value("email", "")},
          {"username", u.value("username", "")},
          {"role", u.value("role", "user")},
          {"disabled", u.value("disabled", false)},
          {"created_at", u.value("created_at", int64_t{0})},
          {"email_verified", u.value("email_verified", false)},
          {"mfa_enabled", u.contains("mfa") && u["mfa"].value("enabled", false)},
          {"has_password", !u.value("password", "").empty()},
          {"providers", providers}};
}

// Decodes `today` (as the services wrote it) and writes it back unchanged.
template <class R>
R round_trip(const json& today) {
  std::string text = today.dump();
  auto r = R::from_json(text);
  ck_assert_msg(r.has_value(), "refused: %s", text.c_str());
  std::string again = r->to_json();
  ck_assert_msg(again == text, "wrote\n%s\nfor\n%s", again.c_str(), text.c_str());
  return *r;
}

template <class R>
bool refused(const json& j) {
  std::string text = j.dump();
  return !R::from_json(text).has_value();
}

// A value of another JSON type than `v`.
json wrong_type(const json& v) {
  if (v.is_string()) return 5;
  if (v.is_boolean() || v.is_number()) return "1";
  if (v.is_array()) return json::object();
  return json::array();
}

// Every field of `today`: absent, the record still decodes (an optional
// one is then left out of the bytes too); of the wrong type, it is refused.
template <class R>
void fields_are_typed(const json& today, const std::vector<std::string>& optional_fields) {
  for (const auto& [name, value] : today.items()) {
    json without = today;
    without.erase(name);
    std::string text = without.dump();
    auto r = R::from_json(text);
    ck_assert_msg(r.has_value(), "refused without %s", name.c_str());
    bool optional = std::find(optional_fields.begin(), optional_fields.end(), name) != optional_fields.end();
    std::string again = r->to_json();
    if (optional) ck_assert_msg(again == text, "%s absent, wrote %s", name.c_str(), again.c_str());
    json bad = today;
    bad[name] = wrong_type(value);
    ck_assert_msg(refused<R>(bad), "took %s of the wrong type", name.c_str());
  }
}

// What no record takes: other formats, other JSON, no JSON.
template <class R>
void refuses_what_is_not_its_format(const json& today) {
  json v2 = today;
  v2["v"] = 2;
  ck_assert(refused<R>(v2));
  v2["v"] = "1";
  ck_assert(refused<R>(v2));
  v2["v"] = 1;  // format 1 said out loud: read, and written as format 1 always was
  std::string v1 = v2.dump();
  auto r = R::from_json(v1);
  ck_assert(r.has_value());
  std::string plain = today.dump(), written = r->to_json();
  ck_assert(written == plain);
  for (const char* text : {"", "null", "[]", "\"x\"", "{", "{\"a\":1,\"a\":2}"})
    ck_assert_msg(!R::from_json(text).has_value(), "took %s", text);
  // Unknown fields stay, in their place in the sorted output.
  json extra = today;
  extra["zz_later"] = {{"kept", true}};
  extra["aa_older"] = 3;
  round_trip<R>(extra);
}

// A user as sign-up makes it (AuthService::signup).
json signup_user() {
  json user = {{"id", kId},      {"email", "Alice@Example.com"}, {"username", "alice"},
               {"password", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"},
               {"role", "user"}, {"disabled", false},            {"created_at", kNow},
               {"updated_at", kNow}, {"email_verified", false},  {"audit_id", kAuditId}};
  user["unverified_erase_at"] = kNow + AccountService::kUnverifiedTtl;
  return user;
}

std::vector<std::string> backup_hashes() {
  std::vector<std::string> h;
  for (int i = 0; i < FactorCodes::kBackupCodes; ++i) h.push_back(std::string(64, static_cast<char>('a' + i)));
  return h;
}

}  // namespace

START_TEST(user_records_write_what_the_services_wrote) {
  json user = signup_user();
  UserRecord u = round_trip<UserRecord>(user);
  ck_assert(u.id == kId && u.email == "Alice@Example.com" && u.role == "user" && !u.disabled);
  ck_assert(u.email_verified == false && u.unverified_erase_at == kNow + AccountService::kUnverifiedTtl);
  ck_assert(!u.mfa && !u.identities && !u.credential_epoch && u.epoch() == 0);
  std::string view = u.public_view().dump(), today = public_user(user).dump();
  ck_assert_str_eq(view.c_str(), today.c_str());

  // Confirmed (verify_email_confirm), then TOTP set up and enabled (mfa.cc).
  user["email_verified"] = true;
  user["email_verified_at"] = kNow + 5;
  user["updated_at"] = kNow + 5;
  user.erase("unverified_erase_at");
  user["mfa"] = {{"enabled", false}, {"pending", "c2VhbGVk"}};
  u = round_trip<UserRecord>(user);
  ck_assert(u.mfa && !u.mfa->enabled && u.mfa->pending == "c2VhbGVk" && !u.mfa->email_method());
  json mfa = {{"enabled", true}, {"secret", user["mfa"]["pending"]}, {"last_step", uint64_t{60000000}}, {"enabled_at", kNow}};
  mfa["backup"] = backup_hashes();
  user["mfa"] = mfa;
  u = round_trip<UserRecord>(user);
  ck_assert(u.mfa_enabled() && u.mfa->last_step == 60000000u && u.mfa->backup->size() == 10);
  // The same record built as a struct writes the same bytes.
  UserRecord built = u;
  built.mfa = UserRecord::Mfa{};
  built.mfa->enabled = true;
  built.mfa->secret = "c2VhbGVk";
  built.mfa->last_step = 60000000;
  built.mfa->enabled_at = kNow;
  built.mfa->backup = backup_hashes();
  std::string built_text = built.to_json(), today_text = user.dump();
  ck_assert_str_eq(built_text.c_str(), today_text.c_str());
  view = u.public_view().dump(), today = public_user(user).dump();
  ck_assert_str_eq(view.c_str(), today.c_str());

  // The e-mail method with an action code out (mfa_setup_email, new_action_code).
  user["mfa"] = {{"enabled", true}, {"method", "email"}, {"enabled_at", kNow}};
  user["mfa"]["backup"] = backup_hashes();
  user["mfa"]["email_code"] = {{"hash", std::string(64, 'e')}, {"expires_at", kNow + FactorCodes::kEmailCodeTtl}};
  u = round_trip<UserRecord>(user);
  ck_assert(u.mfa->email_method() && u.mfa->email_code->expires_at == kNow + FactorCodes::kEmailCodeTtl);

  // A provider linked (oauth_accounts.cc add_identity), a credential epoch.
  json list = json::array();
  list.push_back({{"provider", "corp"}, {"subject", "s-1"}, {"email", "alice@corp.example"}, {"linked_at", kNow}});
  user["identities"] = list;
  user["credential_epoch"] = 3;
  u = round_trip<UserRecord>(user);
  ck_assert(u.identities->size() == 1 && (*u.identities)[0].key() == "corp:s-1" && u.epoch() == 3);
  view = u.public_view().dump(), today = public_user(user).dump();
  ck_assert_str_eq(view.c_str(), today.c_str());

  // Claimed (claim_unverified_account): no password, identities empty, no mfa.
  user["password"] = "";
  user["identities"] = json::array();
  user.erase("mfa");
  u = round_trip<UserRecord>(user);
  ck_assert(u.identities && u.identities->empty() && !u.mfa);
  view = u.public_view().dump(), today = public_user(user).dump();
  ck_assert_str_eq(view.c_str(), today.c_str());

  // Made by a provider (oauth_sign_in).
  json oauth = {{"id", kId},          {"email", "erin@example.com"}, {"username", "erin"},
                {"password", ""},     {"role", "user"},              {"disabled", false},
                {"created_at", kNow}, {"updated_at", kNow},          {"audit_id", kAuditId},
                {"email_verified", true}};
  oauth["identities"] = list;
  u = round_trip<UserRecord>(oauth);
  view = u.public_view().dump(), today = public_user(oauth).dump();
  ck_assert_str_eq(view.c_str(), today.c_str());
}
END_TEST

START_TEST(user_records_take_older_shapes_and_refuse_wrong_types) {
  // The first format's user: no email_verified, the lockout counters inside.
  json old = {{"id", kId},           {"email", "a@example.com"}, {"username", "a_user"}, {"password", "$argon2id$x"},
              {"role", "admin"},     {"disabled", true},         {"created_at", 1},      {"updated_at", 2},
              {"failed_logins", 0},  {"lockouts", 0},            {"locked_until", 0},    {"audit_id", kAuditId}};
  UserRecord u = round_trip<UserRecord>(old);
  ck_assert(!u.email_verified && !u.verified() && u.unknown.contains("failed_logins"));
  std::string view = u.public_view().dump(), today = public_user(old).dump();
  ck_assert_str_eq(view.c_str(), today.c_str());
  json user = signup_user();
  user["email_verified_at"] = kNow;
  user["credential_epoch"] = 1;
  user["identities"] = json::array({{{"provider", "corp"}, {"subject", "s"}, {"email", "e"}, {"linked_at", kNow}}});
  user["mfa"] = {{"enabled", true}, {"secret", "x"}, {"last_step", 7}, {"enabled_at", kNow}, {"backup", {"h"}}};
  fields_are_typed<UserRecord>(user, {"email_verified", "email_verified_at", "unverified_erase_at", "credential_epoch",
                                      "identities", "mfa"});
  refuses_what_is_not_its_format<UserRecord>(user);
  // Inside: each nested field has its type too.
  const std::vector<std::pair<const char*, json>> bad = {
      {"identities", json::array({5})},
      {"identities", json::array({json{{"provider", 1}}})},
      {"identities", json::array({json{{"linked_at", "x"}}})},
      {"mfa", json{{"enabled", "yes"}}},
      {"mfa", json{{"backup", json::array({1})}}},
      {"mfa", json{{"backup", "h"}}},
      {"mfa", json{{"last_step", -1}}},
      {"mfa", json{{"method", 1}}},
      {"mfa", json{{"email_code", "x"}}},
      {"mfa", json{{"email_code", json{{"expires_at", "soon"}}}}},
      {"created_at", 1.5},
      {"created_at", 18446744073709551615ull},
      {"role", nullptr}};
  for (const auto& [name, value] : bad) {
    json j = signup_user();
    j[name] = value;
    ck_assert_msg(refused<UserRecord>(j), "took %s: %s", name, value.dump().c_str());
  }
  // Unknown fields inside nested records stay too.
  user["mfa"]["later"] = "x";
  user["identities"][0]["later"] = "y";
  round_trip<UserRecord>(user);
}
END_TEST

START_TEST(session_meta_writes_what_the_services_wrote) {
  // AuthService::start_session.
  json meta = {{"created_at", kNow}, {"last_used_at", kNow}, {"ip", "192.0.2.7"}, {"user_agent", "agent/1"},
               {"amr", json::array({"pwd"})}, {"auth_time", kNow}};
  SessionMetaRecord m = round_trip<SessionMetaRecord>(meta);
  ck_assert(m.amr == std::vector<std::string>{"pwd"} && m.auth_time == kNow);
  meta["last_used_at"] = kNow + 60;                  // a rotation
  meta["amr"] = first_factors(json::array({"pwd", "otp"}));  // the factor turned off
  round_trip<SessionMetaRecord>(meta);
  fields_are_typed<SessionMetaRecord>(meta, {"amr", "auth_time"});
  refuses_what_is_not_its_format<SessionMetaRecord>(meta);
  ck_assert(refused<SessionMetaRecord>({{"amr", {"pwd", 1}}}));
  // A session from before amr and auth_time.
  m = round_trip<SessionMetaRecord>({{"created_at", 5}, {"last_used_at", 6}, {"ip", ""}, {"user_agent", ""}});
  ck_assert(!m.amr && !m.auth_time);

  // The listing, as list_sessions builds it, with and without metadata.
  spa::core::SessionRecord rec;
  rec.created_at = kNow - 10;
  rec.expires_at = kNow + 100;
  for (bool with_meta : {true, false}) {
    json stored = with_meta ? meta : json::object();
    json today = {{"id", "sid-1"},
                  {"current", true},
                  {"created_at", rec.created_at},
                  {"expires_at", rec.expires_at},
                  {"last_used_at", stored.value("last_used_at", rec.created_at)},
                  {"ip", stored.value("ip", "")},
                  {"user_agent", stored.value("user_agent", "")}};
    auto typed = SessionMetaRecord::from_json(meta.dump());
    std::string view = SessionMetaRecord::public_view("sid-1", true, rec, with_meta ? &*typed : nullptr).dump();
    std::string want = today.dump();
    ck_assert_str_eq(view.c_str(), want.c_str());
  }
}
END_TEST

START_TEST(pending_logins_links_and_lockouts_write_what_the_services_wrote) {
  // AuthService::open_second_factor_gate, then a wrong code (mfa_verify).
  json pending = {{"user", kId}, {"expires_at", kNow + SessionIssuer::kMfaTokenTtl}, {"attempts", 0},
                  {"amr", json::array({"oauth"})}, {"epoch", 2}};
  round_trip<MfaPendingRecord>(pending);
  pending["email_code"] = std::string(64, 'c');
  pending["attempts"] = pending.value("attempts", 0) + 1;
  MfaPendingRecord p = round_trip<MfaPendingRecord>(pending);
  ck_assert(p.attempts == 1 && p.epoch == 2 && p.email_code && p.amr == std::vector<std::string>{"oauth"});
  fields_are_typed<MfaPendingRecord>(pending, {"amr", "epoch", "email_code"});
  refuses_what_is_not_its_format<MfaPendingRecord>(pending);
  ck_assert(refused<MfaPendingRecord>({{"attempts", 3000000000ll}}));
  // From before amr and epoch.
  p = round_trip<MfaPendingRecord>({{"user", kId}, {"expires_at", kNow}, {"attempts", 4}});
  ck_assert(!p.amr && !p.epoch && p.attempts == 4);

  // password_reset_request, new_verify_link.
  json reset = {{"user", kId}, {"expires_at", kNow + CredentialService::kResetTokenTtl}};
  ck_assert(round_trip<ResetLinkRecord>(reset).expires_at == kNow + CredentialService::kResetTokenTtl);
  fields_are_typed<ResetLinkRecord>(reset, {});
  refuses_what_is_not_its_format<ResetLinkRecord>(reset);
  json verify = {{"user", kId}, {"email", "Alice@Example.com"}, {"expires_at", kNow + AccountService::kVerifyTokenTtl}};
  ck_assert(round_trip<VerifyLinkRecord>(verify).email == "Alice@Example.com");
  fields_are_typed<VerifyLinkRecord>(verify, {});
  refuses_what_is_not_its_format<VerifyLinkRecord>(verify);

  // AuthService::record_failure.
  int failures = 0, lockouts = 1;
  int64_t locked_until = kNow + 120;
  json lockout = {{"failures", failures},
                  {"lockouts", lockouts},
                  {"locked_until", locked_until},
                  {"expires_at", std::max(locked_until, kNow) + SessionIssuer::kLockoutMemory}};
  LockoutRecord l = round_trip<LockoutRecord>(lockout);
  ck_assert(l.lockouts == 1 && l.locked_until == kNow + 120);
  LockoutRecord built;
  built.lockouts = 1;
  built.locked_until = locked_until;
  built.expires_at = locked_until + SessionIssuer::kLockoutMemory;
  std::string built_text = built.to_json(), today_text = lockout.dump();
  ck_assert_str_eq(built_text.c_str(), today_text.c_str());
  fields_are_typed<LockoutRecord>(lockout, {});
  refuses_what_is_not_its_format<LockoutRecord>(lockout);
}
END_TEST

START_TEST(audit_oauth_and_successor_records_write_what_the_services_wrote) {
  // AuthService::audit, then erasure takes the subject (erase_user).
  json event = {{"ts", kNow}, {"event", "login"}, {"subject", kAuditId}, {"request_id", "req-1"}};
  AuditRecord a = round_trip<AuditRecord>(event);
  ck_assert(a.subject == kAuditId && a.event == "login");
  json exported = event;
  exported.erase("subject");  // export_data
  std::string view = a.public_view().dump(), today = exported.dump();
  ck_assert_str_eq(view.c_str(), today.c_str());
  a = round_trip<AuditRecord>(exported);
  ck_assert(!a.subject);
  round_trip<AuditRecord>({{"ts", kNow}, {"event", "logout"}, {"subject", ""}, {"request_id", ""}});
  fields_are_typed<AuditRecord>(event, {"subject"});
  refuses_what_is_not_its_format<AuditRecord>(event);

  // OAuthLogin::begin: the sealed secrets and the record.
  json sealed = {{"nonce", "n"}, {"verifier", "v"}, {"redirect_to", "/app?tab=2"}, {"link_user", kId},
                 {"link_sid", "sid-1"}};
  OAuthStateSecrets s = round_trip<OAuthStateSecrets>(sealed);
  ck_assert(s.redirect_to == "/app?tab=2" && s.link_sid == "sid-1");
  ck_assert(OAuthStateSecrets::from_json("{}")->redirect_to == "/");  // take()'s default
  fields_are_typed<OAuthStateSecrets>(sealed, {});
  refuses_what_is_not_its_format<OAuthStateSecrets>(sealed);
  json record = {{"provider", "corp"}, {"box", "Ym94"}};
  ck_assert(round_trip<OAuthStateRecord>(record).box == "Ym94");
  fields_are_typed<OAuthStateRecord>(record, {});
  refuses_what_is_not_its_format<OAuthStateRecord>(record);

  // AuthService::refresh: the successor pair sealed in the rotated record.
  json pair = {{"access_token", "a.b.c"}, {"refresh_token", "r"}, {"expires_at", kNow + 900}};
  ck_assert(round_trip<RefreshSuccessor>(pair).expires_at == kNow + 900);
  fields_are_typed<RefreshSuccessor>(pair, {"expires_at"});
  refuses_what_is_not_its_format<RefreshSuccessor>(pair);
}
END_TEST

TCase* records_tcase() {
  TCase* tc = tcase_create("records");
  tcase_add_test(tc, user_records_write_what_the_services_wrote);
  tcase_add_test(tc, user_records_take_older_shapes_and_refuse_wrong_types);
  tcase_add_test(tc, session_meta_writes_what_the_services_wrote);
  tcase_add_test(tc, pending_logins_links_and_lockouts_write_what_the_services_wrote);
  tcase_add_test(tc, audit_oauth_and_successor_records_write_what_the_services_wrote);
  return tc;
}
