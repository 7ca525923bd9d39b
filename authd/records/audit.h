// An audit event (audit database, keyed by big-endian nanoseconds plus 8
// random bytes, so events sort by time; indexed by subject in user_audit).
// Format 1:
//
//   {"ts", "event", "subject"? (the user's audit_id, "" for none; removed
//    when the account is erased, so the trail turns anonymous),
//    "request_id"}
//
// No personal data: the subject is an opaque id only the user record maps.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace spa::authd {

struct AuditRecord {
  static constexpr int kVersion = 1;

  int64_t ts = 0;
  std::string event;
  std::optional<std::string> subject;
  std::string request_id;
  nlohmann::json unknown = nlohmann::json::object();  // fields this format does not know, kept as they were

  std::string to_json() const;
  static std::optional<AuditRecord> from_json(std::string_view text);
  nlohmann::json to_object() const;
  static std::optional<AuditRecord> from_object(const nlohmann::json& j);

  // The event as the user's export shows it: without the subject.
  nlohmann::json public_view() const;
};

}  // namespace spa::authd
