// proxy::load_state over arbitrary text: a proxy's runtime state file
// (<config dir>/proxies/<colony-id>.yaml), which `coral proxy list/status`
// read and which anyone who can write the directory can edit.
//
// Oracles: nothing escapes but a result (no exception, no crash); an error
// names the file; a state that loads is written back (to_yaml) as a file
// that loads to the same state.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "memfd_file.h"
#include "proxy/state.h"

namespace {

using coral::proxy::ProxyState;

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "proxy_state_fuzz: oracle failed: %s\n", what);
  __builtin_trap();
}

bool same(const ProxyState& a, const ProxyState& b) {
  return a.colony_id == b.colony_id && a.listen == b.listen && a.colony_mesh_ipv4 == b.colony_mesh_ipv4 &&
         a.colony_mesh_ipv6 == b.colony_mesh_ipv6 && a.colony_connect_port == b.colony_connect_port &&
         a.forwarding_to == b.forwarding_to && a.mesh_ipv4 == b.mesh_ipv4 && a.mesh_ipv6 == b.mesh_ipv6 &&
         a.transport == b.transport && a.status == b.status && a.pid == b.pid && a.started_at == b.started_at;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static coral::fuzz::MemoryFile file;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string path = file.hold(text);
  auto state = coral::proxy::load_state(path);
  if (!state) {
    require(state.error().starts_with(path + ": "), "an error does not name the file");
    return 0;
  }
  const std::string written = coral::proxy::to_yaml(*state);
  auto again = coral::proxy::load_state(file.hold(written));
  require(again.has_value(), "to_yaml wrote a state file that does not load");
  require(same(*again, *state), "to_yaml then load_state changed the state");
  return 0;
}
