// SigningKeys: spa-authd's token signing keys and the JWKS it publishes.
//
// key_dir holds one PEM file per key (0600, named by its RFC 7638
// thumbprint, which is also its kid) and keys.json, the schedule: when each
// key starts signing and when it stopped. Rotation publishes the new key
// first and lets it sign only `publish_delay` later (nginx workers re-read
// the JWKS at most once a second); a retired key stays published until the
// last token it signed has expired.
#pragma once

#include <cstdint>
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

class SigningKeys {
 public:
  struct Options {
    std::string key_dir;
    std::string jwks_file;
    core::Alg alg = core::Alg::kEdDSA;
    int64_t access_ttl = 900;      // how long a retired key must stay published
    int64_t publish_delay = 5;     // between publishing a key and signing with it
  };

  explicit SigningKeys(Options o) : opt_(std::move(o)) {}

  // Loads key_dir (creating it, and a first key, when empty), drops keys
  // whose tokens have all expired, and writes the JWKS.
  bool open(int64_t now, std::string& err);

  // Adds a key that signs from now + publish_delay; the current key is
  // retired at that moment. Rewrites keys.json and the JWKS. On failure
  // the new key's file is removed and keys.json is as it was.
  bool rotate(int64_t now, std::string& err);

  // Re-reads keys.json when another process (spa-authd keys rotate) changed
  // it, all or nothing: on failure the keys in memory stay as they were,
  // and a keys.json that is gone is an error, never a first start.
  bool reload_if_changed(int64_t now, std::string& err);

  // The key that signs at `now`: the newest whose active_from has come.
  core::JwkPtr signing_key(int64_t now) const;

  const std::vector<KeySchedule>& schedule() const { return schedule_; }
  const std::vector<core::JwkPtr>& keys() const { return keys_; }

 private:
  bool load(std::string& err);
  bool save_and_publish(int64_t now, std::string& err);
  bool create_key(int64_t active_from, std::string& err);

  Options opt_;
  std::vector<KeySchedule> schedule_;
  std::vector<core::JwkPtr> keys_;  // same order as schedule_
  struct FileStamp {
    bool exists = false;
    uint64_t dev = 0, ino = 0;
    int64_t size = 0, mtime_ns = 0;
    static FileStamp of(const std::string& path);
    bool operator==(const FileStamp&) const = default;
  };
  FileStamp state_stamp_;
};

}  // namespace spa::authd
