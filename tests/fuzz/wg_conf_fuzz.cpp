// The WireGuard configuration file parser (conf_file.h) over arbitrary
// text.
//
// Oracles: a file that parses formats (format_conf) to text that parses
// back to equal settings; diagnostics name a line of the file (or 0); and
// the diagnostics about a PrivateKey or PresharedKey line never repeat its
// value, valid key or not (values shorter than 16 characters are not
// checked: the fixed wording of a message could contain them).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keys.h"
#include "wireguard/conf_file.h"

namespace {

using namespace coral::wireguard;

constexpr std::string_view kFileName = "fuzz.conf";

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "wg_conf_fuzz: oracle failed: %s\n", what);
  __builtin_trap();
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

struct SecretLine {
  std::size_t number = 0;
  std::string value;
};

// The values of the PrivateKey and PresharedKey lines, as the file's rules
// read them: '#' starts a comment, whitespace is dropped.
std::vector<SecretLine> secret_lines(std::string_view text, std::size_t& line_count) {
  std::vector<SecretLine> secrets;
  line_count = 0;
  while (!text.empty()) {
    ++line_count;
    const std::size_t newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    std::string cleaned;
    for (char c : line.substr(0, line.find('#'))) {
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f') cleaned += c;
    }
    const std::size_t equals = cleaned.find('=');
    if (equals != std::string::npos) {
      const std::string_view key = std::string_view(cleaned).substr(0, equals);
      if (iequals(key, "PrivateKey") || iequals(key, "PresharedKey")) {
        std::string value = cleaned.substr(equals + 1);
        if (value.size() >= 16) secrets.push_back({line_count, std::move(value)});
      }
    }
    if (newline == std::string_view::npos) break;
    text.remove_prefix(newline + 1);
  }
  return secrets;
}

void check_diagnostic(const ConfDiagnostic& diagnostic, const std::vector<SecretLine>& secrets,
                      std::size_t line_count) {
  require(diagnostic.file == kFileName, "a diagnostic names another file");
  require(diagnostic.line <= line_count, "a diagnostic names a line past the end");
  require(!diagnostic.message.empty(), "a diagnostic says nothing");
  for (const SecretLine& secret : secrets) {
    if (secret.number != diagnostic.line) continue;
    require(diagnostic.message.find(secret.value) == std::string::npos, "a diagnostic repeats a key");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::size_t line_count = 0;
  const std::vector<SecretLine> secrets = secret_lines(text, line_count);

  auto parsed = parse_conf(text, kFileName);
  if (!parsed) {
    check_diagnostic(parsed.error(), secrets, line_count);
    return 0;
  }
  for (const ConfDiagnostic& warning : parsed->warnings) check_diagnostic(warning, secrets, line_count);

  std::string formatted = format_conf(parsed->settings);
  auto again = parse_conf(formatted, kFileName);
  require(again.has_value(), "format_conf wrote a file that does not parse");
  require(again->settings == parsed->settings, "format_conf then parse_conf changed the settings");
  coral::crypto::wipe(formatted);
  return 0;
}
