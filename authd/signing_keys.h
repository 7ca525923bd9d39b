// SigningKeys: spa-authd's token signing keys and the JWKS it publishes.
//
// On one machine key_dir holds one PEM file per key (0600, named by its RFC
// 7638 thumbprint, which is also its kid) and keys.json, the schedule: when
// each key starts signing and when it stopped. In a cluster (PostgreSQL)
// the same, sealed, in the database (authd/pg_keys.h), and every node
// writes the same JWKS. Rotation publishes the new key
// first and lets it sign only `publish_delay` later (nginx workers re-read
// the JWKS at most once a second); a retired key stays published until the
// last token it signed has expired.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/algorithm.h"
#include "core/jwk.h"

namespace spa::authd {

struct KeySchedule {
  std::string kid;
  core::Alg alg = core::Alg::kEdDSA;
  int64_t active_from = 0;
  int64_t retired_at = 0;  // 0 while it is the newest key
};

// Where the schedule and the private keys are kept: key_dir's files (one
// machine, the default), or PostgreSQL (every node of a cluster signs with
// the same keys: authd/pg_keys.h).
class KeyVault {
 public:
  struct Stored {
    KeySchedule schedule;
    std::string pem;  // the private key
  };
  // What fn makes of the vault's content: the new content, or nullopt
  // when nothing is to change (or `err` says why not).
  using Change = std::function<std::optional<std::vector<Stored>>(const std::vector<Stored>&, std::string& err)>;

  virtual ~KeyVault() = default;
  // Runs fn on the content under the vault's lock (one process at a
  // time, of all that share it) and stores what it returns, all or
  // nothing. An empty content is a first start. `stamp`: the content's
  // stamp as of what fn read or the vault stored, taken under the lock
  // (so a change by another process right after is seen as one).
  virtual bool update(const Change& fn, std::string& stamp, std::string& err) = 0;
  // A stamp of the content: another once another process changed it.
  virtual bool stamp(std::string& out, std::string& err) = 0;
  // The content, without the lock. `exists` false on a first start.
  virtual bool read(std::vector<Stored>& out, bool& exists, std::string& err) = 0;
};

class SigningKeys {
 public:
  struct Options {
    std::string key_dir;
    std::string jwks_file;
    core::Alg alg = core::Alg::kEdDSA;
    int64_t access_ttl = 900;      // how long a retired key must stay published
    int64_t publish_delay = 5;     // between publishing a key and signing with it
  };

  // The keys in key_dir's files.
  explicit SigningKeys(Options o);
  // The keys in `vault` (key_dir unused).
  SigningKeys(Options o, std::unique_ptr<KeyVault> vault);
  ~SigningKeys();

  // Loads key_dir (creating it, and a first key, when empty), drops keys
  // whose tokens have all expired, and writes the JWKS.
  bool open(int64_t now, std::string& err);

  // Adds a key that signs from now + publish_delay; the current key is
  // retired at that moment. Rewrites keys.json and the JWKS. On failure
  // the new key's file is removed and keys.json is as it was.
  bool rotate(int64_t now, std::string& err);

  // Re-reads the schedule when another process (spa-authd keys rotate, or
  // another node) changed it, all or nothing, and publishes it: on failure
  // the keys in memory stay as they were, and a schedule that is gone is
  // an error, never a first start.
  bool reload_if_changed(int64_t now, std::string& err);

  // The key that signs at `now`: the newest whose active_from has come.
  core::JwkPtr signing_key(int64_t now) const;

  const std::vector<KeySchedule>& schedule() const { return schedule_; }
  const std::vector<core::JwkPtr>& keys() const { return keys_; }

 private:
  // The vault's content as keys in memory, all or nothing.
  bool adopt(const std::vector<KeyVault::Stored>& stored, std::string& err);
  // Under the vault's lock: a first key when there is none, a new one when
  // `rotate_at` (signing from then on), keys whose tokens have all expired
  // dropped; the JWKS written before the vault stores the schedule (a key
  // is public before it can sign).
  bool change(int64_t now, std::optional<int64_t> rotate_at, std::string& err);

  // Not key_dir's files: key_dir, if it holds keys, is imported once.
  bool vault_is_shared() const { return shared_; }

  Options opt_;
  std::unique_ptr<KeyVault> vault_;
  bool shared_ = false;
  std::vector<KeySchedule> schedule_;
  std::vector<core::JwkPtr> keys_;  // same order as schedule_
  std::string stamp_;               // the vault's, as of the keys in memory
};

// The kids of the keys in key_dir's files, those a shared vault that never
// had keys takes over: none when it has no keys.json; false, with err,
// when it cannot be read whole.
bool key_dir_kids(const std::string& key_dir, std::vector<std::string>& kids, std::string& err);

}  // namespace spa::authd
