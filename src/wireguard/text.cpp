#include "wireguard/text.h"

#include <cstdio>

namespace coral::wireguard {
namespace {

std::optional<unsigned> hex_digit(char c) {
  if (c >= '0' && c <= '9') return unsigned(c - '0');
  if (c >= 'a' && c <= 'f') return unsigned(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return unsigned(c - 'A' + 10);
  return std::nullopt;
}

}  // namespace

bool looks_like_key(std::string_view text) {
  const auto all = [text](auto predicate) {
    for (char c : text) {
      if (!predicate(c)) return false;
    }
    return true;
  };
  const auto is_alnum = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (text.size() >= 40 && all([](char c) { return hex_digit(c).has_value(); })) return true;
  return text.size() >= 40 && text.size() <= 48 &&
         all([&](char c) { return is_alnum(c) || c == '+' || c == '/' || c == '='; });
}

bool is_key_name(std::string_view text) {
  if (text.empty() || text.size() > 32) return false;
  const auto is_letter = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
  if (!is_letter(text.front())) return false;
  for (char c : text) {
    if (!is_letter(c) && !(c >= '0' && c <= '9') && c != '_' && c != '-') return false;
  }
  return true;
}

std::string quote(std::string_view text) {
  if (looks_like_key(text)) return "(not shown: it looks like a key)";
  constexpr std::size_t kMax = 64;
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += char(c);
    } else {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    }
  }
  if (text.size() > kMax) out += "...";
  return out + "\"";
}

std::optional<std::uint64_t> parse_decimal(std::string_view text, std::uint64_t max) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = std::uint64_t(c - '0');
    // value * 10 + digit > max, without overflowing.
    if (value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<std::uint64_t> parse_hex(std::string_view text, std::uint64_t max) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    const auto digit = hex_digit(c);
    if (!digit) return std::nullopt;
    if (value > (max - *digit) / 16) return std::nullopt;
    value = value * 16 + *digit;
  }
  return value;
}

}  // namespace coral::wireguard
