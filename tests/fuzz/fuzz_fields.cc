// The request fields the module reads before anything else: Cookie,
// Authorization, Upgrade, Sec-WebSocket-Protocol, Origin and the query
// string. The input's first line is a name, the others are field lines.
// Besides "no crash", the properties are the ones two parsers must agree
// on: what the remover takes out, the reader no longer finds; what the
// exact reader takes as a token, the generous recogniser also sees.
#include <algorithm>

#include "core/cookies.h"
#include "core/http_fields.h"
#include "core/names.h"
#include "core/origin.h"
#include "core/query.h"
#include "core/token_carriers.h"
#include "core/utf8.h"
#include "tests/fuzz/fuzz.h"

using namespace spa::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string_view> lines = fuzz::lines_of(fuzz::as_text(data, size));
  std::string name(lines.front());
  lines.erase(lines.begin());
  if (lines.empty()) lines.push_back("");

  // Cookie: the name is one `spa_auth_token cookie=NAME` accepts (a name
  // of NULs and form feeds is refused at nginx -t; found by the long run).
  std::string_view token;
  if (valid_name(name, NameKind::kParameter)) {
    CookieLookup found = lookup_cookie(lines, name);
    FUZZ_CHECK(found.value == find_cookie(lines, name));
    if (found.value) FUZZ_CHECK(found.carriers > 0);  // carriers also counts look-alike names
    Status cookie = cookie_token(lines, name, token);
    if (cookie == Status::kOk) FUZZ_CHECK(found.carriers == 1 && !token.empty());
    if (found.duplicate()) FUZZ_CHECK(cookie == Status::kDuplicateCookie);
    for (std::string_view line : lines) {
      bool removed = false;
      std::string left = remove_cookies(line, {name}, removed);
      FUZZ_CHECK(!find_cookie(left, name).has_value());
      if (find_cookie(line, name).has_value()) FUZZ_CHECK(removed);
    }
  }

  // Authorization
  for (std::string_view line : lines) {
    auto bearer = bearer_token(line);
    if (bearer) FUZZ_CHECK(may_carry_token(line) && !bearer->empty());
  }

  // Upgrade, Connection, Sec-WebSocket-Protocol
  for (std::string_view e : list_elements(lines)) FUZZ_CHECK(!e.empty());
  list_contains(lines, name);
  upgrade_offers(lines, "websocket");
  std::string rest;
  if (subprotocol_bearer(lines, token, rest)) {
    // The token the reader took does not go upstream. (Where a client
    // sends it twice, or in quotes that join lines, what is left is its own
    // doing, and only its own token.)
    std::string generous;
    FUZZ_CHECK(remove_bearer_subprotocols(lines, generous));
    std::vector<std::string_view> upstream{generous};
    auto count = [&](const std::vector<std::string_view>& elements) {
      return std::count(elements.begin(), elements.end(), token);
    };
    bool quotes = std::any_of(lines.begin(), lines.end(), [](std::string_view l) { return l.find('"') != l.npos; });
    if (!quotes && count(list_elements(lines)) == 1) FUZZ_CHECK(count(list_elements(upstream)) == 0);
  }

  // Origin
  std::vector<std::string> allowed{"https://app.example.com", "http://localhost:8080"};
  bool ok = origin_allowed(lines, allowed, "https", name);
  if (ok && lines.size() == 1) FUZZ_CHECK(parse_origin(trim_ows(lines[0])).has_value());
  if (csrf_origin_allowed(lines, lines, allowed, "https", name)) FUZZ_CHECK(lines.size() == 1);
  // An origin that matches a listed one is as clean as the list.
  if (origin_listed(name, allowed))
    FUZZ_CHECK(std::none_of(name.begin(), name.end(), [](unsigned char c) { return c <= 0x20 || c >= 0x7f; }));

  // Query strings: what is removed stays removed; masking keeps the length.
  const std::vector<std::string>& secrets = secret_query_names();
  for (std::string_view line : lines) {
    bool removed = false;
    std::string left = remove_query_params(line, secrets, removed);
    bool again = false;
    FUZZ_CHECK(remove_query_params(left, secrets, again) == left && !again);
    std::string masked(line);
    mask_query_secrets(masked.data(), masked.size(), secrets);
    FUZZ_CHECK(masked.size() == line.size());
    redact_query(line, {name});
    redact_request_line(line, secrets);
    percent_decode(line, true);
  }

  // Client text as it is stored and answered
  std::string clipped = utf8_clip(name, 64);
  FUZZ_CHECK(clipped.size() <= 64 && utf8_valid(clipped));
  if (utf8_valid(name) && name.size() <= 64) FUZZ_CHECK(clipped == name);
  FUZZ_CHECK(folded_equals(name, fold_field_name(name)));
  return 0;
}
