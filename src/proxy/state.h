#pragma once
// A running proxy's runtime state (RFD 005, "Proxy Config (Runtime
// State)"), one pair of files per colony it serves, under
// <config dir>/proxies/:
//
//   <colony-id>.pid    held (flock) by the proxy while it runs
//   <colony-id>.yaml   what it serves and where (below), mode 0600
//
//   colony_id: my-app-prod-a3f2e1
//   listen: localhost:8000
//   colony_mesh_ipv4: 10.42.0.1
//   colony_mesh_ipv6: fd42::1
//   colony_connect_port: 9000
//   forwarding_to: 10.42.0.1:9000
//   mesh_ipv4: 10.42.0.15            (the proxy's, when it registered)
//   mesh_ipv6: fd42::f
//   transport: host
//   status: connected
//   pid: 12345
//   started_at: 2026-11-24T23:24:28Z
//
// Both files are removed on a clean exit. On that exit the proxy also
// leaves what became of its registration, for `coral proxy stop` to report
// (the stopping CLI reads it once the PID file is released, then removes
// it):
//
//   <colony-id>.stopped  pid: 12345
//                        unregister: unregistered | not registered | failed
//                        error: <why, when failed>
// A state file whose PID file is not
// held belongs to a proxy that died: it is stale, and cleaned up by the
// next reader that notices (list_proxies).

#include <sys/types.h>

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <vector>

namespace coral::proxy {

struct ProxyState {
  std::string colony_id;
  std::string listen;  // "localhost:8000", as given (host:port)
  std::string colony_mesh_ipv4;
  std::string colony_mesh_ipv6;
  std::uint16_t colony_connect_port = 0;
  std::string forwarding_to;  // "10.42.0.1:9000" or "[fd42::1]:9000"
  std::string mesh_ipv4;      // the proxy's own, empty when it did not register
  std::string mesh_ipv6;
  std::string transport;
  std::string status;  // "connected" when written
  pid_t pid = 0;
  std::string started_at;  // RFC 3339, UTC
};

std::string to_yaml(const ProxyState& state);
// Errors name the file and the field.
std::expected<ProxyState, std::string> load_state(const std::filesystem::path& file);

// What became of a proxy's registration with one colony when it stopped.
struct StopReport {
  enum class Unregister {
    unregistered,    // MeshService.Unregister succeeded
    not_registered,  // it had no registration to undo (no colony secret, colony never reached)
    failed,          // Unregister failed (`error`): the colony expires the peer after missed heartbeats
  };
  pid_t pid = 0;
  Unregister unregister = Unregister::not_registered;
  std::string error;
  bool closed_tunnel = false;  // it had a WireGuard tunnel (userspace transport) and closed it
};
std::string_view to_string(StopReport::Unregister unregister);
std::filesystem::path stop_report_file(const std::filesystem::path& proxies_dir, const std::string& colony_id);
std::string to_yaml(const StopReport& report);
std::expected<StopReport, std::string> load_stop_report(const std::filesystem::path& file);

struct ProxyEntry {
  ProxyState state;
  enum class Liveness { running, stale } liveness = Liveness::running;
  std::string error;  // the state file did not load
};

// Every proxies/*.yaml, sorted by colony id. Stale entries (PID file not
// held) are returned once as stale and their files removed.
std::vector<ProxyEntry> list_proxies(const std::filesystem::path& proxies_dir);

}  // namespace coral::proxy
