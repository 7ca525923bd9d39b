#include "authd/auth_service.h"

#include "authd/crypto.h"
#include "authd/mailer.h"
#include "authd/refresh_rotation.h"
#include "authd/server.h"
#include "core/base64url.h"
#include "core/claims.h"
#include "core/json_strict.h"
#include "core/jws.h"
#include "core/session_record.h"
#include "core/utf8.h"
#include "core/verifier.h"

namespace spa::authd {
namespace {

using json = nlohmann::json;
using core::SessionRecord;
using core::SessionState;

constexpr const char* kSuccessorInfo = "spa-auth refresh successor v1";

std::optional<std::string> user_id_for_email(const Store::Txn& t, const std::string& email) {
  return t.get(Db::kUsersByEmail, fold(email));
}

std::array<uint8_t, 16> id_bytes(const std::string& hex_id) {
  std::array<uint8_t, 16> out{};
  for (size_t i = 0; i < out.size() && 2 * i + 1 < hex_id.size(); ++i)
    out[i] = static_cast<uint8_t>(std::stoi(hex_id.substr(2 * i, 2), nullptr, 16));
  return out;
}


}  // namespace

Outcome Outcome::error(int status, std::string code, std::string message, int64_t retry_after) {
  Outcome o;
  o.status = status;
  o.code = std::move(code);
  o.message = std::move(message);
  o.retry_after = retry_after;
  return o;
}

json public_user(const json& u) {
  json providers = json::array();
  if (auto it = u.find("identities"); it != u.end() && it->is_array())
    for (const auto& i : *it) providers.push_back(i.value("provider", ""));
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

int64_t credential_epoch(const json& u) { return u.value("credential_epoch", int64_t{0}); }

json first_factors(const json& amr) {
  json first = json::array();
  if (amr.is_array())
    for (const auto& m : amr)
      if (m != "otp" && m != "mfa") first.push_back(m);
  if (first.empty()) first.push_back("pwd");
  return first;
}

bool AuthService::new_credentials(Store::Txn& t, json& u) {
  std::string id = u.value("id", "");
  u["credential_epoch"] = credential_epoch(u) + 1;
  return delete_user_records(t, Db::kMfaPending, id) && delete_user_records(t, Db::kResetTokens, id);
}

AuthService::AuthService(const Config& config, Store& store, SigningKeys& keys, const PasswordHasher& hasher,
                         Clock clock, std::string mfa_key)
    : config_(config),
      store_(store),
      signing_keys_(keys),
      hasher_(hasher),
      clock_(std::move(clock)),
      mfa_key_(std::move(mfa_key)),
      mail_quota_(config.mail_limits) {}

bool AuthService::mail_room(MailClass cls, const std::string& address, const std::string& account, int64_t now,
                            int64_t& retry_after) const {
  auto d = mail_quota_.take(cls, inbox_of(address), account, now * 1000000);
  if (d.allowed) return true;
  retry_after = d.retry_after;
  mail_quota_.count_drop(cls, d.reason);
  // Neither the address nor the account: a reason and a class.
  log_event("warn", "mail_limited", {{"class", mail_class_name(cls)}, {"reason", d.reason}});
  return false;
}

void AuthService::deliver(MailClass cls, const std::string& to, const std::string& subject,
                          const std::string& body) const {
  if (!mailer_) return;
  if (mailer_->send(to, subject, body, cls)) return mail_quota_.count_sent(cls);
  mail_quota_.count_drop(cls, "queue_full");
  log_event("warn", "mail_dropped", {{"class", mail_class_name(cls)}, {"reason", "queue_full"}});
}

Outcome AuthService::server_busy() {
  return Outcome::error(503, "server_busy", "too many sign-ins at once; try again in a moment",
                        PasswordHasher::kRetryAfter);
}

Outcome AuthService::store_failure(const std::string& err) {
  // Logged by the store, once per episode.
  if (err == Store::kFullError) return Outcome::error(503, "store_full", "the service cannot store more data right now; try again later");
  if (err == Store::kReplacedError) return Outcome::error(503, "store_unavailable", "the store is being replaced; try again later");
  log_event("error", "store_failed", {{"reason", err}});
  return Outcome::error(500, "internal_error", "internal error");
}

AuthService::KeyView AuthService::keys(int64_t now) {
  std::lock_guard<std::mutex> lock(keys_mu_);
  // `spa-authd keys rotate` runs as another process: look at its schedule
  // at most once a second.
  if (!verify_set_ || now != keys_checked_at_) {
    std::string err;
    if (!signing_keys_.reload_if_changed(now, err)) log_event("error", "keys_reload_failed", {{"reason", err}});
    auto set = std::make_shared<core::Jwks>();
    for (const auto& k : signing_keys_.keys()) set->add(k);
    verify_set_ = std::move(set);
    keys_checked_at_ = now;
  }
  return {signing_keys_.signing_key(now), verify_set_};
}

std::string AuthService::access_token(const json& user, const std::string& sid, const SessionRecord& session,
                                      const json& meta, int64_t now, KeyView& k) {
  json amr = meta.value("amr", json::array({"pwd"}));
  if (!amr.is_array()) amr = json::array({"pwd"});
  bool second_factor = std::find(amr.begin(), amr.end(), "otp") != amr.end();
  // Never before the session's floor (a role change in this very second
  // refuses tokens issued before it; this one must pass).
  int64_t iat = std::max(now, session.tokens_not_before);
  json claims = {{"iss", config_.issuer},
                 {"aud", config_.audience},
                 {"sub", user.value("id", "")},
                 {"sid", sid},
                 {"jti", random_hex_id()},
                 {"iat", iat},
                 {"nbf", iat},
                 {"exp", iat + config_.access_ttl},
                 {"auth_time", meta.value("auth_time", session.created_at)},
                 {"email", user.value("email", "")},
                 {"email_verified", user.value("email_verified", false)},
                 {"username", user.value("username", "")},
                 {"role", user.value("role", "user")},
                 {"amr", amr},
                 {"mfa", second_factor}};
  auto token = core::make_compact_jws({{"typ", "at+jwt"}}, claims.dump(), config_.algorithm, *k.signer);
  if (!token) throw std::runtime_error("signing failed");
  return *token;
}

void AuthService::audit(Store::Txn& t, const std::string& event, const json& user, const ClientInfo& client,
                        int64_t now) {
  // Audit events name the user only by an opaque id that erasure removes
  // from the user record, so after deletion the trail is anonymous.
  char key[16];
  uint64_t ns = static_cast<uint64_t>(now) * 1000000000ull + (audit_seq_++ % 1000000000ull);
  for (int i = 0; i < 8; ++i) key[i] = static_cast<char>((ns >> (56 - 8 * i)) & 0xff);
  std::string rnd = random_bytes(8);
  std::copy(rnd.begin(), rnd.end(), key + 8);
  json e = {{"ts", now}, {"event", event}, {"subject", user.value("audit_id", "")}, {"request_id", client.request_id}};
  if (t.over_limit()) {
    // A revocation in a full store: it must not grow the store, so the
    // event goes to the log (journald) instead of the audit database.
    log_event("warn", "audit_not_stored", {{"audit_event", event}, {"request_id", client.request_id}});
    return;
  }
  std::string subject = user.value("audit_id", "");
  t.put(Db::kAudit, std::string_view(key, sizeof key), e.dump());
  if (!subject.empty()) t.put(Db::kUserAudit, subject + std::string(key, sizeof key), "");
}

bool AuthService::start_session(Store::Txn& t, const json& user, const ClientInfo& client, int64_t now,
                                IssuedTokens& out, std::string& sid, const json& amr) {
  KeyView k = keys(now);
  sid = random_hex_id();
  std::string uid = user.value("id", "");
  SessionRecord rec;
  rec.created_at = now;
  rec.expires_at = now + config_.refresh_ttl;
  rec.user_id = id_bytes(uid);
  // How the session was authenticated; refreshed tokens keep saying so.
  json meta = {{"created_at", now}, {"last_used_at", now}, {"ip", core::utf8_clip(client.ip, ClientInfo::kMaxIpBytes)},
               {"user_agent", core::utf8_clip(client.user_agent, ClientInfo::kMaxUserAgentBytes)}, {"amr", amr}, {"auth_time", now}};
  out.refresh_token = random_token();
  out.access_token = access_token(user, sid, rec, meta, now, k);
  out.expires_in = config_.access_ttl;
  RefreshRecord r;
  r.sid = sid;
  r.user_id = uid;
  r.issued_at = now;
  r.expires_at = now + config_.refresh_ttl;
  return t.put(Db::kSessions, sid, rec.encode()) && t.put(Db::kSessionMeta, sid, meta.dump()) &&
         t.put(Db::kUserSessions, uid + ":" + sid, "") && t.put(Db::kRefresh, sha256(out.refresh_token), r.to_json()) &&
         t.put(Db::kSessionRefresh, sid + sha256(out.refresh_token), "");
}

bool AuthService::needs_second_factor(const json& u) const {
  return u.contains("mfa") && u["mfa"].value("enabled", false);
}

bool AuthService::open_second_factor_gate(Store::Txn& t, const json& u, const json& first_factor,
                                          const ClientInfo& client, int64_t now, Outcome& result, std::string& code,
                                          std::string& to) {
  std::string id = u.value("id", "");
  std::string token = random_token();
  bool by_mail = u["mfa"].value("method", "totp") == "email";
  int64_t ttl = by_mail ? kEmailCodeTtl : kMfaTokenTtl;
  json pending = {{"user", id},
                  {"expires_at", now + ttl},
                  {"attempts", 0},
                  {"amr", first_factor},
                  {"epoch", credential_epoch(u)}};
  // Over the code limit, or to an unproven address, no code is mailed, but
  // the login still waits for a backup code: whoever keeps the bucket empty
  // (knowing the password) cannot lock the owner out. `code_sent` says which.
  int64_t wait = 0;
  bool code_sent = false;
  if (by_mail && !u.value("email_verified", false)) {
    // Codes go to proven addresses only: no code (backup codes still work).
    mail_quota_.count_drop(MailClass::kCode, "unverified");
  } else if (by_mail && mail_room(MailClass::kCode, u.value("email", ""), id, now, wait)) {
    code_sent = true;
    std::string hash;
    code = new_email_code(id, hash);  // bound to this login's mfa_token
    pending["email_code"] = hash;
    to = u.value("email", "");
  }
  result = Outcome();
  result.data = {{"mfa_required", true}, {"mfa_token", token}, {"expires_in", ttl}, {"method", by_mail ? "email" : "totp"}};
  if (by_mail) result.data["code_sent"] = code_sent;
  audit(t, "login_second_factor_pending", u, client, now);
  return put_user_record(t, Db::kMfaPending, sha256(token), id, pending.dump());
}

bool AuthService::finish_first_factor(Store::Txn& t, json& u, const json& amr, const char* event,
                                      const ClientInfo& client, int64_t now, Outcome& result, std::string& code,
                                      std::string& to) {
  std::string id = u.value("id", "");
  // With MFA on, the session waits for the second factor, and the lockout
  // counters reset only when both are through.
  if (needs_second_factor(u))
    return open_second_factor_gate(t, u, amr, client, now, result, code, to) && t.put(Db::kUsers, id, u.dump());
  if (!clear_failures(t, u.value("email", ""))) return false;
  IssuedTokens tokens;
  std::string sid;
  if (!start_session(t, u, client, now, tokens, sid, amr)) return false;
  audit(t, event, u, client, now);
  result.tokens = tokens;
  result.data = {{"user", public_user(u)}, {"session_id", sid}};
  return t.put(Db::kUsers, id, u.dump());
}

bool AuthService::end_session(Store::Txn& t, const std::string& sid, int64_t now, SessionState state) {
  auto rec = load_session(t, sid);
  if (!rec || rec->state != SessionState::kActive) return true;
  rec->state = state;
  rec->revoked_at = now;
  return t.put(Db::kSessions, sid, rec->encode());
}

Outcome AuthService::signup(const std::string& email, const std::string& username, const std::string& password,
                            const ClientInfo& client) {
  if (!valid_email(email)) return Outcome::error(400, "validation_failed", "email is not a valid address");
  if (!valid_username(username))
    return Outcome::error(400, "validation_failed", "username must be 3 to 32 letters, digits, '_', '.' or '-'");
  if (auto problem = password_problem(password, email, username))
    return Outcome::error(400, "validation_failed", *problem);
  auto phc = hasher_.hash(password);  // slow on purpose; outside the write lock
  if (!phc) return server_busy();
  int64_t now = clock_();
  json user = {{"id", random_hex_id()},   {"email", email},        {"username", username},
               {"password", *phc},         {"role", "user"},        {"disabled", false},
               {"created_at", now},       {"updated_at", now},     {"email_verified", false},
               {"audit_id", random_hex_id()}};
  // Made under require_verified_email: erased if never confirmed (accounts
  // from before, or from the relaxed mode, carry no such date and stay).
  if (config_.require_verified_email) user["unverified_erase_at"] = now + kUnverifiedTtl;
  // A taken address answers exactly as a new one (no account oracle); its
  // owner gets a mail instead of the verification link.
  Outcome result;
  result.status = 201;
  result.data = {{"user", public_user(user)}, {"verification", "sent"}};
  std::string link, owner_address, owner_id;
  std::string err;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        if (t.get(Db::kUsersByName, fold(username))) {
          result = Outcome::error(409, "username_taken", "this username is taken");
          return false;
        }
        if (auto id = t.get(Db::kUsersByEmail, fold(email))) {
          auto owner = load_json(t, Db::kUsers, *id);
          if (!owner) return false;
          owner_address = owner->value("email", "");
          owner_id = *id;
          audit(t, "signup_with_existing_email", *owner, client, now);
          return true;
        }
        audit(t, "signup", user, client, now);
        link = new_verify_link(t, user, now);
        return !link.empty() && t.put(Db::kUsers, user["id"].get<std::string>(), user.dump()) &&
               t.put(Db::kUsersByEmail, fold(email), user["id"].get<std::string>()) &&
               t.put(Db::kUsersByName, fold(username), user["id"].get<std::string>());
      },
      err);
  if (!ok && !err.empty()) return store_failure(err);
  if (!ok) return result.ok() ? store_failure("user index points nowhere") : result;
  int64_t wait = 0;
  if (!link.empty()) {
    if (mail_room(MailClass::kLink, email, user["id"], now, wait)) mail_verify_link(email, link);
  } else if (mail_room(MailClass::kNotice, owner_address, owner_id, now, wait)) {
    deliver(MailClass::kNotice, owner_address, "Someone tried to sign up with your address",
            "Someone tried to create an account with this e-mail address, which already has one.\n\n"
            "If it was you, sign in, or reset your password if you have forgotten it.\n"
            "If it was not you, you need not do anything: your account is unchanged.\n");
  }
  return result;
}

Outcome AuthService::login(const std::string& email, const std::string& password, const ClientInfo& client) {
  std::optional<json> user;
  std::string err;
  if (!store_.read(
          [&](const Store::Txn& t) {
            if (auto id = user_id_for_email(t, email)) user = load_json(t, Db::kUsers, *id);
          },
          err))
    return store_failure(err);
  // An unknown address, and an account made by an OAuth provider (no
  // password until one is set), cost the time of a wrong password.
  auto good = password_matches(user ? &*user : nullptr, password);
  if (!good) return server_busy();  // known and unknown addresses alike: nothing evaluated, nothing counted
  int64_t now = clock_();
  Outcome result;
  std::string mailed_code, mail_to;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        // Known and unknown addresses take the same path through the
        // lockout, so neither the answer nor its headers tell them apart.
        if (auto locked = locked_out(t, email, now)) {
          result = *locked;
          return false;
        }
        // Re-read inside the write: the account may have changed meanwhile.
        auto fresh = user ? load_json(t, Db::kUsers, user->value("id", "")) : std::nullopt;
        // A password reset (or change, disable, erasure) that committed
        // after the check: the password checked is not the account's now.
        if (fresh && credential_epoch(*fresh) != credential_epoch(*user)) good = false;
        if (!fresh || !*good) {
          result = record_failure(t, email, fresh ? &*fresh : nullptr, client, now, "invalid_credentials",
                                  "e-mail or password is wrong");
          return true;  // commit the count, answer with the error
        }
        json& u = *fresh;
        if (u.value("disabled", false)) {
          result = Outcome::error(403, "account_disabled", "this account is disabled");
          return false;
        }
        if (config_.require_verified_email && !u.value("email_verified", false)) {
          result = Outcome::error(403, "email_not_verified",
                                  "confirm your e-mail address with the link we sent; "
                                  "POST /api/v1/auth/verify-email/request sends a new one");
          return false;
        }
        return finish_first_factor(t, u, json::array({"pwd"}), "login", client, now, result, mailed_code, mail_to);
      },
      err);
  if (!ok && !err.empty()) return store_failure(err);
  if (ok && !mailed_code.empty()) mail_code(mail_to, mailed_code);
  return result;
}

Outcome AuthService::refresh(const std::string& token, const ClientInfo& client) {
  if (token.empty() || token.size() > 128) return Outcome::error(401, "invalid_token", "refresh token is not valid");
  int64_t now = clock_();
  std::string hash = sha256(token);
  Outcome result;
  std::string err;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        auto text = t.get(Db::kRefresh, hash);
        auto record = text ? RefreshRecord::from_json(*text) : std::nullopt;
        auto session = record ? load_session(t, record->sid) : std::nullopt;
        auto user = record ? load_json(t, Db::kUsers, record->user_id) : std::nullopt;
        bool active = session && session->valid_at(now) && user && !user->value("disabled", false);
        RefreshDecision d = decide_refresh(record ? &*record : nullptr, active, now, config_.refresh_grace);
        std::string key = hkdf_sha256(token, kSuccessorInfo);
        switch (d) {
          case RefreshDecision::kUnknown:
          case RefreshDecision::kExpired:
          case RefreshDecision::kSessionEnded:
            result = Outcome::error(401, "invalid_token", "refresh token is not valid");
            result.end_session = true;
            return false;
          case RefreshDecision::kReuse: {
            // A used token came back after the grace window: someone else
            // has it. End the whole family (the session).
            result = Outcome::error(401, "invalid_token", "refresh token was already used; the session is ended");
            result.end_session = true;
            if (user) audit(t, "refresh_reuse", *user, client, now);
            log_event("warn", "refresh_reuse", {{"request_id", client.request_id}});
            return end_session(t, record->sid, now);
          }
          case RefreshDecision::kSameSuccessor: {
            std::string box;
            auto pair = core::base64url_decode(record->successor_box, box) ? open_sealed(key, box, hash) : std::nullopt;
            json j;
            std::string e;
            if (!pair || !core::parse_json_strict(*pair, j, e)) {
              result = Outcome::error(401, "invalid_token", "refresh token is not valid");
              return false;
            }
            result.tokens = IssuedTokens{j.value("access_token", ""), j.value("refresh_token", ""),
                                         j.value("expires_at", now) - now};
            // The session was floored (a role change) since that access
            // token was made: the module would refuse it, so the parallel
            // tab gets a fresh one with the same successor refresh token.
            if (j.value("expires_at", int64_t{0}) - config_.access_ttl < session->tokens_not_before) {
              KeyView k = keys(now);
              auto meta = load_json(t, Db::kSessionMeta, record->sid).value_or(json::object());
              result.tokens->access_token = access_token(*user, record->sid, *session, meta, now, k);
              result.tokens->expires_in = config_.access_ttl;
            }
            result.data = {{"user", public_user(*user)}};
            return false;  // nothing to change
          }
          case RefreshDecision::kRotate: {
            // A rotation grows the store; reuse detection above must not
            // be refused, so this write runs as a revocation and only
            // the rotation waits for room.
            if (t.over_limit()) return t.refuse_full();
            KeyView k = keys(now);
            IssuedTokens next;
            next.refresh_token = random_token();
            auto meta = load_json(t, Db::kSessionMeta, record->sid).value_or(json::object());
            next.access_token = access_token(*user, record->sid, *session, meta, now, k);
            next.expires_in = config_.access_ttl;
            json pair = {{"access_token", next.access_token}, {"refresh_token", next.refresh_token},
                         {"expires_at", now + config_.access_ttl}};
            RefreshRecord successor;
            successor.sid = record->sid;
            successor.user_id = record->user_id;
            successor.issued_at = now;
            successor.expires_at = now + config_.refresh_ttl;
            successor.parent = hex(hash);
            record->rotated_at = now;
            record->successor = hex(sha256(next.refresh_token));
            record->successor_box = core::base64url_encode(seal(key, pair.dump(), hash));
            session->expires_at = now + config_.refresh_ttl;  // the family lives as long as its newest token
            meta["last_used_at"] = now;
            result.tokens = next;
            result.data = {{"user", public_user(*user)}};
            return t.put(Db::kRefresh, hash, record->to_json()) &&
                   t.put(Db::kRefresh, sha256(next.refresh_token), successor.to_json()) &&
                   t.put(Db::kSessionRefresh, record->sid + sha256(next.refresh_token), "") &&
                   t.put(Db::kSessions, record->sid, session->encode()) &&
                   t.put(Db::kSessionMeta, record->sid, meta.dump());
          }
        }
        return false;
      },
      err, Store::WriteKind::kRevocation);
  if (!ok && !err.empty()) return store_failure(err);
  return result;
}

Outcome AuthService::logout(const std::optional<Principal>& who, const std::string& refresh_token,
                            const ClientInfo& client) {
  int64_t now = clock_();
  std::string err;
  bool found = false;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        std::string sid, user_id;
        if (who) {
          sid = who->sid;
          user_id = who->user_id;
        } else if (!refresh_token.empty()) {
          auto text = t.get(Db::kRefresh, sha256(refresh_token));
          auto record = text ? RefreshRecord::from_json(*text) : std::nullopt;
          if (record) sid = record->sid, user_id = record->user_id;
        }
        if (sid.empty()) return false;
        found = true;
        if (auto user = load_json(t, Db::kUsers, user_id)) audit(t, "logout", *user, client, now);
        return end_session(t, sid, now);
      },
      err, Store::WriteKind::kRevocation);
  if (!ok && !err.empty()) return store_failure(err);
  if (!found) return Outcome::error(401, "invalid_token", "no session to end");
  Outcome o;
  o.end_session = true;
  o.data = {{"logged_out", true}};
  return o;
}

std::optional<Principal> AuthService::authenticate(std::string_view token, std::string& why) {
  int64_t now = clock_();
  KeyView k = keys(now);
  core::KeySource source{k.verify.get(), nullptr};
  core::AlgSet allowed;
  allowed.add(config_.algorithm);
  for (const auto& key : k.verify->keys())
    for (core::Alg a : {core::Alg::kEdDSA, core::Alg::kES256, core::Alg::kRS256})
      if (key->usable_for(a)) allowed.add(a);
  core::VerifiedTokenPtr verified;
  core::Status s = core::verify_access_token(token, source, allowed, verified, why);
  if (s == core::Status::kOk) {
    core::ClaimPolicy policy;
    policy.issuer = config_.issuer;
    policy.audiences = {config_.audience};
    s = core::check_claims(verified->claims, policy, now, why);
  }
  if (s != core::Status::kOk) {
    why = std::string(core::status_name(s));
    return std::nullopt;
  }
  const json& auth_time = verified->claims.payload["auth_time"];
  Principal p{verified->claims.sub, verified->claims.sid,
              auth_time.is_number_integer() ? auth_time.get<int64_t>() : 0, verified->claims.second_factor};
  bool active = false;
  std::string err;
  store_.read([&](const Store::Txn& t) {
    auto rec = load_session(t, p.sid);
    active = rec && rec->accepts(now, verified->claims.iat);
  }, err);
  if (!active) {
    why = "revoked";
    return std::nullopt;
  }
  return p;
}

Outcome AuthService::me(const Principal& who) {
  std::optional<json> user;
  std::string err;
  if (!store_.read([&](const Store::Txn& t) { user = load_json(t, Db::kUsers, who.user_id); }, err))
    return store_failure(err);
  if (!user) return Outcome::error(401, "invalid_token", "account no longer exists");
  Outcome o;
  o.data = {{"user", public_user(*user)}, {"session_id", who.sid}};
  return o;
}

Outcome AuthService::list_sessions(const Principal& who) {
  int64_t now = clock_();
  json list = json::array();
  std::string err;
  bool ok = store_.read(
      [&](const Store::Txn& t) {
        t.scan(Db::kUserSessions, who.user_id + ":", [&](std::string_view key, std::string_view) {
          std::string sid(key.substr(who.user_id.size() + 1));
          auto rec = load_session(t, sid);
          if (!rec || !rec->valid_at(now)) return true;
          auto meta = load_json(t, Db::kSessionMeta, sid).value_or(json::object());
          list.push_back({{"id", sid},
                          {"current", sid == who.sid},
                          {"created_at", rec->created_at},
                          {"expires_at", rec->expires_at},
                          {"last_used_at", meta.value("last_used_at", rec->created_at)},
                          {"ip", meta.value("ip", "")},
                          {"user_agent", meta.value("user_agent", "")}});
          return true;
        });
      },
      err);
  if (!ok) return store_failure(err);
  Outcome o;
  o.data = {{"sessions", list}};
  return o;
}

Outcome AuthService::revoke_session(const Principal& who, const std::string& sid, const ClientInfo& client) {
  int64_t now = clock_();
  bool owned = false;
  std::string err;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        owned = t.get(Db::kUserSessions, who.user_id + ":" + sid).has_value();
        if (!owned) return false;
        auto user = load_json(t, Db::kUsers, who.user_id).value_or(json::object());
        audit(t, "session_revoked", user, client, now);
        return end_session(t, sid, now);
      },
      err, Store::WriteKind::kRevocation);
  if (!ok && !err.empty()) return store_failure(err);
  if (!owned) return Outcome::error(404, "not_found", "no such session");
  Outcome o;
  o.end_session = sid == who.sid;
  o.data = {{"revoked", sid}};
  return o;
}

bool AuthService::end_all_sessions(Store::Txn& t, const std::string& user_id, int64_t now, SessionState state) {
  std::vector<std::string> sids;
  t.scan(Db::kUserSessions, user_id + ":", [&](std::string_view key, std::string_view) {
    sids.emplace_back(key.substr(user_id.size() + 1));
    return true;
  });
  for (const auto& sid : sids)
    if (!end_session(t, sid, now, state)) return false;
  return true;
}

Outcome AuthService::export_data(const Principal& who) {
  // Addresses, devices and the audit trail: not for a stolen token alone.
  if (auto stale = require_recent_auth(who)) return *stale;
  json out;
  std::string err;
  bool found = false;
  bool ok = store_.read(
      [&](const Store::Txn& t) {
        auto user = load_json(t, Db::kUsers, who.user_id);
        if (!user) return;
        found = true;
        json account = public_user(*user);
        account["updated_at"] = user->value("updated_at", int64_t{0});
        auto lockout = load_json(t, Db::kLockouts, lockout_key(user->value("email", ""))).value_or(json::object());
        account["failed_logins"] = lockout.value("failures", 0);
        account["locked_until"] = lockout.value("locked_until", int64_t{0});
        account["password"] = user->value("password", "").empty()
                                  ? "not set"
                                  : "set (an Argon2id hash; the hash itself is not exported)";
        account["identities"] = user->value("identities", json::array());
        if (user->contains("mfa"))
          account["mfa"] = {{"totp", (*user)["mfa"].value("enabled", false)},
                            {"backup_codes_remaining", (*user)["mfa"].value("backup", json::array()).size()},
                            {"secret", "set (encrypted; not exported)"}};
        json sessions = json::array();
        t.scan(Db::kUserSessions, who.user_id + ":", [&](std::string_view key, std::string_view) {
          std::string sid(key.substr(who.user_id.size() + 1));
          auto rec = load_session(t, sid);
          json s = load_json(t, Db::kSessionMeta, sid).value_or(json::object());
          s["id"] = sid;
          if (rec) {
            s["state"] = rec->state == SessionState::kActive ? "active" : "ended";
            s["expires_at"] = rec->expires_at;
            s["revoked_at"] = rec->revoked_at;
          }
          sessions.push_back(s);
          return true;
        });
        // The user's own events, through user_audit: never a scan of everyone's.
        json events = json::array();
        std::string subject = user->value("audit_id", "");
        if (!subject.empty())
          t.scan(Db::kUserAudit, subject, [&](std::string_view k, std::string_view) {
            auto v = t.get(Db::kAudit, k.substr(subject.size()));
            json e;
            std::string e_err;
            if (v && core::parse_json_strict(*v, e, e_err) && e.is_object() && e.value("subject", "") == subject) {
              e.erase("subject");
              events.push_back(e);
            }
            return true;
          });
        out = {{"account", account}, {"sessions", sessions}, {"events", events}};
      },
      err);
  if (!ok) return store_failure(err);
  if (!found) return Outcome::error(401, "invalid_token", "account no longer exists");
  Outcome o;
  o.data = out;
  return o;
}

bool AuthService::erase_user(Store::Txn& t, const json& account, const ClientInfo& client, int64_t now) {
  const json* user = &account;
  std::string id = account.value("id", "");
  // Everything through the indexes: no scan of other users' records.
  std::vector<std::string> sids, refresh_index, audit_index;
  t.scan(Db::kUserSessions, id + ":", [&](std::string_view key, std::string_view) {
    sids.emplace_back(key.substr(id.size() + 1));
    return true;
  });
  for (const auto& sid : sids)
    t.scan(Db::kSessionRefresh, sid, [&](std::string_view key, std::string_view) {
      refresh_index.emplace_back(key);
      return true;
    });
  if (!clear_failures(t, user->value("email", ""))) return false;
  audit(t, "account_deleted", *user, client, now);
  std::string subject = user->value("audit_id", "");
  if (!subject.empty())
    t.scan(Db::kUserAudit, subject, [&](std::string_view key, std::string_view) {
      audit_index.emplace_back(key);
      return true;
    });
  bool done = true;
  for (const auto& u : kUserTables) done = done && delete_user_records(t, u.db, id);
  for (const auto& sid : sids)
    done = done && t.del(Db::kSessions, sid) && t.del(Db::kSessionMeta, sid) &&
           t.del(Db::kUserSessions, id + ":" + sid);
  for (const auto& k : refresh_index)
    done = done && t.del(Db::kRefresh, std::string_view(k).substr(32)) && t.del(Db::kSessionRefresh, k);
  // The events stay, anonymous: their subject goes, and the index that
  // tied them to the user.
  for (const auto& k : audit_index) {
    std::string key = std::string(k).substr(subject.size());
    if (auto event = load_json(t, Db::kAudit, key)) {
      event->erase("subject");
      done = done && t.put(Db::kAudit, key, event->dump());
    }
    done = done && t.del(Db::kUserAudit, k);
  }
  for (const auto& i : user->value("identities", json::array()))
    done = done && t.del(Db::kIdentities, i.value("provider", "") + ":" + i.value("subject", ""));
  return done && t.del(Db::kUsersByEmail, fold(user->value("email", ""))) &&
         t.del(Db::kUsersByName, fold(user->value("username", ""))) && t.del(Db::kUsers, id);
}

Outcome AuthService::delete_account(const Principal& who, const std::string& password, const ClientInfo& client) {
  std::optional<json> user;
  std::string err;
  if (!store_.read([&](const Store::Txn& t) { user = load_json(t, Db::kUsers, who.user_id); }, err))
    return store_failure(err);
  if (!user) return Outcome::error(401, "invalid_token", "account no longer exists");
  int64_t now = clock_();
  // Irreversible: a recent authentication, or the password right here
  // (checked like a login: locked out means not evaluated, wrong counts).
  if (!password.empty()) {
    Outcome checked = check_password(*user, password, client);
    if (!checked.ok()) return checked;
  } else if (auto stale = require_recent_auth(who)) {
    return *stale;
  }
  Outcome ended = Outcome::error(401, "invalid_token", "the session has ended");
  bool gone = false;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        // As the account is now: if its session ended or its credentials
        // changed since the check (a reset), the check proves nothing.
        auto u = load_json(t, Db::kUsers, who.user_id);
        auto session = load_session(t, who.sid);
        if (!u || !session || !session->valid_at(now) || credential_epoch(*u) != credential_epoch(*user))
          return gone = true, false;
        return erase_user(t, *u, client, now);
      },
      err, Store::WriteKind::kRevocation);
  if (gone) return ended;
  if (!ok) return store_failure(err.empty() ? "delete failed" : err);
  Outcome o;
  o.end_session = true;
  o.data = {{"deleted", true}};
  return o;
}

std::optional<Outcome> AuthService::require_admin(const Principal& who) {
  std::optional<json> user;
  std::string err;
  if (!store_.read([&](const Store::Txn& t) { user = load_json(t, Db::kUsers, who.user_id); }, err))
    return store_failure(err);
  if (!user || user->value("role", "") != "admin" || user->value("disabled", false))
    return Outcome::error(403, "forbidden", "administrators only");
  // A stolen password (or a session opened with one) is not enough to
  // administer everyone: the session must have passed a second factor.
  if (config_.admin_require_mfa && !who.second_factor)
    return Outcome::error(403, "mfa_required", "administration needs a session signed in with a second factor");
  return std::nullopt;
}

Outcome AuthService::admin_list_users(const Principal& who, const std::string& after, size_t limit) {
  if (auto denied = require_admin(who)) return *denied;
  json users = json::array();
  std::string next, err;
  bool ok = store_.read(
      [&](const Store::Txn& t) {
        t.scan(Db::kUsers, "", [&](std::string_view key, std::string_view v) {
          if (!after.empty() && key <= after) return true;
          if (users.size() == limit) {
            next = std::string(users.back()["id"].get<std::string>());
            return false;
          }
          json u;
          std::string e;
          if (core::parse_json_strict(v, u, e) && u.is_object()) users.push_back(public_user(u));
          return true;
        });
      },
      err);
  if (!ok) return store_failure(err);
  Outcome o;
  o.data = {{"users", users}};
  if (!next.empty()) o.data["next"] = next;
  return o;
}

Outcome AuthService::admin_update_user(const Principal& who, const std::string& user_id, const json& changes,
                                       const ClientInfo& client) {
  if (auto denied = require_admin(who)) return *denied;
  for (const auto& [k, v] : changes.items()) {
    if (k == "role" && v.is_string() && (v == "user" || v == "admin")) continue;
    if (k == "disabled" && v.is_boolean()) continue;
    return Outcome::error(400, "validation_failed", "only role (\"user\" or \"admin\") and disabled (boolean) can change");
  }
  if (user_id == who.user_id && (changes.contains("disabled") || changes.value("role", "admin") != "admin"))
    return Outcome::error(400, "validation_failed", "administrators cannot disable or demote themselves");
  int64_t now = clock_();
  Outcome result;
  std::string err;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        auto user = load_json(t, Db::kUsers, user_id);
        if (!user) {
          result = Outcome::error(404, "not_found", "no such user");
          return false;
        }
        json& u = *user;
        bool disable = changes.value("disabled", u.value("disabled", false));
        if (changes.contains("role") && changes["role"] != u.value("role", "user")) {
          // Tokens saying the old role stop passing nginx at once; the next
          // refresh gets one with the new role.
          u["role"] = changes["role"];
          if (!floor_all_sessions(t, user_id, now)) return false;
        }
        if (disable && !u.value("disabled", false)) {
          // The module refuses the user's tokens from the next request on.
          if (!end_all_sessions(t, user_id, now, SessionState::kUserDisabled) || !new_credentials(t, u)) return false;
          audit(t, "user_disabled", u, client, now);
        }
        u["disabled"] = disable;
        u["updated_at"] = now;
        audit(t, "user_changed", u, client, now);
        result.data = {{"user", public_user(u)}};
        return t.put(Db::kUsers, user_id, u.dump());
      },
      err, Store::WriteKind::kRevocation);
  if (!ok && !err.empty()) return store_failure(err);
  return result;
}

bool AuthService::sweep_unverified(int64_t now, size_t& erased, std::string& err) {
  if (!config_.require_verified_email) return true;  // such accounts may be in use
  std::string after;
  for (bool more = true; more;) {
    std::vector<json> stale;
    more = false;
    bool ok = store_.read(
        [&](const Store::Txn& t) {
          size_t seen = 0;
          t.scan(Db::kUsers, "", [&](std::string_view key, std::string_view v) {
            if (!after.empty() && key <= after) return true;
            if (++seen > 500) return more = true, false;
            after = std::string(key);
            json u;
            std::string e;
            if (core::parse_json_strict(v, u, e) && u.is_object() && !u.value("email_verified", false) &&
                u.contains("unverified_erase_at") && u.value("unverified_erase_at", now) <= now &&
                u.value("identities", json::array()).empty())
              stale.push_back(std::move(u));
            return true;
          });
        },
        err);
    if (!ok) return false;
    for (const auto& candidate : stale) {
      bool done = store_.write(
          [&](Store::Txn& t) {
            auto u = load_json(t, Db::kUsers, candidate.value("id", ""));  // unchanged meanwhile?
            if (!u || u->value("email_verified", false) || !u->value("identities", json::array()).empty() ||
                u->value("unverified_erase_at", now + 1) > now)
              return false;
            return erase_user(t, *u, ClientInfo{}, now);
          },
          err, Store::WriteKind::kRevocation);
      if (done) ++erased;
      else if (!err.empty()) return false;
    }
  }
  return true;
}

Outcome AuthService::set_role(const std::string& email, const std::string& role) {
  if (role != "user" && role != "admin") return Outcome::error(400, "validation_failed", "role must be user or admin");
  Outcome result = Outcome::error(404, "not_found", "no account with this e-mail");
  std::string err;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        auto id = user_id_for_email(t, email);
        auto user = id ? load_json(t, Db::kUsers, *id) : std::nullopt;
        if (!user) return false;
        int64_t now = clock_();
        if ((*user)["role"] != role && !floor_all_sessions(t, *id, now)) return false;
        (*user)["role"] = role;
        (*user)["updated_at"] = now;
        result = Outcome();
        result.data = {{"user", public_user(*user)}};
        return t.put(Db::kUsers, *id, user->dump());
      },
      err, Store::WriteKind::kRevocation);  // a demotion must land in a full store too
  if (!ok && !err.empty()) return store_failure(err);
  return result;
}

}  // namespace spa::authd
