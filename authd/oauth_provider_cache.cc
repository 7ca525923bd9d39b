// OAuthLogin's caches of each provider's discovery document and keys, and
// the calls a request may make to a provider (authd/oauth.h): one request
// fetches while the others use the copy they have or wait for that fetch;
// no lock is held across the network.
#include <chrono>

#include "authd/oauth.h"

namespace spa::authd {
namespace {

// Ends a fetch however it ends (an exception included): the flag drops
// and the requests waiting for it wake. Relocks when it must.
class FetchDone {
 public:
  FetchDone(std::unique_lock<std::mutex>& lock, bool& flag, std::condition_variable& cv)
      : lock_(lock), flag_(flag), cv_(cv) {}
  ~FetchDone() {
    if (!lock_.owns_lock()) lock_.lock();
    flag_ = false;
    cv_.notify_all();
  }
  FetchDone(const FetchDone&) = delete;
  FetchDone& operator=(const FetchDone&) = delete;

 private:
  std::unique_lock<std::mutex>& lock_;
  bool& flag_;
  std::condition_variable& cv_;
};

}  // namespace

bool OAuthLogin::Call::acquire() {
  if (mine_pass_) return true;
  if (shed_) return false;
  mine_pass_ = provider_.calls.enter();
  if (mine_pass_) all_pass_ = all_.enter();
  if (mine_pass_ && all_pass_) return true;
  mine_pass_.release();
  all_pass_.release();
  shed_ = true;
  ++provider_.shed;
  return false;
}

std::optional<oidc::ProviderMetadata> OAuthLogin::metadata(Provider& p, int64_t now, Call& call, std::string& why) {
  if (p.config.discovery.empty()) return oidc::google_metadata();
  // Another request's fetch ends within one call's timeout.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(config_.oauth_call_timeout + 1);
  std::unique_lock<std::mutex> lock(p.mu);
  for (;;) {
    if (p.metadata && now - p.metadata_at < kMetadataMaxAge) return p.metadata;
    if (!p.metadata && now - p.failed_at < kFailureBackoff) {
      why = "discovery failed moments ago";
      return std::nullopt;
    }
    if (p.metadata && p.fetching_metadata) return p.metadata;  // an older copy serves while another request fetches
    if (!call.held()) {
      lock.unlock();
      bool held = call.acquire();
      lock.lock();
      if (held) continue;  // looked at again: another request may have fetched meanwhile
      if (p.metadata) return p.metadata;  // no call free: the older copy serves, unrefreshed
      why = "every call to the provider is in use";
      return std::nullopt;
    }
    if (!p.fetching_metadata) break;
    // Nothing to serve: wait for that fetch, then take what it got.
    if (!p.fetched.wait_until(lock, deadline, [&] { return !p.fetching_metadata; })) {
      why = "discovery: another request's fetch did not end";
      return std::nullopt;
    }
    if (!p.metadata) why = "discovery failed moments ago";
    return p.metadata;
  }
  p.fetching_metadata = true;
  FetchDone done(lock, p.fetching_metadata, p.fetched);
  lock.unlock();  // never held across the network
  HttpResult r = http_.get(p.config.discovery, {});
  oidc::ProviderMetadata m;
  bool good = false;
  if (!r.error.empty() || r.status != 200)
    why = "discovery: " + (r.error.empty() ? "HTTP " + std::to_string(r.status) : r.error);
  else
    good = oidc::parse_discovery(r.body, p.config.discovery, m, why);
  lock.lock();
  if (good) {
    p.metadata = std::move(m);
    p.metadata_at = now;
  } else {
    p.failed_at = now;
  }
  return p.metadata;  // on failure an older copy, if any, still serves
}

std::shared_ptr<const core::Jwks> OAuthLogin::keys(Provider& p, const oidc::ProviderMetadata& m, int64_t now,
                                                   bool refetch, Call& call, std::string& why, KeysMissing& missing) {
  missing = KeysMissing::kNone;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(config_.oauth_call_timeout + 1);
  std::unique_lock<std::mutex> lock(p.mu);
  for (;;) {
    bool stale = !p.keys || now - p.keys_at >= kKeysMaxAge;
    if (refetch) {
      // A kid we do not know: the provider may have rotated. Asking again
      // is allowed once a minute, so tokens with made-up kids cannot make
      // us hammer the provider.
      if (now - p.keys_refetched_at < kKeysRefetch) {
        why = "unknown signing key (keys fetched again less than a minute ago)";
        missing = KeysMissing::kNotFetched;
        return nullptr;
      }
    } else if (!stale) {
      return p.keys;
    } else if (p.keys && p.fetching_keys) {
      return p.keys;  // the last good set serves while another request fetches
    }
    if (!call.held()) {
      lock.unlock();
      bool held = call.acquire();
      lock.lock();
      if (held) continue;
      if (!refetch && p.keys) return p.keys;
      why = "every call to the provider is in use";
      missing = KeysMissing::kNotFetched;
      return nullptr;
    }
    if (!p.fetching_keys) break;
    // Another request is fetching: its answer is as new as ours would be.
    if (!p.fetched.wait_until(lock, deadline, [&] { return !p.fetching_keys; })) {
      why = "JWKS: another request's fetch did not end";
      missing = KeysMissing::kUnreachable;
      return nullptr;
    }
    if (!p.keys) {
      why = "JWKS: the provider's keys could not be fetched";
      missing = KeysMissing::kUnreachable;
    }
    return p.keys;
  }
  if (refetch) p.keys_refetched_at = now;
  p.fetching_keys = true;
  FetchDone done(lock, p.fetching_keys, p.fetched);
  lock.unlock();  // never held across the network
  HttpResult r = http_.get(m.jwks_uri, {});
  auto set = std::make_shared<core::Jwks>();
  bool good = false;
  if (!r.error.empty() || r.status != 200) {
    why = "JWKS: " + (r.error.empty() ? "HTTP " + std::to_string(r.status) : r.error);
    missing = KeysMissing::kUnreachable;
  } else {
    good = oidc::parse_provider_jwks(r.body, *set, why);
    if (!good) missing = KeysMissing::kBadDocument;
  }
  lock.lock();
  if (good) {
    p.keys = std::move(set);
    p.keys_at = now;
    return p.keys;
  }
  return refetch ? nullptr : p.keys;  // keep serving the last good set
}

}  // namespace spa::authd
