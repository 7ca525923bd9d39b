#include "authd/store.h"

#include "authd/records/links.h"
#include "authd/records/mfa_pending.h"
#include "authd/records/audit.h"
#include "authd/refresh_rotation.h"

namespace spa::authd {
namespace {

constexpr const char* kNames[] = {"meta",          "users",           "users_by_email", "users_by_name",
                                  core::kSessionsDb, "session_meta",  "user_sessions",  "refresh",
                                  "audit",         "mfa_pending",     "reset_tokens",   "oauth_states",
                                  "identities",    "session_refresh", "user_records",   "user_audit",
                                  "verify_tokens", "lockouts",        "unverified"};
static_assert(std::size(kNames) == kDbCount, "one name per Db");
constexpr const char* kIndexesVersion = "2";

// No key of ours is empty or longer than LMDB takes.
bool usable_key(std::string_view key) { return !key.empty() && key.size() <= kMaxKeyBytes; }

using Entries = std::vector<std::pair<Db, std::string>>;

// Stores made before session_refresh, user_records and user_audit existed
// (meta/indexes absent): what they hold, indexed.
void first_indexes(const Store::Txn& t, Entries& entries) {
  t.scan(Db::kRefresh, "", [&](std::string_view k, std::string_view v) {
    if (auto r = RefreshRecord::from_json(v)) entries.emplace_back(Db::kSessionRefresh, r->sid + std::string(k));
    return true;
  });
  for (const auto& u : kUserTables)
    t.scan(u.db, "", [&](std::string_view k, std::string_view v) {
      if (auto r = owned_record(u.db, v); r && !r->user.empty())
        entries.emplace_back(Db::kUserRecords, user_record_index_key(u.db, r->user, k));
      return true;
    });
  t.scan(Db::kAudit, "", [&](std::string_view k, std::string_view v) {
    if (auto e = AuditRecord::from_json(v); e && !e->subject.value_or("").empty())
      entries.emplace_back(Db::kUserAudit, *e->subject + std::string(k));
    return true;
  });
}

// Stores made before unverified existed (meta/indexes "1" or absent).
void unverified_index(const Store::Txn& t, Entries& entries) {
  t.scan(Db::kUsers, "", [&](std::string_view, std::string_view v) {
    auto u = UserRecord::from_json(v);
    if (auto at = u ? u->unverified_sweep_at() : std::nullopt)
      entries.emplace_back(Db::kUnverified, unverified_key(*at, u->id));
    return true;
  });
}

// Indexes what a store made before some of its indexes holds, once, at open.
bool backfill_indexes(Store::Txn& t, const std::optional<std::string>& built) {
  Entries entries;
  if (!built) first_indexes(t, entries);
  unverified_index(t, entries);
  for (const auto& [db, key] : entries)
    if (!t.put(db, key, "")) return false;
  return t.error().ok() && t.put(Db::kMeta, "indexes", kIndexesVersion);
}

}  // namespace

const char* db_name(Db db) { return kNames[static_cast<int>(db)]; }

bool Store::Txn::fail(Errc code, std::string message) const {
  if (error_.ok()) error_ = Error{code, std::move(message)};
  return false;
}

bool Store::Txn::refuse_full() { return fail(Errc::kStoreFull, "store_full"); }

std::optional<std::string> Store::Txn::get(Db db, std::string_view key) const {
  if (!usable_key(key)) return std::nullopt;
  return load(db, key);
}

bool Store::Txn::put(Db db, std::string_view key, std::string_view value) {
  if (!usable_key(key)) return fail(Errc::kStoreFailed, "put: unusable key");
  return save(db, key, value);
}

bool Store::Txn::del(Db db, std::string_view key) {
  if (!usable_key(key)) return true;  // nothing stored under it
  return remove(db, key);
}

bool Store::Txn::scan(Db db, std::string_view prefix, const Visit& fn) const { return each(db, prefix, prefix, fn); }

bool Store::Txn::scan_from(Db db, std::string_view from, const Visit& fn) const { return each(db, from, "", fn); }

std::string prepare_schema(Store::Txn& t, const std::string& where) {
  auto version = t.get(Db::kMeta, "schema_version");
  if (!t.error().ok()) return t.error().message;
  if (!version) {
    if (!t.put(Db::kMeta, "schema_version", kSchemaVersion)) return t.error().message;
  } else if (*version != kSchemaVersion) {
    return "store " + where + " has schema version " + *version + ", this spa-authd reads version " + kSchemaVersion;
  }
  auto built = t.get(Db::kMeta, "indexes");
  if (built != kIndexesVersion && !backfill_indexes(t, built)) return "building indexes: " + t.error().message;
  return {};
}

bool crossed_warning(std::atomic<bool>& warned, uint64_t used, uint64_t max) {
  if (max == 0) return false;
  if (used * 100 >= max * 80) return !warned.exchange(true);
  if (used * 100 < max * 75) warned.store(false);
  return false;
}

std::optional<core::SessionRecord> load_session(const Store::Txn& t, std::string_view sid) {
  auto bytes = t.get(Db::kSessions, sid);
  return bytes ? core::SessionRecord::decode(*bytes) : std::nullopt;
}

std::string user_record_index_key(Db db, const std::string& user_id, std::string_view key) {
  for (const auto& u : kUserTables)
    if (u.db == db) return user_id + u.tag + std::string(key);
  return {};
}

bool put_user_record(Store::Txn& t, Db db, std::string_view key, const std::string& user_id, std::string_view value) {
  std::string index = user_record_index_key(db, user_id, key);
  return t.put(db, key, value) && (index.empty() || t.put(Db::kUserRecords, index, ""));
}

std::vector<std::string> user_record_keys(const Store::Txn& t, Db db, const std::string& user_id) {
  std::vector<std::string> keys;
  std::string prefix = user_record_index_key(db, user_id, "");
  if (prefix.empty() || user_id.empty()) return keys;
  t.scan(Db::kUserRecords, prefix, [&](std::string_view k, std::string_view) {
    keys.emplace_back(k.substr(prefix.size()));
    return true;
  });
  return keys;
}

bool delete_user_records(Store::Txn& t, Db db, const std::string& user_id) {
  for (const auto& k : user_record_keys(t, db, user_id))
    if (!t.del(db, k) || !t.del(Db::kUserRecords, user_record_index_key(db, user_id, k))) return false;
  return true;
}

std::optional<OwnedRecord> owned_record(Db db, std::string_view value) {
  auto owned = [](const auto& r) { return r ? std::optional<OwnedRecord>({r->user, r->expires_at}) : std::nullopt; };
  switch (db) {
    case Db::kMfaPending: return owned(MfaPendingRecord::from_json(value));
    case Db::kResetTokens: return owned(ResetLinkRecord::from_json(value));
    case Db::kVerifyTokens: return owned(VerifyLinkRecord::from_json(value));
    default: return std::nullopt;
  }
}

std::string unverified_key(int64_t erase_at, std::string_view user_id) {
  std::string key(8, '\0');
  for (int i = 0; i < 8; ++i) key[i] = static_cast<char>((static_cast<uint64_t>(erase_at) >> (56 - 8 * i)) & 0xff);
  return key.append(user_id);
}

int64_t unverified_due(std::string_view key) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < key.size(); ++i) v = (v << 8) | static_cast<uint8_t>(key[i]);
  return static_cast<int64_t>(v);
}

std::optional<UserRecord> load_user(const Store::Txn& t, std::string_view id) {
  return t.get_record<UserRecord>(Db::kUsers, id);
}

bool save_user(Store::Txn& t, const UserRecord& u) {
  auto before = load_user(t, u.id);
  auto was = before ? before->unverified_sweep_at() : std::nullopt;
  auto is = u.unverified_sweep_at();
  if (was && was != is && !t.del(Db::kUnverified, unverified_key(*was, u.id))) return false;
  if (is && is != was && !t.put(Db::kUnverified, unverified_key(*is, u.id), "")) return false;
  return t.put_record(Db::kUsers, u.id, u);
}

bool delete_user(Store::Txn& t, std::string_view id) {
  auto stored = load_user(t, id);
  auto at = stored ? stored->unverified_sweep_at() : std::nullopt;
  return (!at || t.del(Db::kUnverified, unverified_key(*at, id))) && t.del(Db::kUsers, id);
}

}  // namespace spa::authd
