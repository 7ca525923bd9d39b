// OAuth 2.0 / OpenID Connect login, server side: the authorization code
// flow with PKCE S256, state and nonce (RFC 6749, RFC 7636, OIDC Core
// §3.1), the code exchanged and the ID token checked here, never in the
// browser or in nginx. Accounts are IdentityService's (authd/oauth_accounts.cc).
//
// A login under way is a record in the oauth_states database, keyed by the
// state's expiry and hash; its nonce, PKCE verifier and target are sealed
// under a key derived from a random value that only the browser holds, in
// the __Secure-spa_oauth cookie. The callback consumes the record whatever
// happens, so a state works once, for ten minutes, in one browser.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "authd/admission.h"
#include "authd/config.h"
#include "authd/http_client.h"
#include "authd/identity_service.h"
#include "authd/oidc.h"
#include "authd/service_types.h"
#include "authd/store.h"
#include "core/jwk.h"

namespace spa::authd {

// What the browser gets from /start and /callback: a redirect (with the
// binding cookie to set or clear, and session tokens after a login), or,
// for a request that should never have been made, a JSON error.
struct OAuthAnswer {
  std::string location;
  std::string binding;  // set __Secure-spa_oauth to this
  bool clear_binding = false;
  std::optional<IssuedTokens> tokens;
  std::optional<Outcome> error;  // answer with this instead of redirecting
};

struct CallbackParams {
  std::string code, state, error, iss;
};

class OAuthLogin {
 public:
  using Clock = std::function<int64_t()>;

  static constexpr int64_t kStateTtl = 600;        // ten minutes from /start to /callback
  static constexpr int64_t kKeysRefetch = 60;      // an unknown kid refetches the JWKS at most this often
  static constexpr int64_t kKeysMaxAge = 3600;     // keys are fetched again after an hour anyway
  static constexpr int64_t kMetadataMaxAge = 86400;
  static constexpr int64_t kFailureBackoff = 5;    // a provider that just failed is not asked again sooner
  static constexpr size_t kMaxCalls = 64;          // requests waiting on all providers together

  // `config.oauth_calls_per_provider` requests may wait on one provider at
  // once; `config.oauth_call_timeout` is what one call may take (the
  // HttpClient's own limit) and the Retry-After of those shed.
  OAuthLogin(const Config& config, IdentityService& identities, Store& store, HttpClient& http, Clock clock);

  // Reads every provider's client_secret_file; false names the first that fails.
  bool load_secrets(std::string& err);
  bool has_provider(const std::string& name) const;

  OAuthAnswer start(const std::string& provider, const std::string& redirect_to, const ClientInfo& client);
  // For POST /api/v1/oauth/link: the same flow for a signed-in user; the
  // SPA navigates to data.authorization_url.
  Outcome start_link(const Principal& who, const std::string& provider, const std::string& redirect_to,
                     std::string& binding, const ClientInfo& client);
  OAuthAnswer callback(const std::string& provider, const CallbackParams& params, const std::string& binding,
                       const ClientInfo& client);

  // Request threads this can hold at once (waiting on providers).
  size_t max_callers() const;
  std::string metrics() const;  // Prometheus text

 private:
  struct Provider {
    explicit Provider(size_t calls) : calls({calls, 0, 0}) {}
    OAuthProviderConfig config;
    std::string secret;
    Gate calls;  // requests waiting on this provider's network; no queue: past it, shed
    std::atomic<uint64_t> shed{0};
    // Guards what follows; never held across a call to the provider. One
    // request fetches (a fetching_ flag); the others use the copy they
    // have, or wait on `fetched` for the fetch to end.
    std::mutex mu;
    std::condition_variable fetched;
    bool fetching_metadata = false, fetching_keys = false;
    std::optional<oidc::ProviderMetadata> metadata;
    int64_t metadata_at = 0;
    std::shared_ptr<const core::Jwks> keys;
    int64_t keys_at = 0;
    int64_t keys_refetched_at = INT64_MIN / 2;
    int64_t failed_at = INT64_MIN / 2;
  };
  // The right of one request to wait on a provider: its gate and the gate
  // of all providers, taken when the request first needs the network and
  // held to its end.
  class Call {
   public:
    Call(Gate& all, Provider& p) : all_(all), provider_(p) {}
    bool acquire();  // true when held (now, or already)
    bool held() const { return static_cast<bool>(mine_pass_); }
    bool shed() const { return shed_; }

   private:
    Gate& all_;
    Provider& provider_;
    Gate::Pass all_pass_, mine_pass_;
    bool shed_ = false;
  };
  struct Pending {
    std::string nonce, verifier, redirect_to, link_user;
    std::string link_sid;  // the session that started the link: it must still be alive at the callback
  };

  Provider* find(const std::string& name) const;
  // Why keys() has no set to give.
  enum class KeysMissing {
    kNone,
    kUnreachable,  // the provider did not give its JWKS (network, HTTP status, a fetch that did not end)
    kNotFetched,   // not asked: a refetch within kKeysRefetch, or no call free
    kBadDocument,  // it gave one we cannot use
  };
  // Discovery and keys from the cache, or fetched with `call` held (nullopt
  // / nullptr with `why`, and for keys `missing`; or with call.shed() when
  // no call was free).
  std::optional<oidc::ProviderMetadata> metadata(Provider& p, int64_t now, Call& call, std::string& why);
  std::shared_ptr<const core::Jwks> keys(Provider& p, const oidc::ProviderMetadata& m, int64_t now, bool refetch,
                                         Call& call, std::string& why, KeysMissing& missing);
  // The authorization URL, after storing the pending login; "" with `why`
  // (or call.shed()).
  std::string begin(Provider& p, const Pending& pending, int64_t now, Call& call, std::string& binding,
                    std::string& why);
  // 503 provider_busy with Retry-After.
  Outcome busy() const;
  // Takes (deletes) the pending login of `state`; nullopt when there is
  // none, it expired, belongs to another provider or another browser.
  std::optional<Pending> take(const std::string& provider, const std::string& state, const std::string& binding,
                              int64_t now);
  // What the provider vouched for; nullopt with `reason` (what the login
  // page is told) and `why` (for the log).
  std::optional<ExternalIdentity> identity(Provider& p, const oidc::ProviderMetadata& m, const Pending& pending,
                                           const std::string& code, int64_t now, Call& call, Errc& reason,
                                           std::string& why);
  // Back to the login page with error=<reason's code>, logged with `detail`.
  OAuthAnswer fail(const char* step, const std::string& provider, Errc reason, const std::string& detail,
                   const ClientInfo& client) const;

  const Config& config_;
  IdentityService& identities_;
  Store& store_;
  HttpClient& http_;
  Clock clock_;
  mutable Gate all_calls_;
  std::vector<std::unique_ptr<Provider>> providers_;
};

}  // namespace spa::authd
