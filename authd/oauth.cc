#include "authd/oauth.h"

#include <algorithm>

#include "authd/crypto.h"
#include "authd/files.h"
#include "authd/metrics.h"
#include "authd/records/oauth_state.h"
#include "authd/server.h"
#include "core/base64url.h"
#include "core/json_strict.h"

namespace spa::authd {
namespace {

using json = nlohmann::json;

constexpr const char* kBindingInfo = "spa-auth oauth state v1";

std::string be64(int64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((static_cast<uint64_t>(v) >> (56 - 8 * i)) & 0xff);
  return out;
}

int64_t from_be64(std::string_view s) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return static_cast<int64_t>(v);
}

// The database key of a state: its expiry first, so expired logins are
// swept from the front; then its hash, so the key does not reveal it.
std::optional<std::string> state_key(const std::string& state) {
  std::string raw;
  if (state.size() != 43 || !core::base64url_decode(state, raw) || raw.size() != 32) return std::nullopt;
  return raw.substr(0, 8) + sha256(state);
}

// Deletes up to 256 expired logins, oldest first.
bool sweep(Store::Txn& t, int64_t now) {
  std::vector<std::string> expired;
  t.scan(Db::kOAuthStates, "", [&](std::string_view key, std::string_view) {
    if (key.size() < 8 || from_be64(key) > now || expired.size() >= 256) return false;
    expired.emplace_back(key);
    return true;
  });
  for (const auto& k : expired)
    if (!t.del(Db::kOAuthStates, k)) return false;
  return true;
}

std::string with_query(const std::string& url, const std::string& query) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + query;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

Outcome unknown_provider() { return Outcome::error(Errc::kUnknownProvider, "no such sign-in provider"); }

Outcome invalid_redirect() {
  return Outcome::error(Errc::kInvalidRedirect, "redirect_to must be a path on this site or an allowed URL");
}

// The provider's "error" code in our log, if it is a plain word.
std::string safe_code(const std::string& s) {
  if (s.empty() || s.size() > 64) return "other";
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return "other";
  return s;
}

}  // namespace

OAuthLogin::OAuthLogin(const Config& config, IdentityService& identities, Store& store, HttpClient& http,
                       Clock clock)
    : config_(config),
      identities_(identities),
      store_(store),
      http_(http),
      clock_(std::move(clock)),
      all_calls_({kMaxCalls, 0, 0}) {
  for (const auto& c : config.oauth) {
    auto p = std::make_unique<Provider>(config.oauth_calls_per_provider);
    p->config = c;
    providers_.push_back(std::move(p));
  }
}

bool OAuthLogin::load_secrets(std::string& err) {
  for (auto& p : providers_) {
    std::string e;
    if (!read_secret_file(p->config.client_secret_file, p->secret, e)) {
      err = "oauth." + p->config.name + ".client_secret_file: " + e;
      return false;
    }
  }
  return true;
}

OAuthLogin::Provider* OAuthLogin::find(const std::string& name) const {
  for (const auto& p : providers_)
    if (p->config.name == name) return p.get();
  return nullptr;
}

bool OAuthLogin::has_provider(const std::string& name) const { return find(name) != nullptr; }

Outcome OAuthLogin::busy() const {
  // A call in use ends within call_timeout: by then there is room again.
  return Outcome::error(Errc::kProviderBusy, "the sign-in provider is slow to answer; try again in a few seconds",
                        config_.oauth_call_timeout);
}

size_t OAuthLogin::max_callers() const {
  return std::min(kMaxCalls, providers_.size() * static_cast<size_t>(config_.oauth_calls_per_provider));
}

std::string OAuthLogin::metrics() const {
  if (providers_.empty()) return {};
  std::string calls = "# TYPE spa_authd_provider_calls gauge\n";
  std::string shed = "# TYPE spa_authd_provider_shed_total counter\n";
  for (const auto& p : providers_) {
    std::string label = "{provider=\"" + p->config.name + "\"} ";
    calls += "spa_authd_provider_calls" + label + std::to_string(p->calls.running()) + "\n";
    shed += "spa_authd_provider_shed_total" + label + std::to_string(p->shed.load()) + "\n";
  }
  return calls + shed;
}

std::string OAuthLogin::begin(Provider& p, const Pending& pending, int64_t now, Call& call, std::string& binding,
                              std::string& why) {
  auto m = metadata(p, now, call, why);
  if (!m) return {};
  std::string state = core::base64url_encode(be64(now + kStateTtl) + random_bytes(24));
  binding = random_token();
  OAuthStateSecrets sealed;
  sealed.nonce = pending.nonce;
  sealed.verifier = pending.verifier;
  sealed.redirect_to = pending.redirect_to;
  sealed.link_user = pending.link_user;
  sealed.link_sid = pending.link_sid;
  std::string key = *state_key(state);
  OAuthStateRecord record;
  record.provider = p.config.name;
  record.box = core::base64url_encode(seal(hkdf_sha256(binding, kBindingInfo), sealed.to_json(), key));
  Error e = store_.transact(
      [&](Store::Txn& t) { return commit_if(sweep(t, now) && t.put_record(Db::kOAuthStates, key, record)); });
  if (!e.ok()) {
    why = "store: " + e.message;
    return {};
  }
  return with_query(m->authorization_endpoint,
                    oidc::form_encode({{"response_type", "code"},
                                       {"client_id", p.config.client_id},
                                       {"redirect_uri", p.config.redirect_uri},
                                       {"scope", join(p.config.scopes, " ")},
                                       {"state", state},
                                       {"nonce", pending.nonce},
                                       {"code_challenge", oidc::pkce_challenge(pending.verifier)},
                                       {"code_challenge_method", "S256"}}));
}

OAuthAnswer OAuthLogin::start(const std::string& provider, const std::string& redirect_to, const ClientInfo& client) {
  OAuthAnswer a;
  Provider* p = find(provider);
  if (!p) {
    a.error = unknown_provider();
    return a;
  }
  Provider& prov = *p;
  auto target = redirect_to.empty() ? std::optional<std::string>("/")
                                    : oidc::safe_redirect(redirect_to, prov.config.allowed_redirects);
  if (!target) {
    a.error = invalid_redirect();
    metrics::count(metrics::Family::kOAuth, {provider, "start", a.error->code});
    return a;
  }
  Pending pending{random_token(), random_token(), *target, "", ""};
  std::string why;
  // Usually no call at all: the discovery document is cached.
  Call call(all_calls_, prov);
  a.location = begin(prov, pending, clock_(), call, a.binding, why);
  if (a.location.empty() && call.shed()) {
    a.binding.clear();
    a.error = busy();
    metrics::count(metrics::Family::kOAuth, {provider, "start", a.error->code});
    return a;
  }
  if (a.location.empty()) return fail("start", provider, Errc::kProviderUnavailable, why, client);
  metrics::count(metrics::Family::kOAuth, {provider, "start", "success"});
  return a;
}

Outcome OAuthLogin::start_link(const Principal& who, const std::string& provider, const std::string& redirect_to,
                               std::string& binding, const ClientInfo& client) {
  // Another way into the account: only right after proving who one is.
  if (auto stale = identities_.may_start_link(who)) return *stale;
  Provider* p = find(provider);
  if (!p) return unknown_provider();
  auto target = redirect_to.empty() ? std::optional<std::string>("/")
                                    : oidc::safe_redirect(redirect_to, p->config.allowed_redirects);
  if (!target) return invalid_redirect();
  Pending pending{random_token(), random_token(), *target, who.user_id, who.sid};
  std::string why;
  Call call(all_calls_, *p);
  std::string url = begin(*p, pending, clock_(), call, binding, why);
  if (url.empty() && call.shed()) {
    binding.clear();
    metrics::count(metrics::Family::kOAuth, {provider, "link", error_code(Errc::kProviderBusy)});
    return busy();
  }
  if (url.empty()) {
    metrics::count(metrics::Family::kOAuth, {provider, "link", error_code(Errc::kProviderUnavailable)});
    log_event("warn", "oauth_failed",
              {{"provider", provider},
               {"reason", std::string(error_code(Errc::kProviderUnavailable))},
               {"detail", why},
               {"request_id", client.request_id}});
    return Outcome::error(Errc::kProviderUnavailable, "the sign-in provider cannot be reached");
  }
  metrics::count(metrics::Family::kOAuth, {provider, "link", "success"});
  Outcome o;
  o.data = {{"authorization_url", url}};
  return o;
}

std::optional<OAuthLogin::Pending> OAuthLogin::take(const std::string& provider, const std::string& state,
                                                    const std::string& binding, int64_t now) {
  auto key = state_key(state);
  if (!key) return std::nullopt;
  std::optional<OAuthStateRecord> record;
  // Single use: taken out of the store whatever comes next.
  Error e = store_.transact([&](Store::Txn& t) {
    auto text = t.get(Db::kOAuthStates, *key);
    if (!text) return TxnEnd::kAbort;
    record = OAuthStateRecord::from_json(*text);
    return commit_if(t.del(Db::kOAuthStates, *key));
  });
  if (!e.ok() || !record || from_be64(*key) <= now || record->provider != provider) return std::nullopt;
  std::string box;
  if (!core::base64url_decode(record->box, box)) return std::nullopt;
  auto opened = open_sealed(hkdf_sha256(binding, kBindingInfo), box, *key);  // another browser: fails here
  auto j = opened ? OAuthStateSecrets::from_json(*opened) : std::nullopt;
  if (!j) return std::nullopt;
  return Pending{j->nonce, j->verifier, j->redirect_to, j->link_user, j->link_sid};
}

std::optional<ExternalIdentity> OAuthLogin::identity(Provider& p, const oidc::ProviderMetadata& m,
                                                    const Pending& pending, const std::string& code, int64_t now,
                                                    Call& call, Errc& reason, std::string& why) {
  // The code exchange (RFC 6749 §4.1.3) with the PKCE verifier; the client
  // authenticates as the provider prefers, Basic when it offers both.
  std::vector<std::pair<std::string, std::string>> form = {{"grant_type", "authorization_code"},
                                                           {"code", code},
                                                           {"redirect_uri", p.config.redirect_uri},
                                                           {"code_verifier", pending.verifier}};
  std::vector<std::string> headers;
  if (m.client_secret_basic) {
    // RFC 6749 §2.3.1: both parts form-encoded before Base64.
    std::string pair = oidc::percent_encode(p.config.client_id) + ":" + oidc::percent_encode(p.secret);
    headers.push_back("Authorization: Basic " + base64(pair));
  } else {
    form.emplace_back("client_id", p.config.client_id);
    form.emplace_back("client_secret", p.secret);
  }
  HttpResult r = http_.post_form(m.token_endpoint, oidc::form_encode(form), headers);
  if (!r.error.empty()) {
    reason = Errc::kProviderUnavailable;
    why = "token endpoint: " + r.error;
    return std::nullopt;
  }
  oidc::TokenResponse tokens;
  if (r.status != 200) {
    json j;
    std::string e;
    std::string code_word = core::parse_json_strict(r.body, j, e) && j.is_object() ? j.value("error", "") : "";
    // A refusal (RFC 6749 §5.2: 400 invalid_grant, ...) is the provider's
    // answer; a 5xx is a provider that could not answer: try again later.
    reason = r.status >= 500 ? Errc::kProviderUnavailable : Errc::kProviderError;
    why = "token endpoint: HTTP " + std::to_string(r.status) + " " + safe_code(code_word);
    return std::nullopt;
  }
  if (!oidc::parse_token_response(r.body, tokens, why)) {
    // Not even JSON (an answer cut short, a proxy's error page): no usable
    // answer, as with a broken connection. JSON without the tokens: the
    // provider's error.
    json j;
    std::string e;
    reason = core::parse_json_strict(r.body, j, e, core::JsonLimits{64 * 1024, 8}) ? Errc::kProviderError
                                                                                    : Errc::kProviderUnavailable;
    return std::nullopt;
  }

  oidc::IdTokenCheck check{&m, p.config.client_id, pending.nonce, now};
  json claims;
  KeysMissing missing;
  auto set = keys(p, m, now, false, call, why, missing);
  auto result = set ? oidc::verify_id_token(tokens.id_token, *set, check, claims, why) : oidc::IdTokenResult::kInvalid;
  if (set && result == oidc::IdTokenResult::kUnknownKey) {
    set = keys(p, m, now, true, call, why, missing);
    result = set ? oidc::verify_id_token(tokens.id_token, *set, check, claims, why) : oidc::IdTokenResult::kInvalid;
    if (result == oidc::IdTokenResult::kUnknownKey) why = "no key of the provider has the ID token's kid";
  }
  // No keys to judge the ID token by, fetched or readable: the token was
  // never judged, so it is the provider that failed, not the token.
  if (!set && (missing == KeysMissing::kUnreachable || missing == KeysMissing::kBadDocument)) {
    reason = Errc::kProviderUnavailable;
    return std::nullopt;
  }
  if (result != oidc::IdTokenResult::kOk) {
    reason = Errc::kInvalidIdToken;
    why = "ID token: " + why;
    return std::nullopt;
  }

  ExternalIdentity id;
  id.provider = p.config.name;
  id.subject = claims.value("sub", "");
  auto take_claims = [&](const json& c) {
    if (auto e = c.find("email"); e != c.end() && e->is_string()) id.email = e->get<std::string>();
    if (auto v = c.find("email_verified"); v != c.end()) id.email_verified = v->is_boolean() ? v->get<bool>() : *v == "true";
    if (auto n = c.find("preferred_username"); n != c.end() && n->is_string()) id.username_hint = n->get<std::string>();
  };
  take_claims(claims);
  // Providers may leave e-mail out of the ID token when an access token
  // was issued (OIDC Core §5.4); the userinfo endpoint has it.
  if (id.email.empty() && !m.userinfo_endpoint.empty()) {
    HttpResult u = http_.get(m.userinfo_endpoint, {"Authorization: Bearer " + tokens.access_token});
    json info;
    std::string e;
    if (!u.error.empty()) {
      reason = Errc::kProviderUnavailable;
      why = "userinfo: " + u.error;
      return std::nullopt;
    }
    bool readable = core::parse_json_strict(u.body, info, e, core::JsonLimits{64 * 1024, 8});
    if (u.status != 200 || !readable || !info.is_object()) {
      reason = u.status >= 500 || (u.status == 200 && !readable) ? Errc::kProviderUnavailable : Errc::kProviderError;
      why = "userinfo: HTTP " + std::to_string(u.status);
      return std::nullopt;
    }
    // OIDC Core §5.3.2: a userinfo answer about someone else is discarded.
    if (info.value("sub", "") != id.subject) {
      reason = Errc::kInvalidIdToken;
      why = "userinfo: sub does not match the ID token";
      return std::nullopt;
    }
    take_claims(info);
  }
  return id;
}

OAuthAnswer OAuthLogin::fail(const char* step, const std::string& provider, Errc reason, const std::string& detail,
                             const ClientInfo& client) const {
  std::string code(error_code(reason));
  metrics::count(metrics::Family::kOAuth, {provider, step, code});
  log_event("warn", "oauth_failed",
            {{"provider", provider}, {"reason", code}, {"detail", detail}, {"request_id", client.request_id}});
  OAuthAnswer a;
  a.clear_binding = true;
  a.location = with_query(config_.oauth_login_page, "error=" + code);
  return a;
}

OAuthAnswer OAuthLogin::callback(const std::string& provider, const CallbackParams& params, const std::string& binding,
                                 const ClientInfo& client) {
  Provider* p = find(provider);
  if (!p) {
    OAuthAnswer a;
    a.error = unknown_provider();
    return a;
  }
  int64_t now = clock_();
  // From here on the request waits on the provider (the code exchange).
  // With every call to it in use, the answer is 503 before the state is
  // spent: the same callback works again later (a reload).
  Call call(all_calls_, *p);
  if (params.error.empty() && !call.acquire()) {
    OAuthAnswer a;
    a.error = busy();
    metrics::count(metrics::Family::kOAuth, {provider, "callback", a.error->code});
    return a;
  }
  // Consumed first, whatever the rest says: a state works once.
  auto pending = take(provider, params.state, binding, now);
  if (!params.error.empty()) {
    // RFC 6749 §4.1.2.1: the user said no, or the provider could not go on.
    Errc reason = params.error == "access_denied" ? Errc::kAccessDenied : Errc::kProviderError;
    return fail("callback", provider, reason, "provider answered error=" + safe_code(params.error), client);
  }
  if (!pending) return fail("callback", provider, Errc::kInvalidState, "state unknown, expired, used or from another browser", client);
  std::string why;
  auto m = metadata(*p, now, call, why);
  if (!m) return fail("callback", provider, Errc::kProviderUnavailable, why, client);
  // RFC 9207: the answer names its issuer, so another provider's code
  // cannot be slipped into this callback.
  if (params.iss.empty() ? m->iss_parameter : params.iss != m->issuer)
    return fail("callback", provider, Errc::kInvalidState, "iss parameter does not name the provider", client);
  if (params.code.empty() || params.code.size() > 4096) return fail("callback", provider, Errc::kProviderError, "no code", client);
  Errc reason = Errc::kOk;
  auto ext = identity(*p, *m, *pending, params.code, now, call, reason, why);
  if (!ext) return fail("callback", provider, reason, why, client);

  Outcome o = pending->link_user.empty()
                  ? identities_.oauth_sign_in(*ext, client)
                  : identities_.oauth_link(pending->link_user, pending->link_sid, *ext, client);
  if (!o.ok()) return fail("callback", provider, o.errc, o.message, client);
  OAuthAnswer a;
  a.clear_binding = true;
  metrics::count(metrics::Family::kOAuth,
                 {provider, "callback", pending->link_user.empty() ? metrics::outcome(o) : "linked"});
  if (o.data.value("mfa_required", false)) {
    // The SPA's login page finishes with POST /api/v1/mfa/verify, then goes
    // where /start was asked to (checked there; the page checks it again).
    // In the fragment, so the token reaches no server and no log.
    a.location = config_.oauth_login_page + "#" +
                 oidc::form_encode({{"mfa_token", o.data.value("mfa_token", "")},
                                    {"method", o.data.value("method", "")},
                                    {"redirect_to", pending->redirect_to}});
    return a;
  }
  a.tokens = o.tokens;
  a.location = pending->redirect_to;
  log_event("info", pending->link_user.empty() ? "oauth_login" : "oauth_linked",
            {{"provider", provider}, {"request_id", client.request_id}});
  return a;
}

}  // namespace spa::authd
