// config::load_member_file over arbitrary text: the member file (`coral
// colony invite` writes it, `coral colony import` reads it: it comes from
// another machine, and operators edit it by hand).
//
// Oracles, as colony_config_fuzz's: nothing escapes but a result; an error
// names the file and never repeats the value of a secret field
// (colony_secret, or the private_key of a colony file given by mistake);
// and a file that loads is written back (to_yaml) as a file that loads to
// the same member config.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "config/member_file.h"
#include "crypto/keys.h"
#include "memfd_file.h"
#include "secret_values.h"

namespace {

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "member_config_fuzz: oracle failed: %s\n", what);
  __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static coral::fuzz::MemoryFile file;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string path = file.hold(text);
  auto member = coral::config::load_member_file(path);
  if (!member) {
    const std::string& error = member.error();
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
  std::string written = coral::config::to_yaml(*member);
  auto again = coral::config::load_member_file(file.hold(written));
  coral::crypto::wipe(written);
  require(again.has_value(), "to_yaml wrote a member file that does not load");
  require(*again == *member, "to_yaml then load changed the member config");
  coral::crypto::wipe(member->colony_secret);
  if (again) coral::crypto::wipe(again->colony_secret);
  return 0;
}
