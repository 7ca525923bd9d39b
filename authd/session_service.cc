#include "authd/session_service.h"

#include "authd/crypto.h"
#include "authd/metrics.h"
#include "authd/passwords.h"
#include "authd/records/refresh_successor.h"
#include "authd/records/session_meta.h"
#include "authd/refresh_rotation.h"
#include "authd/server.h"
#include "core/base64url.h"
#include "core/claims.h"
#include "core/jws.h"
#include "core/verifier.h"

namespace spa::authd {
namespace {

using json = nlohmann::json;

constexpr const char* kSuccessorInfo = "spa-auth refresh successor v1";

}  // namespace

Outcome SessionService::login(const std::string& email, const std::string& password, const ClientInfo& client) {
  std::optional<UserRecord> user;
  Error e = store_.view([&](const Store::Txn& t) {
    if (auto id = t.get(Db::kUsersByEmail, fold(email))) user = load_user(t, *id);
  });
  if (!e.ok()) return store_failure(e);
  // An unknown address, and an account made by an OAuth provider (no
  // password until one is set), cost the time of a wrong password.
  auto good = issuer_.password_matches(user ? &*user : nullptr, password);
  if (!good) return server_busy();  // known and unknown addresses alike: nothing evaluated, nothing counted
  int64_t now = issuer_.now();
  Outcome result;
  std::string mailed_code, mail_to;
  e = store_.transact([&](Store::Txn& t) {
    // Known and unknown addresses take the same path through the
    // lockout, so neither the answer nor its headers tell them apart.
    if (auto locked = issuer_.locked_out(t, email, now)) {
      result = *locked;
      return TxnEnd::kAbort;
    }
    // Re-read inside the write: the account may have changed meanwhile.
    auto fresh = user ? load_user(t, user->id) : std::nullopt;
    // A password reset (or change, disable, erasure) that committed
    // after the check: the password checked is not the account's now.
    if (fresh && fresh->epoch() != user->epoch()) good = false;
    if (!fresh || !*good) {
      result = issuer_.record_failure(t, email, fresh ? &*fresh : nullptr, client, now, Errc::kInvalidCredentials,
                                      "e-mail or password is wrong");
      return TxnEnd::kCommit;  // commit the count, answer with the error
    }
    UserRecord& u = *fresh;
    if (u.disabled) {
      result = Outcome::error(Errc::kAccountDisabled, "this account is disabled");
      return TxnEnd::kAbort;
    }
    if (config_.require_verified_email && !u.verified()) {
      result = Outcome::error(Errc::kEmailNotVerified,
                              "confirm your e-mail address with the link we sent; "
                              "POST /api/v1/auth/verify-email/request sends a new one");
      return TxnEnd::kAbort;
    }
    return commit_if(issuer_.finish_first_factor(t, u, {"pwd"}, "login", client, now, result, mailed_code, mail_to));
  });
  if (!e.ok()) return store_failure(e);
  if (!mailed_code.empty()) issuer_.mail_code(mail_to, mailed_code);
  return result;
}

Outcome SessionService::refresh(const std::string& token, const ClientInfo& client) {
  Outcome invalid = Outcome::error(Errc::kInvalidToken, "refresh token is not valid");
  if (token.empty() || token.size() > 128) return invalid;
  int64_t now = issuer_.now();
  std::string hash = sha256(token);
  Outcome result;
  bool reused = false;
  Error e = store_.transact(
      [&](Store::Txn& t) {
        reused = false;  // (a revocation's write may run twice)
        auto record = t.get_record<RefreshRecord>(Db::kRefresh, hash);
        auto session = record ? load_session(t, record->sid) : std::nullopt;
        auto user = record ? load_user(t, record->user_id) : std::nullopt;
        bool active = session && session->valid_at(now) && user && !user->disabled;
        RefreshDecision d = decide_refresh(record ? &*record : nullptr, active, now, config_.refresh_grace);
        std::string key = hkdf_sha256(token, kSuccessorInfo);
        switch (d) {
          case RefreshDecision::kUnknown:
          case RefreshDecision::kExpired:
          case RefreshDecision::kSessionEnded:
            result = invalid;
            result.end_session = true;
            return TxnEnd::kAbort;
          case RefreshDecision::kReuse: {
            // A used token came back after the grace window: someone else
            // has it. End the whole family (the session).
            result = Outcome::error(Errc::kInvalidToken, "refresh token was already used; the session is ended");
            result.end_session = true;
            if (user) issuer_.audit(t, "refresh_reuse", *user, client, now);
            log_event("warn", "refresh_reuse", {{"request_id", client.request_id}});
            reused = true;
            return commit_if(issuer_.end_session(t, record->sid, now));
          }
          case RefreshDecision::kSameSuccessor: {
            std::string box;
            auto text = core::base64url_decode(record->successor_box, box) ? open_sealed(key, box, hash) : std::nullopt;
            auto pair = text ? RefreshSuccessor::from_json(*text) : std::nullopt;
            if (!pair) {
              result = invalid;
              return TxnEnd::kAbort;
            }
            result.tokens = IssuedTokens{pair->access_token, pair->refresh_token, pair->expires_at.value_or(now) - now};
            // The session was floored (a role change) since that access
            // token was made: the module would refuse it, so the parallel
            // tab gets a fresh one with the same successor refresh token.
            if (pair->expires_at.value_or(0) - config_.access_ttl < session->tokens_not_before) {
              SessionIssuer::KeyView k = issuer_.keys(now);
              auto meta = t.get_record<SessionMetaRecord>(Db::kSessionMeta, record->sid).value_or(SessionMetaRecord{});
              result.tokens->access_token = issuer_.access_token(*user, record->sid, *session, meta, now, k);
              result.tokens->expires_in = config_.access_ttl;
            }
            result.data = {{"user", user->public_view()}};
            return TxnEnd::kAbort;  // nothing to change
          }
          case RefreshDecision::kRotate: {
            // A rotation grows the store; reuse detection above must not
            // be refused, so this write runs as a revocation and only
            // the rotation waits for room.
            if (t.over_limit()) {
              t.refuse_full();  // the result: kStoreFull
              return TxnEnd::kAbort;
            }
            SessionIssuer::KeyView k = issuer_.keys(now);
            IssuedTokens next;
            next.refresh_token = random_token();
            // (A session has its metadata from its start; were it missing,
            // the one written here takes the session's creation time.)
            SessionMetaRecord fallback;
            fallback.created_at = session->created_at;
            SessionMetaRecord meta =
                t.get_record<SessionMetaRecord>(Db::kSessionMeta, record->sid).value_or(fallback);
            next.access_token = issuer_.access_token(*user, record->sid, *session, meta, now, k);
            next.expires_in = config_.access_ttl;
            RefreshSuccessor pair;
            pair.access_token = next.access_token;
            pair.refresh_token = next.refresh_token;
            pair.expires_at = now + config_.access_ttl;
            RefreshRecord successor;
            successor.sid = record->sid;
            successor.user_id = record->user_id;
            successor.issued_at = now;
            successor.expires_at = now + config_.refresh_ttl;
            successor.parent = hex(hash);
            record->rotated_at = now;
            record->successor = hex(sha256(next.refresh_token));
            record->successor_box = core::base64url_encode(seal(key, pair.to_json(), hash));
            // The family lives as long as its newest token. (A rotation in
            // the same second leaves the session as it is, unwritten: a
            // session written unchanged is waited for as a revocation
            // retried would be, docs/scale-out.md.)
            bool moved = session->expires_at != now + config_.refresh_ttl;
            session->expires_at = now + config_.refresh_ttl;
            meta.last_used_at = now;
            result.tokens = next;
            result.data = {{"user", user->public_view()}};
            return commit_if(t.put_record(Db::kRefresh, hash, *record) &&
                             t.put_record(Db::kRefresh, sha256(next.refresh_token), successor) &&
                             t.put(Db::kSessionRefresh, record->sid + sha256(next.refresh_token), "") &&
                             (!moved || t.put(Db::kSessions, record->sid, session->encode())) &&
                             t.put_record(Db::kSessionMeta, record->sid, meta));
          }
        }
        return TxnEnd::kAbort;
      },
      Store::WriteKind::kRevocation);
  if (!e.ok()) return store_failure(e);
  if (reused) metrics::count(metrics::Family::kRefreshReuse);
  return result;
}

Outcome SessionService::logout(const std::optional<Principal>& who, const std::string& refresh_token,
                               const ClientInfo& client) {
  int64_t now = issuer_.now();
  bool found = false;
  Error e = store_.transact(
      [&](Store::Txn& t) {
        std::string sid, user_id;
        if (who) {
          sid = who->sid;
          user_id = who->user_id;
        } else if (!refresh_token.empty()) {
          if (auto record = t.get_record<RefreshRecord>(Db::kRefresh, sha256(refresh_token)))
            sid = record->sid, user_id = record->user_id;
        }
        if (sid.empty()) return TxnEnd::kAbort;
        found = true;
        if (auto user = load_user(t, user_id)) issuer_.audit(t, "logout", *user, client, now);
        return commit_if(issuer_.end_session(t, sid, now));
      },
      Store::WriteKind::kRevocation);
  if (!e.ok()) return store_failure(e);
  if (!found) return Outcome::error(Errc::kInvalidToken, "no session to end");
  Outcome o;
  o.end_session = true;
  o.data = {{"logged_out", true}};
  return o;
}

std::optional<Principal> SessionService::authenticate(std::string_view token, std::string& why) {
  int64_t now = issuer_.now();
  SessionIssuer::KeyView k = issuer_.keys(now);
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
  // find(), never a const operator[]: on a token without the claim that is
  // an assertion failure (a token of our key without auth_time ended authd).
  const json& payload = verified->claims.payload;
  auto auth_time = payload.is_object() ? payload.find("auth_time") : payload.end();
  Principal p{verified->claims.sub,
              verified->claims.sid,
              auth_time != payload.end() && auth_time->is_number_integer() ? auth_time->get<int64_t>() : 0,
              verified->claims.second_factor,
              core::claim_text(payload, "email").value_or(""),
              core::claim_text(payload, "username").value_or(""),
              core::claim_text(payload, "role").value_or("")};
  bool active = false;
  // A failed read leaves it inactive: refused (fail closed).
  Error e = store_.view([&](const Store::Txn& t) {
    auto rec = load_session(t, p.sid);
    active = rec && rec->accepts(now, verified->claims.iat) && rec->belongs_to(p.user_id);
  });
  if (!e.ok() || !active) {
    why = "revoked";
    return std::nullopt;
  }
  return p;
}

Outcome SessionService::list_sessions(const Principal& who) {
  int64_t now = issuer_.now();
  json list = json::array();
  Error e = store_.view([&](const Store::Txn& t) {
    for (const auto& sid : SessionIssuer::session_ids(t, who.user_id)) {
      auto rec = load_session(t, sid);
      if (!rec || !rec->valid_at(now)) continue;
      auto meta = t.get_record<SessionMetaRecord>(Db::kSessionMeta, sid);
      list.push_back(SessionMetaRecord::public_view(sid, sid == who.sid, *rec, meta ? &*meta : nullptr));
    }
  });
  if (!e.ok()) return store_failure(e);
  Outcome o;
  o.data = {{"sessions", list}};
  return o;
}

Outcome SessionService::revoke_session(const Principal& who, const std::string& sid, const ClientInfo& client) {
  int64_t now = issuer_.now();
  bool owned = false;
  Error e = store_.transact(
      [&](Store::Txn& t) {
        owned = t.get(Db::kUserSessions, who.user_id + ":" + sid).has_value();
        if (!owned) return TxnEnd::kAbort;
        auto user = load_user(t, who.user_id).value_or(UserRecord{});  // gone: an event without a subject
        issuer_.audit(t, "session_revoked", user, client, now);
        return commit_if(issuer_.end_session(t, sid, now));
      },
      Store::WriteKind::kRevocation);
  if (!e.ok()) return store_failure(e);
  if (!owned) return Outcome::error(Errc::kNotFound, "no such session");
  Outcome o;
  o.end_session = sid == who.sid;
  o.data = {{"revoked", sid}};
  return o;
}

}  // namespace spa::authd
