// config::load_member_file over arbitrary text: the member file (`coral
// colony invite` writes it, `coral colony import` reads it: it comes from
// another machine, and operators edit it by hand).
//
// Oracles, colony_config_fuzz's (config_fuzz.h): nothing escapes but a result; an error
// names the file and never repeats the value of a secret field
// (colony_secret, or the private_key of a colony file given by mistake);
// and a file that loads is written back (to_yaml) as a file that loads to
// the same member config.

#include <cstddef>
#include <cstdint>
#include <string>

#include "config/member_file.h"
#include "config_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static constexpr coral::fuzz::ConfigFuzzNames kNames{
      .fuzzer = "member_config_fuzz",
      .does_not_load = "to_yaml wrote a member file that does not load",
      .round_trip_changed = "to_yaml then load changed the member config"};
  return coral::fuzz::check_config_file(kNames, data, size,
                                        [](const std::string& path) { return coral::config::load_member_file(path); });
}
