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
// file that loads to the same config. The oracles are config_fuzz.h's,
// shared with member_config_fuzz.

#include <cstddef>
#include <cstdint>
#include <string>

#include "config/colony_file.h"
#include "config_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static constexpr coral::fuzz::ConfigFuzzNames kNames{
      .fuzzer = "colony_config_fuzz",
      .does_not_load = "to_yaml wrote a colony file that does not load",
      .round_trip_changed = "to_yaml then load changed the config"};
  return coral::fuzz::check_config_file(kNames, data, size,
                                        [](const std::string& path) { return coral::config::load(path); });
}
