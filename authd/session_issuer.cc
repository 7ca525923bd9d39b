#include "authd/session_issuer.h"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

#include "authd/crypto.h"
#include "authd/records/audit.h"
#include "authd/records/mfa_pending.h"
#include "authd/refresh_rotation.h"
#include "authd/server.h"
#include "core/jws.h"
#include "core/utf8.h"

namespace spa::authd {
namespace {

using json = nlohmann::json;
using core::SessionRecord;
using core::SessionState;

std::array<uint8_t, 16> id_bytes(const std::string& hex_id) {
  std::array<uint8_t, 16> out{};
  for (size_t i = 0; i < out.size() && 2 * i + 1 < hex_id.size(); ++i)
    out[i] = static_cast<uint8_t>(std::stoi(hex_id.substr(2 * i, 2), nullptr, 16));
  return out;
}

}  // namespace

SessionIssuer::SessionIssuer(const Config& config, Store& store, SigningKeys& keys, const PasswordHasher& hasher,
                             Clock clock, std::string mfa_key)
    : config_(config),
      store_(store),
      signing_keys_(keys),
      hasher_(hasher),
      clock_(std::move(clock)),
      mfa_key_(std::move(mfa_key)),
      outbox_(config.mail_limits) {}

// --- keys and tokens

SessionIssuer::KeyView SessionIssuer::keys(int64_t now) {
  std::lock_guard<std::mutex> lock(keys_mu_);
  // `spa-authd keys rotate` runs as another process: look at its schedule
  // at most once a second.
  if (!verify_set_ || now != keys_checked_at_) {
    std::string err;
    // Once per failure, not once a second while it lasts.
    if (!signing_keys_.reload_if_changed(now, err)) {
      if (err != keys_error_) log_event("error", "keys_reload_failed", {{"reason", err}});
      keys_error_ = err;
    } else if (!keys_error_.empty()) {
      log_event("info", "keys_recovered", {});
      keys_error_.clear();
    }
    auto set = std::make_shared<core::Jwks>();
    for (const auto& k : signing_keys_.keys()) set->add(k);
    verify_set_ = std::move(set);
    keys_checked_at_ = now;
  }
  return {signing_keys_.signing_key(now), verify_set_};
}

std::string SessionIssuer::access_token(const UserRecord& user, const std::string& sid, const SessionRecord& session,
                                        const SessionMetaRecord& meta, int64_t now, const KeyView& k) const {
  std::vector<std::string> amr = meta.amr.value_or(std::vector<std::string>{"pwd"});
  bool second_factor = std::find(amr.begin(), amr.end(), "otp") != amr.end();
  // Never before the session's floor (a role change in this very second
  // refuses tokens issued before it; this one must pass).
  int64_t iat = std::max(now, session.tokens_not_before);
  json claims = {{"iss", config_.issuer},
                 {"aud", config_.audience},
                 {"sub", user.id},
                 {"sid", sid},
                 {"jti", random_hex_id()},
                 {"iat", iat},
                 {"nbf", iat},
                 {"exp", iat + config_.access_ttl},
                 {"auth_time", meta.auth_time.value_or(session.created_at)},
                 {"email", user.email},
                 {"email_verified", user.verified()},
                 {"username", user.username},
                 {"role", user.role},
                 {"amr", amr},
                 {"mfa", second_factor}};
  auto token = core::make_compact_jws({{"typ", "at+jwt"}}, claims.dump(), config_.algorithm, *k.signer);
  if (!token) throw std::runtime_error("signing failed");
  return *token;
}

// --- sessions

bool SessionIssuer::start_session(Store::Txn& t, const UserRecord& user, const ClientInfo& client, int64_t now,
                                  IssuedTokens& out, std::string& sid, const std::vector<std::string>& amr) {
  KeyView k = keys(now);
  sid = random_hex_id();
  const std::string& uid = user.id;
  SessionRecord rec;
  rec.created_at = now;
  rec.expires_at = now + config_.refresh_ttl;
  rec.user_id = id_bytes(uid);
  // How the session was authenticated; refreshed tokens keep saying so.
  SessionMetaRecord meta;
  meta.created_at = now;
  meta.last_used_at = now;
  meta.ip = core::utf8_clip(client.ip, ClientInfo::kMaxIpBytes);
  meta.user_agent = core::utf8_clip(client.user_agent, ClientInfo::kMaxUserAgentBytes);
  meta.amr = amr;
  meta.auth_time = now;
  out.refresh_token = random_token();
  out.access_token = access_token(user, sid, rec, meta, now, k);
  out.expires_in = config_.access_ttl;
  RefreshRecord r;
  r.sid = sid;
  r.user_id = uid;
  r.issued_at = now;
  r.expires_at = now + config_.refresh_ttl;
  return t.put(Db::kSessions, sid, rec.encode()) && t.put_record(Db::kSessionMeta, sid, meta) &&
         t.put(Db::kUserSessions, uid + ":" + sid, "") && t.put_record(Db::kRefresh, sha256(out.refresh_token), r) &&
         t.put(Db::kSessionRefresh, sid + sha256(out.refresh_token), "");
}

bool SessionIssuer::end_session(Store::Txn& t, const std::string& sid, int64_t now, SessionState state) {
  auto rec = load_session(t, sid);
  if (!rec) return true;
  if (rec->state != SessionState::kActive) {
    // Ended already (a logout retried after a 503, or made on another
    // node): answered once this node's nginx refuses it too.
    t.await_mirror();
    return true;
  }
  rec->state = state;
  rec->revoked_at = now;
  return t.put(Db::kSessions, sid, rec->encode());
}

std::vector<std::string> SessionIssuer::session_ids(const Store::Txn& t, const std::string& user_id) {
  std::vector<std::string> sids;
  t.scan(Db::kUserSessions, user_id + ":", [&](std::string_view key, std::string_view) {
    sids.emplace_back(key.substr(user_id.size() + 1));
    return true;
  });
  return sids;
}

bool SessionIssuer::end_all_sessions(Store::Txn& t, const std::string& user_id, int64_t now, SessionState state) {
  for (const auto& sid : session_ids(t, user_id))
    if (!end_session(t, sid, now, state)) return false;
  return true;
}

bool SessionIssuer::floor_all_sessions(Store::Txn& t, const std::string& user_id, int64_t now) {
  for (const auto& sid : session_ids(t, user_id)) {
    auto rec = load_session(t, sid);
    if (!rec) continue;
    if (rec->state != SessionState::kActive) {
      t.await_mirror();  // (ended meanwhile, perhaps on another node: as end_session)
      continue;
    }
    // iat is in whole seconds: a token of this very second may predate
    // the change, so the floor is the next second; new tokens start there.
    // Strictly later than any earlier floor: tokens minted after an
    // earlier change in this same second carry iat = that floor.
    // Capped a few seconds ahead, so that a burst of changes cannot push
    // new tokens past the module's leeway (nbf) or beyond their lifetime.
    rec->tokens_not_before = std::min(std::max(rec->tokens_not_before + 1, now + 1), now + kMaxFloorAhead);
    if (!t.put(Db::kSessions, sid, rec->encode())) return false;
  }
  return true;
}

// --- the second-factor gate

bool SessionIssuer::open_second_factor_gate(Store::Txn& t, const UserRecord& u,
                                            const std::vector<std::string>& first_factor, const ClientInfo& client,
                                            int64_t now, Outcome& result, std::string& code, std::string& to) {
  const std::string& id = u.id;
  std::string token = random_token();
  bool by_mail = u.mfa && u.mfa->email_method();
  int64_t ttl = by_mail ? FactorCodes::kEmailCodeTtl : kMfaTokenTtl;
  MfaPendingRecord pending;
  pending.user = id;
  pending.expires_at = now + ttl;
  pending.amr = first_factor;
  pending.epoch = u.epoch();
  // Over the code limit, or to an unproven address, no code is mailed, but
  // the login still waits for a backup code: whoever keeps the bucket empty
  // (knowing the password) cannot lock the owner out. `code_sent` says which.
  int64_t wait = 0;
  bool code_sent = false;
  if (by_mail && !u.verified()) {
    // Codes go to proven addresses only: no code (backup codes still work).
    outbox_.count_drop(MailClass::kCode, "unverified");
  } else if (by_mail && outbox_.room(MailClass::kCode, u.email, id, wait)) {
    code_sent = true;
    std::string hash;
    code = codes_.new_email_code(id, hash);  // bound to this login's mfa_token
    pending.email_code = hash;
    to = u.email;
  }
  result = Outcome();
  result.data = {{"mfa_required", true}, {"mfa_token", token}, {"expires_in", ttl}, {"method", by_mail ? "email" : "totp"}};
  if (by_mail) result.data["code_sent"] = code_sent;
  audit(t, "login_second_factor_pending", u, client, now);
  return put_user_record(t, Db::kMfaPending, sha256(token), id, pending.to_json());
}

bool SessionIssuer::finish_first_factor(Store::Txn& t, UserRecord& u, const std::vector<std::string>& amr,
                                        const char* event, const ClientInfo& client, int64_t now, Outcome& result,
                                        std::string& code, std::string& to) {
  // With MFA on, the session waits for the second factor, and the lockout
  // counters reset only when both are through.
  if (u.mfa_enabled()) return open_second_factor_gate(t, u, amr, client, now, result, code, to) && save_user(t, u);
  if (!clear_failures(t, u.email)) return false;
  IssuedTokens tokens;
  std::string sid;
  if (!start_session(t, u, client, now, tokens, sid, amr)) return false;
  audit(t, event, u, client, now);
  result.tokens = tokens;
  result.data = {{"user", u.public_view()}, {"session_id", sid}};
  return save_user(t, u);
}

void SessionIssuer::mail_code(const std::string& address, const std::string& code) {
  outbox_.deliver(MailClass::kCode, address, "Your sign-in code",
                  "Your code is " + code + ". It is valid for 10 minutes and can be used once.\n\n"
                  "If you did not ask for it, someone may know your password: change it.\n");
}

std::optional<UserRecord> SessionIssuer::current_account(const Principal& who, Outcome& result) const {
  std::optional<UserRecord> user;
  if (Error e = store_.view([&](const Store::Txn& t) { user = load_user(t, who.user_id); }); !e.ok())
    return result = store_failure(e), std::nullopt;
  if (!user)
    result = Outcome::error(Errc::kInvalidToken, "account no longer exists");
  return user;
}

// --- recent authentication

std::optional<Outcome> SessionIssuer::require_recent_auth(const Principal& who) const {
  if (who.auth_time > 0 && who.auth_time >= clock_() - kRecentAuth) return std::nullopt;
  Outcome o = Outcome::error(Errc::kReauthenticationRequired,
                             "confirm it is you (POST /api/v1/auth/reauthenticate), then try again within 10 minutes");
  o.max_age = kRecentAuth;
  return o;
}

// --- credentials

bool SessionIssuer::new_credentials(Store::Txn& t, UserRecord& u) {
  u.credential_epoch = u.epoch() + 1;
  return delete_user_records(t, Db::kMfaPending, u.id) && delete_user_records(t, Db::kResetTokens, u.id);
}

bool SessionIssuer::claim_unverified_account(Store::Txn& t, UserRecord& u, const ClientInfo& client, int64_t now) {
  for (const auto& i : u.identities.value_or(std::vector<UserRecord::Identity>{}))
    if (!t.del(Db::kIdentities, i.key())) return false;
  for (const auto& table : kUserTables)
    if (!delete_user_records(t, table.db, u.id)) return false;
  if (!end_all_sessions(t, u.id, now, SessionState::kRevoked) || !new_credentials(t, u)) return false;
  u.password = "";
  u.identities.emplace();  // an empty list, as the services wrote it
  u.mfa.reset();
  u.email_verified = true;
  u.email_verified_at = now;
  u.updated_at = now;
  audit(t, "unverified_account_claimed", u, client, now);
  return clear_failures(t, u.email);
}

std::optional<bool> SessionIssuer::password_matches(const UserRecord* user, const std::string& password) const {
  std::string phc = user ? user->password : std::string();
  if (phc.empty()) {
    if (!hasher_.verify_dummy(password)) return std::nullopt;
    return false;
  }
  return hasher_.verify(phc, password);
}

Outcome SessionIssuer::check_password(const UserRecord& user, const std::string& password, const ClientInfo& client) {
  auto good = password_matches(&user, password);
  if (!good) return server_busy();
  int64_t now = clock_();
  Outcome result;
  Error e = store_.transact([&](Store::Txn& t) {
    if (auto locked = locked_out(t, user.email, now)) {
      result = *locked;
      return TxnEnd::kAbort;
    }
    if (*good) return TxnEnd::kAbort;  // nothing to write
    result = record_failure(t, user.email, &user, client, now, Errc::kInvalidCredentials, "password is wrong");
    return TxnEnd::kCommit;  // the count
  });
  return e.ok() ? result : store_failure(e);
}

// --- audit

void SessionIssuer::audit(Store::Txn& t, const std::string& event, const UserRecord& user, const ClientInfo& client,
                          int64_t now) {
  char key[16];
  uint64_t ns = static_cast<uint64_t>(now) * 1000000000ull + (audit_seq_++ % 1000000000ull);
  for (int i = 0; i < 8; ++i) key[i] = static_cast<char>((ns >> (56 - 8 * i)) & 0xff);
  std::string rnd = random_bytes(8);
  std::copy(rnd.begin(), rnd.end(), key + 8);
  AuditRecord e;
  e.ts = now;
  e.event = event;
  e.subject = user.audit_id;  // "" for none, as always written
  e.request_id = client.request_id;
  if (t.over_limit()) {
    // A revocation in a full store: it must not grow the store, so the
    // event goes to the log (journald) instead of the audit database.
    log_event("warn", "audit_not_stored", {{"audit_event", event}, {"request_id", client.request_id}});
    return;
  }
  t.put_record(Db::kAudit, std::string_view(key, sizeof key), e);
  if (!user.audit_id.empty()) t.put(Db::kUserAudit, user.audit_id + std::string(key, sizeof key), "");
}

}  // namespace spa::authd
