// spa-authd's TOML configuration (conf/authd.toml): every key typed and
// checked; each error names the key and the line it is on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authd/mail_quota.h"
#include "core/algorithm.h"

namespace spa::authd {

enum class TokenMode { kCookie, kBearer, kBoth };

struct OAuthProviderConfig {
  std::string name;
  std::string client_id;
  std::string client_secret_file;
  std::string redirect_uri;
  std::string discovery;  // empty for built-in providers (google)
  std::vector<std::string> scopes{"openid", "email", "profile"};
  std::vector<std::string> allowed_redirects;
};

struct Config {
  std::string socket_path = "/run/spa-authd/authd.sock";
  std::string store_path = "/var/lib/spa-authd";
  // [store] private_path: the store itself, spa-authd's alone (0700);
  // store_path holds only the mirror of the sessions that nginx reads.
  // Filled by parse_config: LmdbStore::default_private_path(store_path) when not set.
  std::string store_private_path;
  // [store] max_size: what ordinary writes may fill (revocations have a
  // reserve beyond it; docs/authd.md "Store"). Bytes.
  uint64_t store_max_size = uint64_t{1} << 30;
  int64_t audit_retention = 90 * 86400;  // [store] audit_retention
  int64_t sweep_interval = 60;           // [store] sweep_interval
  // [store] backend: "lmdb" (one machine, the default) or "postgresql"
  // (several nodes share one database; store_path is then this node's
  // mirror of the sessions, and private_path is unused). docs/scale-out.md.
  enum class Backend { kLmdb, kPostgresql };
  Backend store_backend = Backend::kLmdb;
  std::string store_postgresql;                // [store] postgresql: a libpq connection string, no password
  std::string store_postgresql_password_file;  // [store] postgresql_password_file
  int64_t store_max_staleness = 30;            // [store] max_staleness: past it unconfirmed, nginx fails closed

  std::string issuer;
  std::string audience = "spa";
  core::Alg algorithm = core::Alg::kEdDSA;
  int64_t access_ttl = 15 * 60;
  int64_t refresh_ttl = 7 * 86400;
  int64_t refresh_grace = 10;
  std::string key_dir = "/var/lib/spa-authd/keys";
  std::string jwks_file = "/var/lib/spa-authd/jwks.json";
  // [tokens] key_encryption_key_file: with store.backend = "postgresql",
  // the 32 bytes the signing keys are sealed under in the database; the
  // same file on every node (created on the first node's first start).
  std::string key_encryption_key_file = "/etc/spa-authd/key-encryption.key";
  TokenMode mode = TokenMode::kCookie;

  std::vector<std::string> allowed_origins;
  // A password login before the address is proven answers 403
  // email_not_verified (the link arrives by mail at sign-up).
  bool require_verified_email = true;
  // Administration (/api/v1/admin/) only from a session that passed a
  // second factor (the access token's amr says "otp"): 403 mfa_required.
  bool admin_require_mfa = true;

  // OWASP's minimums for Argon2id are the defaults and the floor.
  uint32_t argon2_memory_kib = 19456;
  uint32_t argon2_iterations = 2;
  uint32_t argon2_parallelism = 1;
  // [password] queue, queue_timeout: sign-ins that may wait for an Argon2
  // slot (one per CPU), and for how long; past either they answer 503
  // server_busy (docs/authd.md "Concurrency").
  uint32_t password_queue = 32;
  int64_t password_queue_timeout = 2;

  std::string mfa_issuer_name = "spa-auth";
  std::string mfa_secret_key_file = "/etc/spa-authd/mfa.key";

  std::string smtp_url;
  std::string smtp_from;
  // [smtp] username and password_file: the SMTP login, the password read
  // from its own file (read_secret_file), never in this file or the URL.
  std::string smtp_username;
  std::string smtp_password_file;
  // [smtp] timeout: one delivery attempt at most this long (connect
  // included); retry_for: a message that keeps failing for a reason worth
  // retrying (no connection, no answer, a 4xx) is retried this long.
  int64_t smtp_timeout = 30;
  int64_t smtp_retry_for = 600;
  // [smtp] recipient_limit / account_limit: mail of each class (links,
  // codes, notices) to one address and about one account.
  MailLimits mail_limits;

  std::vector<OAuthProviderConfig> oauth;
  // [oauth] login_page: where a failed OAuth login sends the browser
  // (with ?error=REASON), and an OAuth login waiting for a second factor
  // (with #mfa_token=…&method=…). A path on the SPA's site.
  std::string oauth_login_page = "/login";
  // [oauth] calls_per_provider: requests that may wait on one provider's
  // network at once (more answer 503 provider_busy); call_timeout: the
  // most one call to a provider may take (connecting: at most 3 s of it).
  uint32_t oauth_calls_per_provider = 16;
  int64_t oauth_call_timeout = 5;
};

struct ConfigError {
  std::string key;  // "tokens.access_ttl"
  int64_t line = 0; // 0 when the key is missing altogether
  std::string message;
};

// Parses TOML text; `source` names it in errors. False when any error.
bool parse_config(std::string_view text, const std::string& source, Config& out, std::vector<ConfigError>& errors);
bool load_config(const std::string& path, Config& out, std::vector<ConfigError>& errors);

// "512KiB", "100MiB", "1GiB", "1TiB" (or K, M, G, T): bytes; nullopt for
// anything else, or past 2^50.
std::optional<uint64_t> parse_size(std::string_view text);

// "conf/authd.toml:12: tokens.access_ttl: must be a duration like 15m"
std::string format_error(const std::string& source, const ConfigError& e);

}  // namespace spa::authd
