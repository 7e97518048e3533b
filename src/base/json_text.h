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

// `text` with each byte that is not part of well-formed UTF-8 replaced by
// U+FFFD; control characters are kept.
std::string replace_invalid_utf8(std::string_view text);

struct JsonStringOptions {
  // Also escape what a terminal would act on besides C0: DEL and the C1
  // controls (U+0080-U+009F) as \u00XX, and U+FFFD for broken bytes as
  // \ufffd (for logs, which people read on terminals).
  bool escape_terminal_controls = false;
  // A byte that is not UTF-8 as "\xNN" (the byte, for a reader; not JSON:
  // the text log format) instead of U+FFFD.
  bool invalid_bytes_as_hex = false;
};

// Appends `text` as a JSON string literal, quotes included. Control
// characters are escaped; bytes that are not UTF-8 become U+FFFD, so the
// document stays valid whatever the input.
void append_json_string(std::string& out, std::string_view text, JsonStringOptions options = {});

}  // namespace coral::base
