// SessionReader: the module's read-only view of spa-authd's store. One
// short read transaction per lookup, renewed rather than re-created.
//
// It survives what happens to the file underneath: reader slots of killed
// workers are cleared (at open, and when the table is full); a data file
// replaced by rename (a restore, `mdb_copy -c`) or a new lock file is
// noticed by refresh() and reopened; a truncated, corrupt or foreign file
// makes it unavailable (every lookup kError: the module answers 503)
// instead of faulting, and refresh() keeps trying to open it again.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/session_record.h"

namespace spa::core {

class SessionReader {
 public:
  enum class Lookup { kValid, kRevoked, kUnknown, kError };

  // Opens `path` read-only (the writer must have created it). On failure
  // the reader stays unavailable with the reason in `err`; refresh() tries
  // again.
  bool open(const std::string& path, std::string& err);

  // At most once per second of `now`: stats data.mdb and lock.mdb, and
  // reopens when either was replaced or the data file no longer holds its
  // pages; retries a failed open.
  void refresh(int64_t now);

  bool available() const { return available_; }
  // Why the reader is unavailable ("" while it is available).
  const std::string& unavailable_reason() const { return reason_; }

  static constexpr size_t kMaxSidBytes = 128;

  // The mirror's own table (authd/session_mirror.h) and the keys of a
  // mirror fed from a shared store: confirmed_ms, the time (Unix ms)
  // before which every committed change is in it, and max_staleness
  // (seconds). Absent on a single machine's store, always current.
  static constexpr const char* kMirrorStateDb = "mirror";
  static constexpr const char* kConfirmedKey = "confirmed_ms";
  static constexpr const char* kMaxStalenessKey = "max_staleness";
  static constexpr int64_t kDefaultMaxStaleness = 30;
  // How far the node that minted a token may be behind this one's clock.
  static constexpr int64_t kClockSkew = 2;
  // A session the mirror lacks is taken for one on its way only while the
  // mirror was confirmed this recently: a node cut off from the store for
  // longer refuses them (what happened to them meanwhile, it cannot know).
  static constexpr int64_t kFreshConfirmation = 5;

  // The last check found the mirror unconfirmed past its max_staleness
  // (its kError): an open WebSocket of any session closes on it.
  bool stale() const { return stale_; }

  // kUnknown also for a record we cannot decode, and for an empty or
  // overlong sid: fail closed. kRevoked also when the session refuses
  // tokens issued at `iat` (SessionRecord::tokens_not_before), and when it
  // is not the session of `sub` (the token's subject). kError while
  // unavailable, and while a shared store's mirror is unconfirmed for more
  // than its max_staleness. On such a mirror, confirmed within
  // kFreshConfirmation, a session it does not hold whose token was issued
  // (iat) no earlier than kClockSkew before the confirmation is kValid:
  // begun on another node, on its way.
  Lookup check(std::string_view sid, std::string_view sub, int64_t now, std::optional<int64_t> iat,
               std::string& err);

  SessionReader();
  ~SessionReader();
  SessionReader(const SessionReader&) = delete;
  SessionReader& operator=(const SessionReader&) = delete;

 private:
  bool reopen(std::string& err);
  void close();

  // The LMDB environment and the files' identities (session_reader.cc):
  // what includes this header (the module's glue) sees no LMDB type.
  struct Lmdb;
  std::unique_ptr<Lmdb> lmdb_;
  std::string path_;
  bool available_ = false;
  std::string reason_ = "not opened";
  int64_t checked_at_ = 0;
  bool checked_ = false;
  bool stale_ = false;
};

}  // namespace spa::core
