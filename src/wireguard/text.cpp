#include "wireguard/text.h"

#include "base/text.h"

namespace coral::wireguard {
bool looks_like_key(std::string_view text) {
  const auto all = [text](auto predicate) {
    for (char c : text) {
      if (!predicate(c)) return false;
    }
    return true;
  };
  const auto is_alnum = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (text.size() >= 40 && all([](char c) { return base::hex_digit(c).has_value(); })) return true;
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
  return base::quote(text, base::QuoteOptions{.max_bytes = 64, .cut_names_size = false, .keep_utf8 = false});
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
    const auto digit = base::hex_digit(c);
    if (!digit) return std::nullopt;
    if (value > (max - *digit) / 16) return std::nullopt;
    value = value * 16 + *digit;
  }
  return value;
}

}  // namespace coral::wireguard
