// The wg-quick file of `coral colony peers add` (cli/wg_quick.h), checked
// byte for byte and read back by coral's own parser of `wg` configuration
// files; and the table of `coral colony peers`.

#include "cli/wg_quick.h"

#include <gtest/gtest.h>

#include <google/protobuf/util/time_util.h>

#include "cli/colony_peers.h"
#include "crypto/keys.h"
#include "wireguard/conf_file.h"

namespace coral::cli {
namespace {

namespace cv1 = coral::colony::v1;
using google::protobuf::util::TimeUtil;

cv1::AddPeerResponse added_laptop(std::vector<std::string> endpoints) {
  cv1::AddPeerResponse added;
  cv1::MeshPeer& peer = *added.mutable_peer();
  peer.set_peer_id("peer-3f2a1b0c9d8e");
  peer.set_name("laptop");
  peer.set_kind("device");
  peer.set_mesh_ipv4("10.42.0.5");
  peer.set_mesh_ipv6("fd42::5");
  peer.set_wireguard_pubkey("DEVICEKEYDEVICEKEYDEVICEKEYDEVICEKEYDEVICE=");
  added.set_colony_wireguard_pubkey("COLONYKEYCOLONYKEYCOLONYKEYCOLONYKEYCOLONY=");
  for (auto& endpoint : endpoints) added.add_colony_endpoints(endpoint);
  added.set_mesh_network_ipv4("10.42.0.0/16");
  added.set_mesh_network_ipv6("fd42::/64");
  added.set_colony_mesh_ipv4("10.42.0.1");
  added.set_colony_mesh_ipv6("fd42::1");
  added.set_colony_connect_port(9000);
  return added;
}

TEST(WgQuick, WithoutAPrivateKeyACommentSaysWhereItGoes) {
  EXPECT_EQ(render_wg_quick("shop-prod-a1ec02", added_laptop({"203.0.113.7:41820", "colony.example:41820"}), ""),
            "# coral mesh of colony shop-prod-a1ec02: device laptop (peer-3f2a1b0c9d8e)\n"
            "# Install as /etc/wireguard/coral.conf (mode 0600), then: wg-quick up coral\n"
            "[Interface]\n"
            "# PrivateKey = <the private key of DEVICEKEYDEVICEKEYDEVICEKEYDEVICEKEYDEVICE=>\n"
            "Address = 10.42.0.5/16, fd42::5/64\n"
            "\n"
            "[Peer]\n"
            "# the colony: 10.42.0.1 / fd42::1, services on port 9000\n"
            "PublicKey = COLONYKEYCOLONYKEYCOLONYKEYCOLONYKEYCOLONY=\n"
            "Endpoint = 203.0.113.7:41820\n"
            "# Endpoint = colony.example:41820 (another of the colony's endpoints)\n"
            "AllowedIPs = 10.42.0.0/16, fd42::/64\n"
            "PersistentKeepalive = 25\n");
}

TEST(WgQuick, AColonyWithoutPublicEndpointsGetsAnEndpointComment) {
  const std::string file = render_wg_quick("c", added_laptop({}), "");
  EXPECT_NE(file.find("\n# Endpoint = <the colony's public HOST:PORT: it announces none "
                      "(coral colony start --public-endpoint)>\n"),
            std::string::npos)
      << file;
  EXPECT_EQ(file.find("\nEndpoint ="), std::string::npos) << file;
}

// With its private key the file is complete: wg's own rules read it back
// as the device it describes.
TEST(WgQuick, WithAPrivateKeyTheFileParsesAsTheDevice) {
  const auto device = crypto::SecretKey::generate();
  const auto colony = crypto::SecretKey::generate().public_key();
  cv1::AddPeerResponse added = added_laptop({"203.0.113.7:41820"});
  added.mutable_peer()->set_wireguard_pubkey(device.public_key().to_base64());
  added.set_colony_wireguard_pubkey(colony.to_base64());
  const std::string file = render_wg_quick("c", added, device.to_base64());

  auto parsed = wireguard::parse_conf(file, "coral.conf");
  ASSERT_TRUE(parsed) << parsed.error().to_string() << "\n" << file;
  const auto& settings = parsed->settings;
  EXPECT_EQ(settings.interface.private_key, device);
  ASSERT_EQ(settings.interface.addresses.size(), 2U);
  EXPECT_EQ(settings.interface.addresses[0].to_string(), "10.42.0.5/16");
  EXPECT_EQ(settings.interface.addresses[1].to_string(), "fd42::5/64");
  ASSERT_EQ(settings.peers.size(), 1U);
  const auto& peer = settings.peers[0];
  EXPECT_EQ(peer.public_key, colony);
  ASSERT_TRUE(peer.endpoint);
  EXPECT_EQ(peer.endpoint->to_string(), "203.0.113.7:41820");
  ASSERT_EQ(peer.allowed_ips.size(), 2U);
  EXPECT_EQ(peer.allowed_ips[0].to_string(), "10.42.0.0/16");
  EXPECT_EQ(peer.allowed_ips[1].to_string(), "fd42::/64");
  EXPECT_EQ(peer.persistent_keepalive, 25);
}

TEST(WgQuick, AddressesTakeTheSubnetsPrefixLengths) {
  EXPECT_EQ(with_prefix_of("10.42.0.5", "10.42.0.0/16"), "10.42.0.5/16");
  EXPECT_EQ(with_prefix_of("127.42.0.2", "127.42.0.0/24"), "127.42.0.2/24");
  EXPECT_EQ(with_prefix_of("fd42::5", "fd42::/64"), "fd42::5/64");
}

TEST(PeerTable, ShowsWireGuardFactsWhenTheTransportHasThem) {
  const auto now = TimeUtil::SecondsToTimestamp(1'800'000'100);
  cv1::ListPeersResponse peers;
  peers.set_wireguard_device(true);
  cv1::MeshPeer& laptop = *peers.add_peers();
  laptop.set_name("laptop");
  laptop.set_peer_id("peer-3f2a1b0c9d8e");
  laptop.set_kind("device");
  laptop.set_health("manual");
  laptop.set_mesh_ipv4("10.42.0.5");
  laptop.set_mesh_ipv6("fd42::5");
  laptop.mutable_wireguard()->set_endpoint("198.51.100.9:51820");
  *laptop.mutable_wireguard()->mutable_latest_handshake() = TimeUtil::SecondsToTimestamp(1'800'000'088);
  laptop.mutable_wireguard()->set_rx_bytes(2048);
  laptop.mutable_wireguard()->set_tx_bytes(100);
  cv1::MeshPeer& phone = *peers.add_peers();
  phone.set_name("phone");
  phone.set_peer_id("peer-000000000001");
  phone.set_kind("device");
  phone.set_health("manual");
  phone.set_mesh_ipv4("10.42.0.6");
  phone.set_mesh_ipv6("fd42::6");
  phone.mutable_wireguard();  // on the device, never shook hands
  EXPECT_EQ(format_peer_table(peers, now),
            "NAME    PEER ID            KIND    HEALTH  IPV4       IPV6     ENDPOINT            LATEST HANDSHAKE  "
            "TRANSFER\n"
            "laptop  peer-3f2a1b0c9d8e  device  manual  10.42.0.5  fd42::5  198.51.100.9:51820  12s ago           "
            "2.0 KiB in, 100 B out\n"
            "phone   peer-000000000001  device  manual  10.42.0.6  fd42::6  -                   never             "
            "0 B in, 0 B out\n");
}

TEST(PeerTable, SaysWhyThereAreNoWireGuardFactsOnTheHostTransport) {
  cv1::ListPeersResponse peers;
  EXPECT_EQ(format_peer_table(peers, TimeUtil::GetCurrentTime()), "No peers.\n");
  cv1::MeshPeer& api = *peers.add_peers();
  api.set_name("api");
  api.set_peer_id("peer-aaaaaaaaaaaa");
  api.set_kind("agent");
  api.set_health("healthy");
  api.set_mesh_ipv4("127.42.0.2");
  api.set_mesh_ipv6("fd42::2");
  const std::string table = format_peer_table(peers, TimeUtil::GetCurrentTime());
  EXPECT_NE(table.find("api   peer-aaaaaaaaaaaa  agent  healthy  127.42.0.2  fd42::2  -         -                 -\n"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("no WireGuard device"), std::string::npos) << table;
}

TEST(RevokedTable, ListsTheRevokedKeysOldestFirst) {
  cv1::ListPeersResponse peers;
  EXPECT_EQ(format_revoked_table(peers), "\nNo revoked keys.\n");
  cv1::RevokedKey& key = *peers.add_revoked();
  key.set_wireguard_pubkey("8rhmHSFo4QXcfXRO2PfDYqrqf73D99jeY0mB99nyQxE=");
  key.set_peer_id("peer-3f2a1b0c9d8e");
  key.set_name("laptop");
  key.set_kind("device");
  *key.mutable_revoked_at() = TimeUtil::SecondsToTimestamp(1'800'000'000);
  EXPECT_EQ(format_revoked_table(peers),
            "\n"
            "REVOKED               NAME    PEER ID            KIND    WIREGUARD KEY\n"
            "2027-01-15T08:00:00Z  laptop  peer-3f2a1b0c9d8e  device  8rhmHSFo4QXcfXRO2PfDYqrqf73D99jeY0mB99nyQxE=\n");
}

}  // namespace
}  // namespace coral::cli
