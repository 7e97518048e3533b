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
#include "secret_values.h"

namespace {

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "colony_config_fuzz: oracle failed: %s\n", what);
  __builtin_trap();
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
    for (const std::string_view secret : coral::fuzz::secret_values(text)) {
      if (coral::fuzz::occurrences(text, secret) != 1) continue;
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
