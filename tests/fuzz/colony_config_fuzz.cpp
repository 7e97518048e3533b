// config::load over arbitrary text: the colony file (<config dir>/colonies/
// <colony-id>.yaml), which operators edit by hand.
//
// Oracles: nothing escapes but a result (no exception, no crash); an error
// names the file; an error never repeats the value of a secret field
// (colony_secret, wireguard.private_key), however the line is mangled
// ("colony_secret:value" without the space is a typo operators make) —
// checked for values that look like secrets (16 characters or more, an
// upper-case letter, no blank: base64 of random bytes) and occur once in
// the file, so that neither the fixed wording of a message (sentences,
// lists of field names) nor another field's value can contain them; and a file that loads is written back (to_yaml) as a
// file that loads to the same config.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "config/colony_file.h"
#include "crypto/keys.h"
#include "memfd_file.h"

namespace {

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "colony_config_fuzz: oracle failed: %s\n", what);
  __builtin_trap();
}

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view trim(std::string_view text, std::string_view drop) {
  while (!text.empty() && drop.find(text.front()) != std::string_view::npos) text.remove_prefix(1);
  while (!text.empty() && drop.find(text.back()) != std::string_view::npos) text.remove_suffix(1);
  return text;
}

// The values of the lines that name a secret field, as an operator reads
// them: "<name>" then anything up to a ':', the rest without blanks, quotes
// and a trailing comment.
std::vector<std::string_view> secret_values(std::string_view text) {
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

std::size_t occurrences(std::string_view text, std::string_view needle) {
  std::size_t count = 0;
  for (std::size_t at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static coral::fuzz::MemoryFile file;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string path = file.hold(text);
  auto config = coral::config::load(path);
  if (!config) {
    const std::string& error = config.error();
    require(error.starts_with(path + ": "), "an error does not name the file");
    for (const std::string_view secret : secret_values(text)) {
      if (occurrences(text, secret) != 1) continue;
      if (error.find(secret) != std::string::npos) {
        std::fprintf(stderr, "error: %s\n", error.c_str());
        require(false, "an error repeats the value of a secret field");
      }
    }
    return 0;
  }
  std::string written = coral::config::to_yaml(*config);
  auto again = coral::config::load(file.hold(written));
  coral::crypto::wipe(written);
  require(again.has_value(), "to_yaml wrote a colony file that does not load");
  require(*again == *config, "to_yaml then load changed the config");
  return 0;
}
