#include "cli/wg_quick.h"

namespace coral::cli {

std::string with_prefix_of(std::string_view address, std::string_view network) {
  const auto slash = network.rfind('/');
  return std::string(address) + (slash == std::string_view::npos ? std::string() : std::string(network.substr(slash)));
}

std::string render_wg_quick(std::string_view colony_id, const coral::colony::v1::AddPeerResponse& added,
                            std::string_view private_key) {
  const auto& peer = added.peer();
  std::string out;
  out += "# coral mesh of colony " + std::string(colony_id) + ": device " + peer.name() + " (" + peer.peer_id() + ")\n";
  out += "# Install as /etc/wireguard/coral.conf (mode 0600), then: wg-quick up coral\n";
  out += "[Interface]\n";
  if (private_key.empty()) {
    out += "# PrivateKey = <the private key of " + peer.wireguard_pubkey() + ">\n";
  } else {
    out += "PrivateKey = " + std::string(private_key) + "\n";
  }
  out += "Address = " + with_prefix_of(peer.mesh_ipv4(), added.mesh_network_ipv4()) + ", " +
         with_prefix_of(peer.mesh_ipv6(), added.mesh_network_ipv6()) + "\n";
  out += "\n[Peer]\n";
  out += "# the colony: " + added.colony_mesh_ipv4() + " / " + added.colony_mesh_ipv6() + ", services on port " +
         std::to_string(added.colony_connect_port()) + "\n";
  out += "PublicKey = " + added.colony_wireguard_pubkey() + "\n";
  if (added.colony_endpoints_size() == 0) {
    out += "# Endpoint = <the colony's public HOST:PORT: it announces none (coral colony start --public-endpoint)>\n";
  } else {
    out += "Endpoint = " + added.colony_endpoints(0) + "\n";
    for (int i = 1; i < added.colony_endpoints_size(); ++i) {
      out += "# Endpoint = " + added.colony_endpoints(i) + " (another of the colony's endpoints)\n";
    }
  }
  out += "AllowedIPs = " + added.mesh_network_ipv4() + ", " + added.mesh_network_ipv6() + "\n";
  out += "PersistentKeepalive = " + std::to_string(kDevicePersistentKeepalive) + "\n";
  return out;
}

}  // namespace coral::cli
