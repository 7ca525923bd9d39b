// SessionReader: the module's read-only view of spa-authd's store. One
// short read transaction per lookup, renewed rather than re-created.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/lmdb_handles.h"
#include "core/session_record.h"

namespace spa::core {

class SessionReader {
 public:
  enum class Lookup { kValid, kRevoked, kUnknown, kError };

  // Opens `path` read-only (the writer must have created it).
  bool open(const std::string& path, std::string& err);

  static constexpr size_t kMaxSidBytes = 128;

  // kUnknown also for a record we cannot decode, and for an empty or
  // overlong sid: fail closed. kRevoked also when the session refuses
  // tokens issued at `iat` (SessionRecord::tokens_not_before).
  Lookup check(std::string_view sid, int64_t now, std::optional<int64_t> iat, std::string& err);

  ~SessionReader();

 private:
  LmdbEnv env_;
  MDB_dbi sessions_ = 0;
  MDB_txn* txn_ = nullptr;  // kept reset between lookups
};

}  // namespace spa::core
