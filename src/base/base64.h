#pragma once
// Base64 (RFC 4648): the standard alphabet for keys and gRPC-Web text, the
// URL-safe one for HTTP2-Settings and Connect GET messages.

#include <optional>
#include <string>
#include <string_view>

namespace coral::base {

enum class Base64Alphabet { standard, url };

std::string base64_encode(std::string_view data, Base64Alphabet alphabet = Base64Alphabet::standard,
                          bool pad = true);
// Padding is optional, but only as padding (one or two '=' completing the
// last group of four); whitespace and characters of the other alphabet are
// rejected. Leftover bits in the last character are ignored, as Go's
// decoder does. nullopt on malformed input.
std::optional<std::string> base64_decode(std::string_view text,
                                         Base64Alphabet alphabet = Base64Alphabet::standard);

}  // namespace coral::base
