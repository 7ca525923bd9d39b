// GDPR (authd/privacy_service.cc): everything stored about the caller, its
// erasure, and the erasure of accounts whose address was never proven.
// Erasure is one transaction through the indexes; the audit trail keeps
// only an id nothing points to any more.
#pragma once

#include <cstddef>
#include <string>

#include "authd/service_types.h"
#include "authd/session_issuer.h"

namespace spa::authd {

class PrivacyService : public ServiceBase {
 public:
  using ServiceBase::ServiceBase;

  // After a recent authentication: addresses, devices and the audit trail
  // are not for a stolen token alone.
  Outcome export_data(const Principal& who);
  // After a recent authentication, or with the password in the request.
  Outcome delete_account(const Principal& who, const std::string& password, const ClientInfo& client);
  // Erases the accounts AccountService::kUnverifiedTtl past sign-up with
  // their address unproven (only under require_verified_email), found
  // through the unverified index: only the due ones are read. False with
  // `err` when the store failed; `erased` counts.
  bool sweep_unverified(int64_t now, size_t& erased, std::string& err);
  static constexpr size_t kSweepBatch = 500;  // due entries read per read transaction

 private:
  bool erase_user(Store::Txn& t, const UserRecord& user, const ClientInfo& client, int64_t now);
};

}  // namespace spa::authd
