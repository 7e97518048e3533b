#pragma once
// Writing JSON strings, and the UTF-8 checks that keeps them valid: shared
// by Connect's error bodies and the JSON log format.

#include <cstddef>
#include <string>
#include <string_view>

namespace coral::base {

inline constexpr std::string_view kUtf8Replacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed UTF-8 sequence at the start of `text` (RFC 3629:
// no overlongs, no surrogates, nothing above U+10FFFF), or 0.
std::size_t utf8_sequence(std::string_view text);

// Appends `text` as a JSON string literal, quotes included. Control
// characters are escaped; bytes that are not UTF-8 become U+FFFD, so the
// document stays valid whatever the input.
void append_json_string(std::string& out, std::string_view text);

}  // namespace coral::base
