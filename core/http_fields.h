// HTTP field syntax (RFC 9110 §5.6): list-valued fields such as Upgrade and
// Connection. nginx hands the glue raw header lines; everything that decides
// what a line means lives here, so that what nginx forwards and what the
// module checks cannot be read differently.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace spa::core {

// SP and HTAB around a value or a list element (OWS, RFC 9110 §5.6.3).
std::string_view trim_ows(std::string_view s);

// ASCII case-insensitive equality (tokens are case-insensitive).
bool iequals(std::string_view a, std::string_view b);
// A cheap first look before a rewrite that allocates: false only when
// `text` holds none of `names` (any case) and no '%' (which could encode
// one). True says "look closer", not "found".
bool may_mention(std::string_view text, const std::vector<std::string>& names);
// %XX decoded (invalid escapes kept as they are); '+' as a space when asked
// (form encoding, as query parsers read it).
std::string percent_decode(std::string_view s, bool plus_as_space);

// A field name as a lenient upstream may read it: lowercase, and every
// character that is not a letter or digit as '-' (CGI, WSGI and many
// frameworks fold '_' and '-' together; some fold more). Two names that
// fold alike may be the same header to someone.
std::string fold_field_name(std::string_view name);
// The same comparisons without building the folded name (request path):
// `folded...` is already folded.
bool folded_starts_with(std::string_view name, std::string_view folded_prefix);
bool folded_equals(std::string_view name, std::string_view folded);

// The non-empty elements of a list field value (RFC 9110 §5.6.1): split at
// commas, OWS trimmed, empty elements dropped. Quoted strings are kept
// whole, commas inside them included, quotes and all.
std::vector<std::string_view> list_elements(std::string_view value);

// The field's lines taken together: a recipient may join several lines of
// a list field with commas (RFC 9110 §5.3), so every line counts.
std::vector<std::string_view> list_elements(const std::vector<std::string_view>& lines);

// Some element is `token`, compared case-insensitively; an element in
// quotes counts as what it quotes (a lenient upstream may unquote it).
bool list_contains(const std::vector<std::string_view>& lines, std::string_view token);

// Upgrade (RFC 9110 §7.8): some element names `protocol`, with or without a
// "/version" (`websocket`, `WebSocket/13`), case-insensitively.
bool upgrade_offers(const std::vector<std::string_view>& lines, std::string_view protocol);

// Sec-WebSocket-Protocol `bearer, <jwt>` (the pair a browser can send): the
// element after `bearer` is the token. `rest` is the offer without the
// token, for the upstream. False when there is no such pair.
bool subprotocol_bearer(const std::vector<std::string_view>& lines, std::string_view& token, std::string& rest);
// For the upstream: the offer with the element after every "bearer" (any
// case, and not itself such a name) removed, and always the one
// subprotocol_bearer takes; true when one was. Reading is exact, removing
// generous.
bool remove_bearer_subprotocols(const std::vector<std::string_view>& lines, std::string& rest);

}  // namespace spa::core
