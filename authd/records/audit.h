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

#include <nlohmann/json.hpp>

#include "authd/records/json_fields.h"

namespace spa::authd {

struct AuditRecord : records::JsonRecord<AuditRecord> {
  static constexpr int kVersion = 1;

  int64_t ts = 0;
  std::string event;
  std::optional<std::string> subject;
  std::string request_id;

  // The event as the user's export shows it: without the subject.
  nlohmann::json public_view() const {
    nlohmann::json j = to_object();
    j.erase("subject");
    return j;
  }

  template <class Self, class Fields>
  static void fields(Self& r, Fields& f) {
    f("ts", r.ts);
    f("event", r.event);
    f("subject", r.subject);
    f("request_id", r.request_id);
  }
};

}  // namespace spa::authd
