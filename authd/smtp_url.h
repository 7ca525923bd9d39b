// [smtp] url read the way libcurl reads it (its URL API, CURLU_GUESS_SCHEME):
// whether delivery must use STARTTLS, and whether the URL carries a
// password. Apart from the Mailer so that the configuration's check needs
// no mail thread.
#pragma once

#include <string>

namespace spa::authd {

// True for an smtp:// URL whose host is not this machine (localhost,
// 127.0.0.0/8, [::1]): the Mailer then requires STARTTLS.
bool smtp_needs_starttls(const std::string& url);
// A password in the URL's user part ("smtp://user:secret@host"), read the
// way libcurl reads it; false for a URL libcurl cannot parse (it sends nothing).
bool smtp_url_has_password(const std::string& url);

}  // namespace spa::authd
