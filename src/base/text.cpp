#include "base/text.h"

#include <algorithm>

#include "base/json_text.h"

namespace coral::base {
namespace {

constexpr std::string_view kLower = "0123456789abcdef";
constexpr std::string_view kUpper = "0123456789ABCDEF";

// Whether `sequence`, a well-formed UTF-8 sequence of two or more bytes, is
// a C1 control (U+0080-U+009F: 0xC2 0x80-0x9F), which terminals act on.
bool is_c1_control(std::string_view sequence) {
  return sequence.size() == 2 && static_cast<unsigned char>(sequence[0]) == 0xC2 &&
         static_cast<unsigned char>(sequence[1]) < 0xA0;
}

}  // namespace

std::string quote(std::string_view text, QuoteOptions options) {
  const std::size_t shown = std::min(text.size(), options.max_bytes);
  const std::string_view body = text.substr(0, shown);
  // Appended piece by piece: g++ 12 at -O3 misreads "\"" + std::string (a
  // -Wrestrict false positive, GCC bug 105329).
  std::string out;
  out.reserve(shown + 2);
  out += '"';
  for (std::size_t i = 0; i < body.size();) {
    const char c = body[i];
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
      ++i;
    } else if (byte >= 0x20 && byte < 0x7f) {
      out += c;
      ++i;
    } else if (const std::size_t n = byte >= 0x80 && options.keep_utf8 ? utf8_sequence(body.substr(i)) : 0;
               n > 0 && !is_c1_control(body.substr(i, n))) {
      out.append(body.substr(i, n));
      i += n;
    } else {
      out += "\\x";
      append_hex(out, byte);
      ++i;
    }
  }
  if (shown < text.size() && !options.cut_names_size) out += "...";
  out += '"';
  if (shown < text.size() && options.cut_names_size) {
    out += "... (";
    out += std::to_string(text.size());
    out += " bytes)";
  }
  return out;
}

void append_hex(std::string& out, std::uint8_t byte, HexCase letters) {
  const std::string_view digits = letters == HexCase::upper ? kUpper : kLower;
  out += digits[byte >> 4];
  out += digits[byte & 15];
}

std::string hex(std::span<const std::uint8_t> bytes, HexCase letters) {
  std::string out;
  out.reserve(2 * bytes.size());
  for (const std::uint8_t byte : bytes) append_hex(out, byte, letters);
  return out;
}

std::string hex(std::string_view bytes, HexCase letters) {
  std::string out;
  out.reserve(2 * bytes.size());
  for (const char byte : bytes) append_hex(out, static_cast<std::uint8_t>(byte), letters);
  return out;
}

std::optional<std::uint8_t> hex_digit(char c) {
  if (c >= '0' && c <= '9') return static_cast<std::uint8_t>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<std::uint8_t>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<std::uint8_t>(c - 'A' + 10);
  return std::nullopt;
}

bool from_hex(std::string_view text, std::span<std::uint8_t> out) {
  if (text.size() == 2 * out.size()) {
    std::size_t i = 0;
    for (; i < out.size(); ++i) {
      const auto high = hex_digit(text[2 * i]);
      const auto low = hex_digit(text[2 * i + 1]);
      if (!high || !low) break;
      out[i] = static_cast<std::uint8_t>(*high << 4 | *low);
    }
    if (i == out.size()) return true;
  }
  std::fill(out.begin(), out.end(), std::uint8_t{0});
  return false;
}

char to_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string to_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = to_lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return to_lower(x) == to_lower(y); });
}

std::string_view trim(std::string_view text) {
  const auto is_ows = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && is_ows(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_ows(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace coral::base
