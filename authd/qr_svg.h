// An otpauth URI as a QR code in SVG (libqrencode), for /api/v1/mfa/setup.
#pragma once

#include <string>
#include <string_view>

namespace spa::authd {

// Empty when the text cannot be encoded.
std::string qr_svg(std::string_view text);

}  // namespace spa::authd
