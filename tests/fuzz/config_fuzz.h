#pragma once
// The oracles the config file fuzzers (colony_config_fuzz,
// member_config_fuzz) share: a loader's result on arbitrary text, an
// error that names the file and never repeats the value of a secret field
// (secret_values.h), and a file that loads written back (to_yaml) as a
// file that loads to the same config.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "crypto/keys.h"
#include "memfd_file.h"
#include "secret_values.h"

namespace coral::fuzz {

// What a config fuzzer calls itself and its file in oracle failures.
struct ConfigFuzzNames {
  const char* fuzzer;            // "<fuzzer>: oracle failed: ..."
  const char* does_not_load;     // the written file does not load
  const char* round_trip_changed;  // it loads to another config
};

inline void require(const ConfigFuzzNames& names, bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "%s: oracle failed: %s\n", names.fuzzer, what);
  __builtin_trap();
}

// Runs the oracles on one input: `load` takes a path (config::load,
// config::load_member_file); the config's to_yaml writes it back.
template <class Load>
int check_config_file(const ConfigFuzzNames& names, const std::uint8_t* data, std::size_t size, Load load) {
  static MemoryFile file;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string path = file.hold(text);
  auto config = load(path);
  if (!config) {
    const std::string& error = config.error();
    require(names, error.starts_with(path + ": "), "an error does not name the file");
    for (const std::string_view secret : secret_values(text)) {
      if (occurrences(text, secret) != 1) continue;
      if (error.find(secret) != std::string::npos) {
        std::fprintf(stderr, "error: %s\n", error.c_str());
        require(names, false, "an error repeats the value of a secret field");
      }
    }
    return 0;
  }
  std::string written = to_yaml(*config);
  auto again = load(file.hold(written));
  crypto::wipe(written);
  require(names, again.has_value(), names.does_not_load);
  require(names, *again == *config, names.round_trip_changed);
  crypto::wipe(config->colony_secret);
  if (again) crypto::wipe(again->colony_secret);
  return 0;
}

}  // namespace coral::fuzz
