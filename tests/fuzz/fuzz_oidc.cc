// What an OpenID provider sends back, as spa-authd parses it: the discovery
// document, the token response, the provider's JWKS, and the ID token
// (verified against the fixed keys of tests/fuzz/keys/ for a fixed client
// and nonce), plus the redirect target a login returns to. The input's
// first byte picks the parser; for the ID token the next four are the time.
#include "authd/oidc.h"
#include "core/utf8.h"
#include "tests/fuzz/fuzz.h"

using namespace spa;
using namespace spa::authd::oidc;

namespace {

struct Fixed {
  core::Jwks keys;
  ProviderMetadata provider;
  Fixed() {
    fuzz::load_fixed_jwks(keys);
    provider.issuer = "https://op.example";
    provider.issuer_aliases = {"op.example"};
    provider.authorization_endpoint = "https://op.example/auth";
    provider.token_endpoint = "https://op.example/token";
    provider.jwks_uri = "https://op.example/jwks";
    provider.id_token_algs = core::default_algorithms();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fixed fixed;
  fuzz::Reader in(data, size);
  uint8_t choice = in.byte();
  std::string err;
  switch (choice % 5) {
    case 0: {
      ProviderMetadata m;
      std::string_view text = in.rest();
      if (parse_discovery(text, "https://op.example/.well-known/openid-configuration", m, err)) {
        // Mix-up defence: the issuer is the discovery URL's, every endpoint allowed.
        FUZZ_CHECK(m.issuer == "https://op.example");
        FUZZ_CHECK(url_allowed(m.authorization_endpoint) && url_allowed(m.token_endpoint) && url_allowed(m.jwks_uri));
      }
      break;
    }
    case 1: {
      TokenResponse t;
      if (parse_token_response(in.rest(), t, err)) FUZZ_CHECK(!t.id_token.empty() && !t.access_token.empty());
      break;
    }
    case 2: {
      core::Jwks set;
      if (parse_provider_jwks(in.rest(), set, err)) FUZZ_CHECK(set.size() > 0);
      break;
    }
    case 3: {
      IdTokenCheck check;
      check.provider = &fixed.provider;
      check.client_id = "spa-client";
      check.nonce = "n-0S6_WzA2Mj";
      check.now = in.u32();
      nlohmann::json claims;
      std::string reason;
      IdTokenResult r = verify_id_token(in.rest(), fixed.keys, check, claims, reason);
      if (r == IdTokenResult::kOk) {
        FUZZ_CHECK(claims.is_object() && claims.value("nonce", "") == check.nonce);
        FUZZ_CHECK(claims.contains("sub") && claims["sub"].is_string());
      } else {
        FUZZ_CHECK(!reason.empty() || r == IdTokenResult::kUnknownKey);
      }
      break;
    }
    case 4: {
      // Where a login sends the browser: this site, or an origin listed.
      std::vector<std::string> allowed{"https://app.example.com/", "https://other.example.com"};
      std::string_view target = in.rest();
      auto to = safe_redirect(target, allowed);
      if (!to) break;
      FUZZ_CHECK(*to == target && core::utf8_valid(*to));
      for (unsigned char c : *to) FUZZ_CHECK(c > 0x20 && c != 0x7f && c != '\\');
      bool here = to->front() == '/' && (to->size() == 1 || (*to)[1] != '/');
      bool listed = *to == "https://other.example.com" || to->rfind("https://app.example.com/", 0) == 0;
      FUZZ_CHECK(here || listed);
      url_host(*to);
      break;
    }
  }
  return 0;
}
