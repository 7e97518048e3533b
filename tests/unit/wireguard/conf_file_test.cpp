#include "wireguard/conf_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace coral::wireguard {
namespace {

// Keys of tests/unit/crypto/keys_test.cpp (private -> public as `wg pubkey`
// prints): RFC 7748's Alice and Bob, and two from `wg genkey`.
constexpr const char* kAlicePrivate = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
constexpr const char* kBobPublic = "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=";
constexpr const char* kPreshared = "pUbja/BSfJ07FhVLgkZe3WIUTArB/FoYUGoiRLpEmsQ=";
constexpr const char* kCarolPublic = "WBTxtll6r2uTMv5MkDy447sWVaCbd1XfvFsjkNyKiEA=";
constexpr const char* kDavePublic = "hGvMnJk73thR3JhHPuSE5MxmzgDfk5bJnujDKsqBajM=";

crypto::SecretKey secret(const char* base64) { return *crypto::SecretKey::from_base64(base64); }
crypto::PublicKey key(const char* base64) { return *crypto::PublicKey::from_base64(base64); }
base::Cidr cidr(const char* text) { return *base::Cidr::parse(text); }

// The warnings' text, "file:line: message".
std::vector<std::string> texts(const std::vector<ConfDiagnostic>& diagnostics) {
  std::vector<std::string> out;
  for (const auto& d : diagnostics) out.push_back(d.to_string());
  return out;
}

// A wg-quick file with every key coral reads, as people write them.
const std::string kFullConf = std::string() +
                              "# wg0: the colony hub\n"
                              "[Interface]\n"
                              "PrivateKey = " + kAlicePrivate + "\n"
                              "ListenPort = 51820\n"
                              "Address = 10.42.0.1/16, fd42::1/64\n"
                              "Address = 10.43.0.1\n"
                              "MTU = 1380\n"
                              "FwMark = 0x2a\n"
                              "\n"
                              "[Peer]  # laptop\n"
                              "PublicKey = " + kBobPublic + "\n"
                              "PresharedKey = " + kPreshared + "\n"
                              "Endpoint = 192.0.2.1:51820\n"
                              "AllowedIPs = 10.42.0.2/32, fd42::2/128\n"
                              "AllowedIPs = 10.50.0.0/16\n"
                              "PersistentKeepalive = 25\n"
                              "\n"
                              "[Peer]\n"
                              "PublicKey = " + kCarolPublic + "\n"
                              "Endpoint = [2001:db8::1]:41820\n"
                              "AllowedIPs = 10.42.1.0/24\n";

TEST(ConfFile, ReadsEveryKey) {
  auto parsed = parse_conf(kFullConf, "wg0.conf");
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  EXPECT_TRUE(parsed->warnings.empty()) << testing::PrintToString(texts(parsed->warnings));
  const InterfaceSettings& interface = parsed->settings.interface;
  EXPECT_EQ(interface.private_key, secret(kAlicePrivate));
  EXPECT_EQ(interface.listen_port, 51820);
  ASSERT_EQ(interface.addresses.size(), 3U);
  EXPECT_EQ(interface.addresses[0].to_string(), "10.42.0.1/16");
  EXPECT_EQ(interface.addresses[1].to_string(), "fd42::1/64");
  EXPECT_EQ(interface.addresses[2].to_string(), "10.43.0.1/32");
  EXPECT_EQ(interface.mtu, 1380);
  EXPECT_EQ(interface.fwmark, 42U);

  ASSERT_EQ(parsed->settings.peers.size(), 2U);
  const PeerSettings& bob = parsed->settings.peers[0];
  EXPECT_EQ(bob.public_key, key(kBobPublic));
  ASSERT_TRUE(bob.preshared_key);
  EXPECT_EQ(*bob.preshared_key, secret(kPreshared));
  ASSERT_TRUE(bob.endpoint);
  EXPECT_EQ(bob.endpoint->to_string(), "192.0.2.1:51820");
  EXPECT_EQ(bob.allowed_ips, (std::vector{cidr("10.42.0.2/32"), cidr("fd42::2/128"), cidr("10.50.0.0/16")}));
  EXPECT_EQ(bob.persistent_keepalive, 25);

  const PeerSettings& carol = parsed->settings.peers[1];
  EXPECT_EQ(carol.public_key, key(kCarolPublic));
  EXPECT_FALSE(carol.preshared_key);
  ASSERT_TRUE(carol.endpoint);
  EXPECT_TRUE(carol.endpoint->address.is_ipv6());
  EXPECT_EQ(carol.endpoint->port, 41820);
  EXPECT_EQ(carol.endpoint->to_string(), "[2001:db8::1]:41820");
  EXPECT_EQ(carol.persistent_keepalive, 0);
}

TEST(ConfFile, DefaultsWhenKeysAreLeftOut) {
  auto parsed = parse_conf(std::string("[Interface]\nPrivateKey=") + kAlicePrivate + "\n", "wg0.conf");
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  EXPECT_EQ(parsed->settings.interface.listen_port, 0);
  EXPECT_EQ(parsed->settings.interface.mtu, 1420);
  EXPECT_EQ(parsed->settings.interface.fwmark, 0U);
  EXPECT_TRUE(parsed->settings.interface.addresses.empty());
  EXPECT_TRUE(parsed->settings.peers.empty());
}

// wg drops all whitespace and compares names without case; '#' starts a
// comment anywhere; CRLF files work.
TEST(ConfFile, SpellingFreedomsOfWg) {
  const std::string text = std::string() +
                           "  [interface]   \r\n"
                           "\tprivatekey=" + kAlicePrivate + "   # the hub's key\r\n"
                           "LISTENPORT =\t51820\r\n"
                           "address = 10.42.0.1 / 16 ,fd42::1/64\r\n"
                           "   \r\n"
                           "# [Peer] commented out\r\n"
                           "[ PEER ]\r\n"
                           "publicKey   =   " + kBobPublic + "\r\n"
                           "allowedips=10.42.0.2/32,\tfd42::2/128\r\n"
                           "persistentkeepalive = OFF";  // no final newline
  auto parsed = parse_conf(text, "wg0.conf");
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  EXPECT_EQ(parsed->settings.interface.listen_port, 51820);
  ASSERT_EQ(parsed->settings.interface.addresses.size(), 2U);
  EXPECT_EQ(parsed->settings.interface.addresses[0].to_string(), "10.42.0.1/16");
  ASSERT_EQ(parsed->settings.peers.size(), 1U);
  EXPECT_EQ(parsed->settings.peers[0].allowed_ips.size(), 2U);
  EXPECT_EQ(parsed->settings.peers[0].persistent_keepalive, 0);
}

TEST(ConfFile, RepeatedKeysAndSectionsAsWgReadsThem) {
  const std::string text = std::string() +
                           "[Interface]\n"
                           "PrivateKey = " + kAlicePrivate + "\n"
                           "ListenPort = 1000\n"
                           "[Peer]\n"
                           "PublicKey = " + kBobPublic + "\n"
                           "AllowedIPs = 10.1.0.0/16, 10.1.0.0/16\n"  // duplicates collapse
                           "AllowedIPs =\n"                           // adds nothing
                           "Endpoint = 192.0.2.1:1\n"
                           "Endpoint = 192.0.2.2:2\n"  // the last one counts
                           "[Interface]\n"
                           "ListenPort = 2000\n"  // the sections merge
                           "Address = 10.42.0.1/16\n"
                           "Address = 10.42.0.1/16\n";
  auto parsed = parse_conf(text, "wg0.conf");
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  EXPECT_EQ(parsed->settings.interface.listen_port, 2000);
  EXPECT_EQ(parsed->settings.interface.addresses.size(), 1U);
  ASSERT_EQ(parsed->settings.peers.size(), 1U);
  EXPECT_EQ(parsed->settings.peers[0].allowed_ips, std::vector{cidr("10.1.0.0/16")});
  EXPECT_EQ(parsed->settings.peers[0].endpoint->to_string(), "192.0.2.2:2");
}

TEST(ConfFile, BareAllowedIpsAreHostRoutes) {
  auto parsed = parse_conf(std::string("[Interface]\nPrivateKey=") + kAlicePrivate + "\n[Peer]\nPublicKey=" +
                               kBobPublic + "\nAllowedIPs=10.42.0.9, fd42::9\n",
                           "wg0.conf");
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  EXPECT_EQ(parsed->settings.peers[0].allowed_ips, (std::vector{cidr("10.42.0.9/32"), cidr("fd42::9/128")}));
}

TEST(ConfFile, FwMarkAndKeepaliveForms) {
  struct Case {
    const char* fwmark;
    std::uint32_t want;
  };
  for (const Case& c : {Case{"off", 0}, Case{"OFF", 0}, Case{"0", 0}, Case{"42", 42}, Case{"0x2a", 42},
                        Case{"0X2A", 42}, Case{"4294967295", 0xffffffff}, Case{"0xffffffff", 0xffffffff}}) {
    auto parsed = parse_conf(std::string("[Interface]\nPrivateKey=") + kAlicePrivate + "\nFwMark=" + c.fwmark,
                             "wg0.conf");
    ASSERT_TRUE(parsed) << c.fwmark << ": " << parsed.error().to_string();
    EXPECT_EQ(parsed->settings.interface.fwmark, c.want) << c.fwmark;
  }
  for (const char* bad : {"0x100000000", "4294967296", "-1", "on", "0x", ""}) {
    auto parsed =
        parse_conf(std::string("[Interface]\nPrivateKey=") + kAlicePrivate + "\nFwMark=" + bad, "wg0.conf");
    EXPECT_FALSE(parsed) << bad;
  }
  for (const auto& [text, want] : {std::pair{"off", 0}, {"0", 0}, {"25", 25}, {"65535", 65535}}) {
    auto parsed = parse_conf(std::string("[Interface]\nPrivateKey=") + kAlicePrivate + "\n[Peer]\nPublicKey=" +
                                 kBobPublic + "\nPersistentKeepalive=" + text,
                             "wg0.conf");
    ASSERT_TRUE(parsed) << text << ": " << parsed.error().to_string();
    EXPECT_EQ(parsed->settings.peers[0].persistent_keepalive, want) << text;
  }
}

TEST(ConfFile, MtuBounds) {
  const auto with_mtu = [](const std::string& mtu) {
    return parse_conf(std::string("[Interface]\nPrivateKey=") + kAlicePrivate + "\nMTU=" + mtu, "wg0.conf");
  };
  EXPECT_EQ(with_mtu("1280")->settings.interface.mtu, 1280);
  EXPECT_EQ(with_mtu("65535")->settings.interface.mtu, 65535);
  for (const char* bad : {"1279", "576", "0", "65536", "1420b", "auto"}) {
    auto parsed = with_mtu(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().to_string(), std::string("wg0.conf:3: MTU: must be a number 1280-65535 (IPv6 needs at "
                                                      "least 1280), got \"") + bad + "\"");
  }
}

TEST(ConfFile, WgQuickKeysAreIgnoredWithAWarningEach) {
  const std::string text = std::string() +
                           "[Interface]\n"
                           "PrivateKey = " + kAlicePrivate + "\n"
                           "DNS = 1.1.1.1, example.com\n"
                           "Table = off\n"
                           "PreUp = echo up\n"
                           "PostUp = iptables -A FORWARD -i %i -j ACCEPT\n"
                           "PreDown = true\n"
                           "postdown = iptables -D FORWARD -i %i -j ACCEPT\n"
                           "SaveConfig = true\n";
  auto parsed = parse_conf(text, "wg0.conf");
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  EXPECT_EQ(texts(parsed->warnings), (std::vector<std::string>{
                                         "wg0.conf:3: DNS is a wg-quick setting; coral ignores it",
                                         "wg0.conf:4: Table is a wg-quick setting; coral ignores it",
                                         "wg0.conf:5: PreUp is a wg-quick setting; coral ignores it",
                                         "wg0.conf:6: PostUp is a wg-quick setting; coral ignores it",
                                         "wg0.conf:7: PreDown is a wg-quick setting; coral ignores it",
                                         "wg0.conf:8: PostDown is a wg-quick setting; coral ignores it",
                                         "wg0.conf:9: SaveConfig is a wg-quick setting; coral ignores it",
                                     }));
}

TEST(ConfFile, WarnsAboutHostBitsAndPrefixesClaimedTwice) {
  const std::string text = std::string() +
                           "[Interface]\n"
                           "PrivateKey = " + kAlicePrivate + "\n"
                           "[Peer]\n"
                           "PublicKey = " + kBobPublic + "\n"
                           "AllowedIPs = 10.42.0.1/16, fd42::1/64\n"
                           "[Peer]\n"
                           "PublicKey = " + kCarolPublic + "\n"
                           "AllowedIPs = 10.42.0.0/16\n";
  auto parsed = parse_conf(text, "wg0.conf");
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  EXPECT_EQ(parsed->settings.peers[0].allowed_ips, (std::vector{cidr("10.42.0.0/16"), cidr("fd42::/64")}));
  EXPECT_EQ(texts(parsed->warnings),
            (std::vector<std::string>{
                "wg0.conf:5: AllowedIPs: 10.42.0.1/16 has host bits set; using 10.42.0.0/16",
                "wg0.conf:5: AllowedIPs: fd42::1/64 has host bits set; using fd42::/64",
                "wg0.conf:8: AllowedIPs: 10.42.0.0/16 is also an allowed IP of the peer at line 5; only this "
                "later peer gets it",
            }));
}

struct ErrorCase {
  std::string name;
  std::string text;
  std::string error;
};

const std::string kInterface = std::string("[Interface]\nPrivateKey = ") + kAlicePrivate + "\n";  // lines 1-2
const std::string kPeer = std::string("[Peer]\nPublicKey = ") + kBobPublic + "\n";                   // 2 lines

std::vector<ErrorCase> error_cases() {
  return {
      {"prefix length out of range", kInterface + kPeer + "AllowedIPs = 10.42.0.0/24, 10.42.0.1/33\n",
       "wg0.conf:5: AllowedIPs: invalid prefix \"10.42.0.1/33\": the prefix length must be a number 0-32 for IPv4"},
      {"IPv6 prefix length", kInterface + kPeer + "AllowedIPs = fd42::/129\n",
       "wg0.conf:5: AllowedIPs: invalid prefix \"fd42::/129\": the prefix length must be a number 0-128 for IPv6"},
      {"not an address", kInterface + kPeer + "AllowedIPs = 10.42.0/16\n",
       "wg0.conf:5: AllowedIPs: invalid prefix \"10.42.0/16\": \"10.42.0\" is not an IPv4 or IPv6 address"},
      {"empty list entry", kInterface + kPeer + "AllowedIPs = 10.0.0.0/8,,10.1.0.0/16\n",
       "wg0.conf:5: AllowedIPs: invalid prefix \"\": empty"},
      {"incremental prefix", kInterface + kPeer + "AllowedIPs = +10.0.0.0/8\n",
       "wg0.conf:5: AllowedIPs: invalid prefix \"+10.0.0.0/8\": \"+10.0.0.0\" is not an IPv4 or IPv6 address"},
      {"missing PrivateKey", "[Interface]\nListenPort = 1\n" + kPeer,
       "wg0.conf:1: [Interface] has no PrivateKey (make one with: coral wg genkey)"},
      {"no Interface section", kPeer, "wg0.conf: no [Interface] section; it needs at least a PrivateKey"},
      {"empty file", "", "wg0.conf: no [Interface] section; it needs at least a PrivateKey"},
      {"peer without PublicKey", kInterface + kPeer + "\n[Peer]\nAllowedIPs = 10.0.0.0/8\n",
       "wg0.conf:6: [Peer] has no PublicKey"},
      {"duplicate peer", kInterface + kPeer + "[Peer]\n# again\nPublicKey = " + kBobPublic + "\n",
       std::string("wg0.conf:7: PublicKey: the peer ") + kBobPublic + " is already defined at line 4"},
      {"unknown section", kInterface + "[Peers]\n", "wg0.conf:3: unknown section \"[Peers]\" (expected [Interface] or [Peer])"},
      {"unclosed section", kInterface + "[Peer\n", "wg0.conf:3: unknown section \"[Peer\" (expected [Interface] or [Peer])"},
      {"section run into a line", std::string("[Interface]PrivateKey = ") + kAlicePrivate + "\n",
       "wg0.conf:1: a line that starts with '[' but is not [Interface] or [Peer]"},
      {"misspelt key", kInterface + "ListenPorts = 1\n",
       "wg0.conf:3: unknown key \"ListenPorts\" in [Interface] (did you mean ListenPort?)"},
      {"misspelt key of the other section", kInterface + "endpont = 1\n",
       "wg0.conf:3: unknown key \"endpont\" in [Interface] (did you mean Endpoint, in [Peer]?)"},
      {"unknown key", kInterface + "Colour = blue\n",
       "wg0.conf:3: unknown key in [Interface] (expected PrivateKey, ListenPort, Address, MTU or FwMark)"},
      {"unknown short key", kInterface + kPeer + "MTV = 1\n",
       "wg0.conf:5: unknown key in [Peer] (expected PublicKey, PresharedKey, Endpoint, AllowedIPs or "
       "PersistentKeepalive)"},
      {"wg-quick key in a peer", kInterface + kPeer + "DNS = 1.1.1.1\n",
       "wg0.conf:5: DNS belongs in [Interface], not in [Peer]"},
      {"peer key in the interface", kInterface + "ENDPOINT = 192.0.2.1:1\n",
       "wg0.conf:3: Endpoint belongs in [Peer], not in [Interface]"},
      {"interface key in a peer", kInterface + kPeer + "ListenPort = 1\n",
       "wg0.conf:5: ListenPort belongs in [Interface], not in [Peer]"},
      {"key outside a section", "ListenPort = 1\n" + kInterface,
       "wg0.conf:1: key \"ListenPort\" is outside a section; put it under [Interface] or [Peer]"},
      {"unknown key outside a section", "Colour = 1\n" + kInterface,
       "wg0.conf:1: a key outside a section; put keys under [Interface] or [Peer]"},
      {"no equals sign", kInterface + "ListenPort 51820\n",
       "wg0.conf:3: expected \"Key = value\" or a section header ([Interface] or [Peer])"},
      {"no key", kInterface + "= 1\n", "wg0.conf:3: expected \"Key = value\" or a section header ([Interface] or [Peer])"},
      {"port too large", kInterface + "ListenPort = 65536\n",
       "wg0.conf:3: ListenPort: must be a port number 0-65535, got \"65536\""},
      {"port by service name", kInterface + "ListenPort = wireguard\n",
       "wg0.conf:3: ListenPort: must be a port number 0-65535, got \"wireguard\""},
      {"negative port", kInterface + "ListenPort = -1\n",
       "wg0.conf:3: ListenPort: must be a port number 0-65535, got \"-1\""},
      {"host name endpoint", kInterface + kPeer + "Endpoint = vpn.example.com:51820\n",
       "wg0.conf:5: Endpoint: invalid endpoint \"vpn.example.com:51820\": host names are not resolved here; give an "
       "IP address, as in 192.0.2.1:51820 or [2001:db8::1]:51820"},
      {"IPv6 endpoint without brackets", kInterface + kPeer + "Endpoint = 2001:db8::1:51820\n",
       "wg0.conf:5: Endpoint: invalid endpoint \"2001:db8::1:51820\": IPv6 addresses must be in brackets, as in "
       "[2001:db8::1]:41820"},
      {"endpoint port 0", kInterface + kPeer + "Endpoint = 192.0.2.1:0\n",
       "wg0.conf:5: Endpoint: invalid endpoint \"192.0.2.1:0\": the port must be a number 1-65535"},
      {"endpoint without port", kInterface + kPeer + "Endpoint = 192.0.2.1\n",
       "wg0.conf:5: Endpoint: invalid endpoint \"192.0.2.1\": must be host:port; the port is missing"},
      {"bad address", kInterface + "Address = 10.42.0.1/16, 10.42.0.300/16\n",
       "wg0.conf:3: Address: invalid address \"10.42.0.300/16\": \"10.42.0.300\" is not an IPv4 or IPv6 address"},
      {"keepalive out of range", kInterface + kPeer + "PersistentKeepalive = 65536\n",
       "wg0.conf:5: PersistentKeepalive: must be \"off\" or a number of seconds 0-65535, got \"65536\""},
      {"bad public key", kInterface + "[Peer]\nPublicKey = 3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08\n",
       "wg0.conf:4: PublicKey: must be 32 bytes in base64 (44 characters ending in '='), got 43 characters"},
      {"control bytes are escaped", kInterface + "ListenPort = 1\x01\x7f\xff\"\\\n",
       "wg0.conf:3: ListenPort: must be a port number 0-65535, got \"1\\x01\\x7f\\xff\\\"\\\\\""},
      {"long values are cut", kInterface + "MTU = " + std::string(70, 'x') + "\n",
       "wg0.conf:3: MTU: must be a number 1280-65535 (IPv6 needs at least 1280), got \"" + std::string(64, 'x') +
           "...\""},
      {"a key name that is no name", kInterface + "Foo\x01 = 1\n",
       "wg0.conf:3: expected \"Key = value\" or a section header ([Interface] or [Peer])"},
  };
}

TEST(ConfFile, ErrorsNameTheFileTheLineAndTheKey) {
  for (const ErrorCase& c : error_cases()) {
    auto parsed = parse_conf(c.text, "wg0.conf");
    ASSERT_FALSE(parsed) << c.name;
    EXPECT_EQ(parsed.error().to_string(), c.error) << c.name;
    EXPECT_EQ(parsed.error().file, "wg0.conf") << c.name;
  }
}

TEST(ConfFile, ErrorsNeverShowSecretKeys) {
  // A private key one character short, a preshared key with a bad
  // character, and a key pasted on a line of its own: the messages say what
  // is wrong without the key text.
  const std::string short_key = std::string(kAlicePrivate).substr(1);
  const std::string bad_psk = "!" + std::string(kPreshared).substr(1);
  struct Case {
    std::string text;
    std::string secret;
    std::string error;
  };
  const Case cases[] = {
      {"[Interface]\nPrivateKey = " + short_key + "\n", short_key,
       "wg0.conf:2: PrivateKey: must be 32 bytes in base64 (44 characters ending in '='), got 43 characters"},
      {kInterface + kPeer + "PresharedKey = " + bad_psk + "\n", bad_psk,
       "wg0.conf:5: PresharedKey: must be 32 bytes in base64 (44 characters ending in '='), got characters that are "
       "not base64"},
      {kInterface + kAlicePrivate + "\n", kAlicePrivate,
       "wg0.conf:3: expected \"Key = value\" or a section header ([Interface] or [Peer])"},
      {kAlicePrivate + std::string("\n") + kInterface, kAlicePrivate,
       "wg0.conf:1: expected \"Key = value\" or a section header ([Interface] or [Peer])"},
      // A key broken over two lines: its second half looks like "name=".
      {"[Interface]\nPrivateKey = dwdtCnMYpX08\nFsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n", "FsFyUbJmRd9ML4fr",
       "wg0.conf:2: PrivateKey: must be 32 bytes in base64 (44 characters ending in '='), got 12 characters"},
      {kInterface + "FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n", "FsFyUbJmRd9ML4fr",
       "wg0.conf:3: unknown key in [Interface] (expected PrivateKey, ListenPort, Address, MTU or FwMark)"},
      {"FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n" + kInterface, "FsFyUbJmRd9ML4fr",
       "wg0.conf:1: a key outside a section; put keys under [Interface] or [Peer]"},
      // A key in a field that wants something else.
      {kInterface + "ListenPort = " + kAlicePrivate + "\n", kAlicePrivate,
       "wg0.conf:3: ListenPort: must be a port number 0-65535, got (not shown: it looks like a key)"},
      {kInterface + kPeer + "Endpoint = " + kPreshared + "\n", kPreshared,
       "wg0.conf:5: Endpoint: invalid endpoint (not shown: it looks like a key): must be host:port; the port is "
       "missing"},
  };
  for (const Case& c : cases) {
    auto parsed = parse_conf(c.text, "wg0.conf");
    ASSERT_FALSE(parsed) << c.error;
    EXPECT_EQ(parsed.error().to_string(), c.error);
    EXPECT_EQ(parsed.error().message.find(c.secret.substr(0, 12)), std::string::npos) << parsed.error().message;
  }
}

// Seeded random mutations of a real file: parse_conf accepts or refuses,
// every error names a line of the file, and no error shows a key.
TEST(ConfFile, SurvivesMutatedInput) {
  const std::string alphabet = "=#[],/:\n \r.0aefPIx+";
  std::mt19937 random(5);
  int accepted = 0;
  for (int run = 0; run < 3000; ++run) {
    std::string text = kFullConf;
    const int edits = std::uniform_int_distribution<int>(1, 5)(random);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = std::uniform_int_distribution<std::size_t>(0, text.size() - 1)(random);
      const char c = alphabet[std::uniform_int_distribution<std::size_t>(0, alphabet.size() - 1)(random)];
      switch (random() % 3) {
        case 0: text[at] = c; break;
        case 1: text.insert(text.begin() + std::ptrdiff_t(at), c); break;
        default: text.erase(at, 1); break;
      }
    }
    auto parsed = parse_conf(text, "fuzz.conf");
    if (parsed) {
      ++accepted;
      continue;
    }
    const std::size_t lines = std::size_t(std::count(text.begin(), text.end(), '\n')) + 1;
    EXPECT_LE(parsed.error().line, lines) << text;
    // Neither key's first 16 characters (the rest may be mutated).
    EXPECT_EQ(parsed.error().message.find(std::string(kAlicePrivate).substr(0, 16)), std::string::npos)
        << parsed.error().message;
    EXPECT_EQ(parsed.error().message.find(std::string(kPreshared).substr(0, 16)), std::string::npos)
        << parsed.error().message;
  }
  EXPECT_GT(accepted, 100);
}

TEST(ConfFile, FormatsAsWgQuickSaveWritesIt) {
  auto parsed = parse_conf(kFullConf, "wg0.conf");
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  EXPECT_EQ(format_conf(parsed->settings), std::string() +
                                               "[Interface]\n"
                                               "Address = 10.42.0.1/16\n"
                                               "Address = fd42::1/64\n"
                                               "Address = 10.43.0.1/32\n"
                                               "MTU = 1380\n"
                                               "ListenPort = 51820\n"
                                               "FwMark = 0x2a\n"
                                               "PrivateKey = " + kAlicePrivate + "\n"
                                               "\n"
                                               "[Peer]\n"
                                               "PublicKey = " + kBobPublic + "\n"
                                               "PresharedKey = " + kPreshared + "\n"
                                               "AllowedIPs = 10.42.0.2/32, fd42::2/128, 10.50.0.0/16\n"
                                               "Endpoint = 192.0.2.1:51820\n"
                                               "PersistentKeepalive = 25\n"
                                               "\n"
                                               "[Peer]\n"
                                               "PublicKey = " + kCarolPublic + "\n"
                                               "AllowedIPs = 10.42.1.0/24\n"
                                               "Endpoint = [2001:db8::1]:41820\n");
}

// What `wg showconf` (wireguard-tools v1.0.20210914) printed for a device
// with these settings: parse_conf reads it, and format_conf writes it back
// byte for byte.
TEST(ConfFile, ReadsAndWritesWgShowconfOutput) {
  const std::string showconf = std::string() +
                               "[Interface]\n"
                               "ListenPort = 51820\n"
                               "FwMark = 0x2a\n"
                               "PrivateKey = " + kAlicePrivate + "\n"
                               "\n"
                               "[Peer]\n"
                               "PublicKey = " + kBobPublic + "\n"
                               "PresharedKey = " + kPreshared + "\n"
                               "AllowedIPs = 10.42.0.2/32, fd42::2/128\n"
                               "Endpoint = 192.0.2.1:51820\n"
                               "PersistentKeepalive = 25\n"
                               "\n"
                               "[Peer]\n"
                               "PublicKey = " + kCarolPublic + "\n"
                               "Endpoint = [2001:db8::1]:41820\n";
  auto parsed = parse_conf(showconf, "showconf");
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  EXPECT_TRUE(parsed->warnings.empty());
  EXPECT_EQ(parsed->settings.peers.size(), 2U);
  EXPECT_EQ(format_conf(parsed->settings), showconf);
}

TEST(ConfFile, RoundTrips) {
  DeviceSettings settings;
  settings.interface.private_key = crypto::SecretKey::generate();
  settings.interface.mtu = 9000;
  settings.interface.addresses = {*InterfaceAddress::parse("fd42::1/64")};
  settings.peers.push_back(PeerSettings{.public_key = key(kDavePublic), .preshared_key = crypto::SecretKey::generate(),
                                        .endpoint = *Endpoint::parse("[::ffff:192.0.2.9]:7"),
                                        .allowed_ips = {cidr("0.0.0.0/0"), cidr("::/0")},
                                        .persistent_keepalive = 65535});
  settings.peers.push_back(PeerSettings{.public_key = key(kCarolPublic), .preshared_key = std::nullopt,
                                        .endpoint = std::nullopt, .allowed_ips = {}, .persistent_keepalive = 0});
  std::string text = format_conf(settings);
  auto parsed = parse_conf(text, "generated.conf");
  crypto::wipe(text);
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  EXPECT_TRUE(parsed->warnings.empty());
  EXPECT_EQ(parsed->settings, settings);
  // The IPv4-mapped endpoint stays IPv6, as written.
  EXPECT_TRUE(parsed->settings.peers[0].endpoint->address.is_ipv6());
}

class ConfFileOnDisk : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("coral-conf-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path write(const std::string& name, const std::string& text, mode_t mode) {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(ConfFileOnDisk, ReadsAPrivateFileWithoutWarnings) {
  const auto path = write("wg0.conf", kFullConf, 0600);
  auto parsed = read_conf_file(path);
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  EXPECT_TRUE(parsed->warnings.empty());
  EXPECT_EQ(parsed->settings.peers.size(), 2U);
}

TEST_F(ConfFileOnDisk, WarnsWhenOthersMayReadIt) {
  const auto path = write("wg0.conf", kFullConf, 0644);
  auto parsed = read_conf_file(path);
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  EXPECT_EQ(texts(parsed->warnings), std::vector<std::string>{path.string() +
                                                              ": other users may read this file, and it holds a "
                                                              "private key (chmod 600 " + path.string() + ")"});
}

TEST_F(ConfFileOnDisk, ErrorsNameThePath) {
  const auto path = write("bad.conf", kInterface + "MTU = 100\n", 0600);
  auto parsed = read_conf_file(path);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().to_string(),
            path.string() + ":3: MTU: must be a number 1280-65535 (IPv6 needs at least 1280), got \"100\"");

  auto missing = read_conf_file(dir_ / "missing.conf");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().to_string(), (dir_ / "missing.conf").string() + ": cannot read: No such file or directory");

  auto directory = read_conf_file(dir_);
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error().message, "cannot read: not a regular file");

  const auto big = write("big.conf", kInterface + std::string(kMaxConfFileBytes, '#'), 0600);
  auto too_large = read_conf_file(big);
  ASSERT_FALSE(too_large);
  EXPECT_NE(too_large.error().message.find("too large"), std::string::npos) << too_large.error().message;
}

}  // namespace
}  // namespace coral::wireguard
