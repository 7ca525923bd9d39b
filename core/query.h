// URL query strings (`a=1&b=2`) as the module removes tokens from them and
// redacts secrets in what it logs. A parameter's name is compared after
// percent-decoding and without case, so `Code=`, `%63ode=` and `code=` are
// the same name: an upstream or a log reader may decode them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace spa::core {

// Parameters whose value is a secret in any request: OAuth's code and state
// (RFC 6749 §4.1.2) and the usual names of tokens in URLs.
const std::vector<std::string>& secret_query_names();

// The query without the parameters named one of `names`; `removed` says
// whether any was. The others keep their order and spelling.
std::string remove_query_params(std::string_view query, const std::vector<std::string>& names, bool& removed);
// In place, keeping the length (for nginx's log buffers): the values of
// secret parameters (as redact_query finds them) become '*'.
void mask_query_secrets(char* text, size_t len, const std::vector<std::string>& names);

// The query with the value of every parameter named one of `names` (or in
// secret_query_names()) replaced by `[redacted]`.
std::string redact_query(std::string_view query, const std::vector<std::string>& names);

// A request line (`GET /p?q HTTP/1.1`) with its query redacted.
std::string redact_request_line(std::string_view line, const std::vector<std::string>& names);

}  // namespace spa::core
