#include "base/json_text.h"

#include "base/text.h"

namespace coral::base {

std::size_t utf8_sequence(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char b0 = byte(0);
  if (b0 < 0x80) return 1;
  std::size_t length = 0;
  unsigned char min1 = 0x80, max1 = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    if (b0 == 0xE0) min1 = 0xA0;  // overlong
    if (b0 == 0xED) max1 = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    if (b0 == 0xF0) min1 = 0x90;  // overlong
    if (b0 == 0xF4) max1 = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  if (byte(1) < min1 || byte(1) > max1) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

std::string replace_invalid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const std::size_t n = utf8_sequence(text);
    if (n == 0) {
      out += kUtf8Replacement;
      text.remove_prefix(1);
    } else {
      out.append(text.substr(0, n));
      text.remove_prefix(n);
    }
  }
  return out;
}

void append_json_string(std::string& out, std::string_view text, JsonStringOptions options) {
  const auto u00 = [&](unsigned char c) {
    out += "\\u00";
    append_hex(out, c);
  };
  out += '"';
  while (!text.empty()) {
    const unsigned char c = static_cast<unsigned char>(text[0]);
    if (c >= 0x80) {
      // JSON text must be UTF-8; invalid bytes in an error message (e.g. a
      // handler echoing binary input) become U+FFFD instead of breaking the
      // document.
      const std::size_t n = utf8_sequence(text);
      if (n == 0) {
        if (options.invalid_bytes_as_hex) {
          out += "\\x";
          append_hex(out, c);
        } else {
          out += options.escape_terminal_controls ? std::string_view("\\ufffd") : kUtf8Replacement;
        }
        text.remove_prefix(1);
      } else if (options.escape_terminal_controls && n == 2 && c == 0xC2 &&
                 static_cast<unsigned char>(text[1]) <= 0x9F) {
        u00(static_cast<unsigned char>(text[1]));  // U+0080-U+009F
        text.remove_prefix(2);
      } else {
        out.append(text.substr(0, n));
        text.remove_prefix(n);
      }
      continue;
    }
    text.remove_prefix(1);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || (options.escape_terminal_controls && c == 0x7f)) {
          u00(c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

}  // namespace coral::base
