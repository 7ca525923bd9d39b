// The names a configuration gives things (a cookie, a header, a zone, a
// variable), checked by one function with one rule per kind, so that
// every directive that takes a name of a kind accepts the same ones.
#pragma once

#include <string_view>

namespace spa::core {

enum class NameKind {
  kParameter,  // spa_auth_token cookie=NAME and query=NAME: letters, digits, '_', '-', '.'; 1 to 128
  kHeader,     // spa_auth_claim_header, spa_auth_identity_prefix: letters, digits, '-', '_'; 1 to 128
  kZone,       // spa_auth_limit_zone zone=NAME: letters, digits, '_', '-'; 1 to 64
  kVariable,   // an nginx variable's name ($binary_remote_addr): letters, digits, '_'; 1 or more
};

bool valid_name(std::string_view name, NameKind kind);

}  // namespace spa::core
