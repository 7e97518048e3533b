#pragma once
// What the config file fuzzers (colony_config_fuzz, member_config_fuzz)
// check errors against: the values of the lines that name a secret field.

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <vector>

namespace coral::fuzz {

inline bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

inline std::string_view trim(std::string_view text, std::string_view drop) {
  while (!text.empty() && drop.find(text.front()) != std::string_view::npos) text.remove_prefix(1);
  while (!text.empty() && drop.find(text.back()) != std::string_view::npos) text.remove_suffix(1);
  return text;
}

// The values of the lines that name a secret field, as an operator reads
// them: "<name>" then anything up to a ':', the rest without blanks, quotes
// and a trailing comment.
inline std::vector<std::string_view> secret_values(std::string_view text) {
  std::vector<std::string_view> values;
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    while (!line.empty() && is_blank(line.front())) line.remove_prefix(1);
    if (!line.starts_with("colony_secret") && !line.starts_with("private_key")) continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    value = value.substr(0, value.find(" #"));
    value = trim(value, " \t\r\"'");
    const bool upper = std::any_of(value.begin(), value.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    const bool blank = value.find_first_of(" \t") != std::string_view::npos;
    if (value.size() >= 16 && upper && !blank) values.push_back(value);
  }
  return values;
}

inline std::size_t occurrences(std::string_view text, std::string_view needle) {
  std::size_t count = 0;
  for (std::size_t at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

}  // namespace coral::fuzz
