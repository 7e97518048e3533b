#include "wireguard/allowed_ips.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace coral::wireguard {
namespace {

base::Cidr cidr(std::string_view text) {
  auto parsed = base::Cidr::parse(text);
  EXPECT_TRUE(parsed) << parsed.error();
  return *parsed;
}

base::Ipv4Bytes v4(std::string_view text) {
  const auto address = base::parse_ipv4(text);
  EXPECT_TRUE(address) << text;
  return address.value_or(base::Ipv4Bytes{});
}

base::Ipv6Bytes v6(std::string_view text) {
  const auto address = base::parse_ipv6(text);
  EXPECT_TRUE(address) << text;
  return address.value_or(base::Ipv6Bytes{});
}

IpAddress ip4(std::string_view text) {
  IpAddress address;
  address.family = base::IpFamily::ipv4;
  const base::Ipv4Bytes bytes = v4(text);
  std::copy(bytes.begin(), bytes.end(), address.bytes.begin());
  return address;
}

IpAddress ip6(std::string_view text) {
  IpAddress address;
  address.family = base::IpFamily::ipv6;
  address.bytes = v6(text);
  return address;
}

std::vector<std::string> texts(const std::vector<base::Cidr>& prefixes) {
  std::vector<std::string> out;
  for (const base::Cidr& prefix : prefixes) out.push_back(prefix.to_string());
  return out;
}

using Strings = std::vector<std::string>;

TEST(AllowedIps, EmptyTableRoutesNothing) {
  const AllowedIps table;
  EXPECT_TRUE(table.empty());
  EXPECT_FALSE(table.lookup(v4("10.0.0.1")));
  EXPECT_FALSE(table.lookup(v6("fd42::1")));
  EXPECT_TRUE(table.entries().empty());
}

TEST(AllowedIps, DefaultRoutesCoverTheirFamilyOnly) {
  AllowedIps table;
  table.insert(cidr("0.0.0.0/0"), 1);
  EXPECT_EQ(table.lookup(v4("0.0.0.0")), 1U);
  EXPECT_EQ(table.lookup(v4("10.42.0.1")), 1U);
  EXPECT_EQ(table.lookup(v4("255.255.255.255")), 1U);
  EXPECT_FALSE(table.lookup(v6("::")));
  EXPECT_FALSE(table.lookup(v6("::ffff:10.42.0.1")));  // families are never converted
  table.insert(cidr("::/0"), 2);
  EXPECT_EQ(table.lookup(v6("::")), 2U);
  EXPECT_EQ(table.lookup(v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")), 2U);
  EXPECT_EQ(table.lookup(v6("::ffff:10.42.0.1")), 2U);
  EXPECT_EQ(table.lookup(v4("10.42.0.1")), 1U);
  EXPECT_EQ(table.size(), 2U);
}

TEST(AllowedIps, HostRoutesMatchOnlyTheirAddress) {
  AllowedIps table;
  table.insert(cidr("10.42.0.7/32"), 1);
  table.insert(cidr("fd42::7/128"), 2);
  EXPECT_EQ(table.lookup(v4("10.42.0.7")), 1U);
  EXPECT_FALSE(table.lookup(v4("10.42.0.6")));
  EXPECT_FALSE(table.lookup(v4("10.42.0.8")));
  EXPECT_FALSE(table.lookup(v4("138.42.0.7")));  // differs in the first bit only
  EXPECT_EQ(table.lookup(v6("fd42::7")), 2U);
  EXPECT_FALSE(table.lookup(v6("fd42::6")));
  EXPECT_FALSE(table.lookup(v6("fd42::8")));
  EXPECT_FALSE(table.lookup(v6("fd42::1:7")));
  // The last bit of each family.
  table.insert(cidr("0.0.0.1/32"), 3);
  table.insert(cidr("::1/128"), 4);
  EXPECT_EQ(table.lookup(v4("0.0.0.1")), 3U);
  EXPECT_FALSE(table.lookup(v4("0.0.0.0")));
  EXPECT_EQ(table.lookup(v6("::1")), 4U);
  EXPECT_FALSE(table.lookup(v6("::")));
}

TEST(AllowedIps, LongestPrefixWins) {
  AllowedIps table;
  // Inserted out of order: the answer must not depend on it.
  table.insert(cidr("10.1.2.0/24"), 3);
  table.insert(cidr("10.0.0.0/8"), 1);
  table.insert(cidr("10.1.2.3/32"), 4);
  table.insert(cidr("10.1.0.0/16"), 2);
  table.insert(cidr("0.0.0.0/0"), 9);
  EXPECT_EQ(table.lookup(v4("10.1.2.3")), 4U);
  EXPECT_EQ(table.lookup(v4("10.1.2.4")), 3U);
  EXPECT_EQ(table.lookup(v4("10.1.3.3")), 2U);
  EXPECT_EQ(table.lookup(v4("10.2.2.3")), 1U);
  EXPECT_EQ(table.lookup(v4("11.1.2.3")), 9U);
  EXPECT_EQ(table.lookup(ip4("10.1.2.3")), 4U);

  table.insert(cidr("fd42::/64"), 5);
  table.insert(cidr("fd42::/16"), 6);
  table.insert(cidr("fd42::8000:0:0:0/65"), 7);
  EXPECT_EQ(table.lookup(v6("fd42::1")), 5U);
  EXPECT_EQ(table.lookup(v6("fd42::8000:0:0:1")), 7U);
  EXPECT_EQ(table.lookup(v6("fd42:0:0:1::1")), 6U);
  EXPECT_FALSE(table.lookup(v6("fd43::1")));
  EXPECT_EQ(table.lookup(ip6("fd42::1")), 5U);
}

TEST(AllowedIps, PrefixesThatPartWaysKeepTheirOwnPeers) {
  AllowedIps table;
  // These fork at 10.0.0.0/8 (bit 8 differs), a node with no peer of its own.
  table.insert(cidr("10.0.0.0/16"), 1);
  table.insert(cidr("10.128.0.0/16"), 2);
  EXPECT_EQ(table.lookup(v4("10.0.3.4")), 1U);
  EXPECT_EQ(table.lookup(v4("10.128.3.4")), 2U);
  EXPECT_FALSE(table.lookup(v4("10.64.3.4")));
  EXPECT_FALSE(table.remove(cidr("10.0.0.0/8")));  // the fork is not a prefix
  table.insert(cidr("10.0.0.0/8"), 3);             // now it is
  EXPECT_EQ(table.lookup(v4("10.64.3.4")), 3U);
  EXPECT_EQ(table.size(), 3U);
  EXPECT_EQ(texts(table.prefixes_of(3)), (Strings{"10.0.0.0/8"}));
}

TEST(AllowedIps, InsertingAnExistingPrefixRepointsIt) {
  AllowedIps table;
  table.insert(cidr("10.42.0.0/16"), 1);
  table.insert(cidr("10.42.0.0/24"), 1);
  table.insert(cidr("10.42.0.0/16"), 2);
  EXPECT_EQ(table.size(), 2U);
  EXPECT_EQ(table.lookup(v4("10.42.1.1")), 2U);
  EXPECT_EQ(table.lookup(v4("10.42.0.1")), 1U);
  EXPECT_EQ(texts(table.prefixes_of(1)), (Strings{"10.42.0.0/24"}));
  EXPECT_EQ(texts(table.prefixes_of(2)), (Strings{"10.42.0.0/16"}));
  table.insert(cidr("10.42.0.0/16"), 2);  // the same again changes nothing
  EXPECT_EQ(table.size(), 2U);
}

TEST(AllowedIps, RemoveTakesExactlyThatPrefix) {
  AllowedIps table;
  table.insert(cidr("10.0.0.0/8"), 1);
  table.insert(cidr("10.1.0.0/16"), 2);
  table.insert(cidr("10.1.2.0/24"), 3);
  table.insert(cidr("10.1.128.0/24"), 4);
  EXPECT_FALSE(table.remove(cidr("10.1.0.0/17")));
  EXPECT_FALSE(table.remove(cidr("10.2.0.0/16")));
  EXPECT_TRUE(table.remove(cidr("10.1.0.0/16")));
  EXPECT_FALSE(table.remove(cidr("10.1.0.0/16")));
  EXPECT_EQ(table.size(), 3U);
  EXPECT_EQ(table.lookup(v4("10.1.5.5")), 1U);
  EXPECT_EQ(table.lookup(v4("10.1.2.5")), 3U);
  EXPECT_EQ(table.lookup(v4("10.1.128.5")), 4U);
  EXPECT_TRUE(table.remove(cidr("10.0.0.0/8")));
  EXPECT_FALSE(table.lookup(v4("10.1.5.5")));
  EXPECT_EQ(table.lookup(v4("10.1.2.5")), 3U);
  EXPECT_TRUE(table.remove(cidr("10.1.2.0/24")));
  EXPECT_TRUE(table.remove(cidr("10.1.128.0/24")));
  EXPECT_TRUE(table.empty());
  EXPECT_FALSE(table.lookup(v4("10.1.128.5")));
  // Usable again after emptying.
  table.insert(cidr("10.1.128.0/24"), 5);
  EXPECT_EQ(table.lookup(v4("10.1.128.5")), 5U);
}

TEST(AllowedIps, RemoveWithAnOwnerLeavesOtherPeersRoutes) {
  AllowedIps table;
  table.insert(cidr("fd42::/64"), 1);
  EXPECT_FALSE(table.remove(cidr("fd42::/64"), 2));
  EXPECT_EQ(table.lookup(v6("fd42::1")), 1U);
  EXPECT_TRUE(table.remove(cidr("fd42::/64"), 1));
  EXPECT_FALSE(table.lookup(v6("fd42::1")));
}

TEST(AllowedIps, RemovePeerTakesAllItsPrefixesInBothFamilies) {
  AllowedIps table;
  table.insert(cidr("10.42.0.2/32"), 1);
  table.insert(cidr("fd42::2/128"), 1);
  table.insert(cidr("10.42.0.0/16"), 2);
  table.insert(cidr("10.0.0.0/8"), 1);
  table.insert(cidr("10.42.0.3/32"), 3);
  table.insert(cidr("fd42::/64"), 2);
  EXPECT_EQ(table.remove_peer(1), 3U);
  EXPECT_EQ(table.remove_peer(1), 0U);
  EXPECT_EQ(table.size(), 3U);
  EXPECT_EQ(table.lookup(v4("10.42.0.2")), 2U);
  EXPECT_EQ(table.lookup(v4("10.42.0.3")), 3U);
  EXPECT_FALSE(table.lookup(v4("10.43.0.2")));
  EXPECT_EQ(table.lookup(v6("fd42::2")), 2U);
  EXPECT_TRUE(table.prefixes_of(1).empty());
  EXPECT_EQ(table.remove_peer(2), 2U);
  EXPECT_EQ(table.remove_peer(3), 1U);
  EXPECT_TRUE(table.empty());
  EXPECT_TRUE(table.entries().empty());
}

TEST(AllowedIps, PrefixesOfListByFamilyThenNetworkThenLength) {
  AllowedIps table;
  table.insert(cidr("fd42::/64"), 1);
  table.insert(cidr("192.168.0.0/16"), 1);
  table.insert(cidr("10.42.0.0/24"), 1);
  table.insert(cidr("10.42.0.0/16"), 1);
  table.insert(cidr("10.0.0.0/8"), 2);
  table.insert(cidr("10.42.128.0/17"), 1);
  table.insert(cidr("::/0"), 1);
  table.insert(cidr("0.0.0.0/0"), 1);
  EXPECT_EQ(texts(table.prefixes_of(1)), (Strings{"0.0.0.0/0", "10.42.0.0/16", "10.42.0.0/24", "10.42.128.0/17",
                                                  "192.168.0.0/16", "::/0", "fd42::/64"}));
  const auto all = table.entries();
  ASSERT_EQ(all.size(), 8U);
  EXPECT_EQ(all[1].first.to_string(), "10.0.0.0/8");
  EXPECT_EQ(all[1].second, 2U);
}

TEST(AllowedIps, InsertMaskedClearsHostBits) {
  AllowedIps table;
  EXPECT_TRUE(table.insert_masked(ip4("10.42.0.1"), 16, 1));
  EXPECT_TRUE(table.insert_masked(ip6("fd42::1:2:3:4"), 64, 2));
  EXPECT_TRUE(table.insert_masked(ip6("fd42::ff"), 121, 3));
  EXPECT_TRUE(table.insert_masked(ip4("255.255.255.255"), 0, 4));
  EXPECT_FALSE(table.insert_masked(ip4("10.42.0.1"), 33, 5));
  EXPECT_FALSE(table.insert_masked(ip6("fd42::1"), 129, 5));
  EXPECT_EQ(texts(table.prefixes_of(1)), (Strings{"10.42.0.0/16"}));
  EXPECT_EQ(texts(table.prefixes_of(2)), (Strings{"fd42::/64"}));
  EXPECT_EQ(texts(table.prefixes_of(3)), (Strings{"fd42::80/121"}));
  EXPECT_EQ(texts(table.prefixes_of(4)), (Strings{"0.0.0.0/0"}));
  EXPECT_TRUE(table.prefixes_of(5).empty());
  EXPECT_EQ(table.lookup(v4("10.42.9.9")), 1U);
  EXPECT_EQ(table.size(), 4U);
}

TEST(AllowedIps, MovedFromTableIsEmptyAndUsable) {
  AllowedIps table;
  table.insert(cidr("10.0.0.0/8"), 1);
  AllowedIps moved(std::move(table));
  EXPECT_EQ(moved.lookup(v4("10.1.1.1")), 1U);
  EXPECT_TRUE(table.empty());  // NOLINT(bugprone-use-after-move): documented state
  EXPECT_FALSE(table.lookup(v4("10.1.1.1")));
  table.insert(cidr("10.0.0.0/8"), 2);
  EXPECT_EQ(table.lookup(v4("10.1.1.1")), 2U);
}

// ---- Randomized runs against a linear scan ----

// The rule in its plainest form: every prefix in a list, the longest that
// contains the address wins (base::Cidr::contains decides containment).
class NaiveTable {
 public:
  void insert(const base::Cidr& prefix, PeerId peer) {
    for (auto& [existing, owner] : routes_) {
      if (existing == prefix) {
        owner = peer;
        return;
      }
    }
    routes_.emplace_back(prefix, peer);
  }
  bool remove(const base::Cidr& prefix) {
    return std::erase_if(routes_, [&](const auto& route) { return route.first == prefix; }) > 0;
  }
  std::size_t remove_peer(PeerId peer) {
    return std::erase_if(routes_, [&](const auto& route) { return route.second == peer; });
  }
  template <typename Address>
  std::optional<PeerId> lookup(const Address& address) const {
    std::optional<PeerId> best;
    int best_length = -1;
    for (const auto& [prefix, peer] : routes_) {
      if (prefix.contains(address) && static_cast<int>(prefix.prefix_length()) > best_length) {
        best = peer;
        best_length = static_cast<int>(prefix.prefix_length());
      }
    }
    return best;
  }
  std::vector<std::string> prefixes_of(PeerId peer) const {
    std::vector<base::Cidr> mine;
    for (const auto& [prefix, owner] : routes_) {
      if (owner == peer) mine.push_back(prefix);
    }
    std::sort(mine.begin(), mine.end(), [](const base::Cidr& a, const base::Cidr& b) {
      if (a.family() != b.family()) return a.is_ipv4();
      if (a.is_ipv4() && a.network_ipv4() != b.network_ipv4()) return a.network_ipv4() < b.network_ipv4();
      if (a.is_ipv6() && a.network_ipv6() != b.network_ipv6()) return a.network_ipv6() < b.network_ipv6();
      return a.prefix_length() < b.prefix_length();
    });
    return texts(mine);
  }
  std::size_t size() const { return routes_.size(); }
  const std::vector<std::pair<base::Cidr, PeerId>>& routes() const { return routes_; }

 private:
  std::vector<std::pair<base::Cidr, PeerId>> routes_;
};

// Addresses drawn from a few "neighbourhoods" so that prefixes overlap,
// nest and part ways often, with the odd one from anywhere.
class AddressSource {
 public:
  explicit AddressSource(std::uint32_t seed) : random_(seed) {
    for (auto& base : bases4_) base = random_bytes<4>();
    for (auto& base : bases6_) base = random_bytes<16>();
  }

  base::Ipv4Bytes ipv4() { return near(bases4_, random_bytes<4>()); }
  base::Ipv6Bytes ipv6() { return near(bases6_, random_bytes<16>()); }
  unsigned length(unsigned max) {
    // Mostly lengths around the middle, sometimes the extremes.
    switch (random_() % 8) {
      case 0:
        return 0;
      case 1:
        return max;
      default:
        return static_cast<unsigned>(random_() % (max + 1));
    }
  }
  std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(random_() % n); }

 private:
  template <std::size_t N>
  std::array<std::uint8_t, N> random_bytes() {
    std::array<std::uint8_t, N> bytes{};
    for (auto& byte : bytes) byte = static_cast<std::uint8_t>(random_());
    return bytes;
  }
  // A base with its tail replaced by random bits from a random bit on.
  template <std::size_t N, std::size_t K>
  std::array<std::uint8_t, N> near(const std::array<std::array<std::uint8_t, N>, K>& bases,
                                   std::array<std::uint8_t, N> noise) {
    if (random_() % 10 == 0) return noise;
    std::array<std::uint8_t, N> address = bases[random_() % K];
    const std::size_t keep = random_() % (8 * N + 1);
    for (std::size_t bit = keep; bit < 8 * N; ++bit) {
      const auto mask = static_cast<std::uint8_t>(0x80U >> (bit % 8));
      address[bit / 8] = static_cast<std::uint8_t>((address[bit / 8] & ~mask) | (noise[bit / 8] & mask));
    }
    return address;
  }

  std::mt19937 random_;
  std::array<base::Ipv4Bytes, 4> bases4_{};
  std::array<base::Ipv6Bytes, 4> bases6_{};
};

// The address with every bit from `length` on cleared.
template <std::size_t N>
std::array<std::uint8_t, N> masked(std::array<std::uint8_t, N> address, unsigned length) {
  for (std::size_t bit = length; bit < 8 * N; ++bit) {
    address[bit / 8] = static_cast<std::uint8_t>(address[bit / 8] & ~(0x80U >> (bit % 8)));
  }
  return address;
}

IpAddress as_ip(const base::Ipv4Bytes& bytes) {
  IpAddress address;
  std::copy(bytes.begin(), bytes.end(), address.bytes.begin());
  return address;
}

IpAddress as_ip(const base::Ipv6Bytes& bytes) {
  IpAddress address;
  address.family = base::IpFamily::ipv6;
  address.bytes = bytes;
  return address;
}

TEST(AllowedIps, AgreesWithALinearScanOnRandomOperations) {
  constexpr PeerId kPeers = 6;
  for (std::uint32_t seed = 1; seed <= 6; ++seed) {
    AddressSource source(seed);
    AllowedIps table;
    NaiveTable naive;
    for (int step = 0; step < 6000; ++step) {
      const std::uint32_t op = source.below(100);
      const bool six = source.below(2) == 1;
      const std::string where = "seed " + std::to_string(seed) + " step " + std::to_string(step);
      if (op < 30) {
        // Insert through insert_masked, host bits left in.
        const PeerId peer = source.below(kPeers);
        const unsigned length = source.length(six ? 128 : 32);
        if (six) {
          const base::Ipv6Bytes address = source.ipv6();
          ASSERT_TRUE(table.insert_masked(as_ip(address), length, peer));
          naive.insert(*base::Cidr::ipv6(masked(address, length), length), peer);
        } else {
          const base::Ipv4Bytes address = source.ipv4();
          ASSERT_TRUE(table.insert_masked(as_ip(address), length, peer));
          naive.insert(*base::Cidr::ipv4(masked(address, length), length), peer);
        }
      } else if (op < 42 && naive.size() > 0) {
        // Remove an existing prefix (sometimes with the wrong owner).
        const auto [prefix, owner] = naive.routes()[source.below(static_cast<std::uint32_t>(naive.size()))];
        if (source.below(4) == 0) {
          const PeerId other = (owner + 1) % kPeers;
          ASSERT_FALSE(table.remove(prefix, other)) << where;
          ASSERT_TRUE(table.remove(prefix, owner)) << where;
        } else {
          ASSERT_TRUE(table.remove(prefix)) << where;
        }
        naive.remove(prefix);
      } else if (op < 47) {
        // Remove a prefix that is most likely absent.
        const unsigned length = source.length(six ? 128 : 32);
        const base::Cidr prefix = six ? *base::Cidr::ipv6(masked(source.ipv6(), length), length)
                                      : *base::Cidr::ipv4(masked(source.ipv4(), length), length);
        ASSERT_EQ(table.remove(prefix), naive.remove(prefix)) << where << " " << prefix.to_string();
      } else if (op < 48) {
        const PeerId peer = source.below(kPeers);
        ASSERT_EQ(table.remove_peer(peer), naive.remove_peer(peer)) << where;
      } else {
        if (six) {
          const base::Ipv6Bytes address = source.ipv6();
          ASSERT_EQ(table.lookup(address), naive.lookup(address)) << where << " " << base::format_ipv6(address);
        } else {
          const base::Ipv4Bytes address = source.ipv4();
          ASSERT_EQ(table.lookup(address), naive.lookup(address)) << where << " " << base::format_ipv4(address);
        }
      }
      ASSERT_EQ(table.size(), naive.size()) << where;
    }
    for (PeerId peer = 0; peer < kPeers; ++peer) {
      EXPECT_EQ(texts(table.prefixes_of(peer)), naive.prefixes_of(peer)) << "seed " << seed << " peer " << peer;
    }
  }
}

// ---- IP headers ----

std::vector<std::byte> bytes_of(std::initializer_list<unsigned> values) {
  std::vector<std::byte> out;
  for (unsigned value : values) out.push_back(static_cast<std::byte>(value));
  return out;
}

// An ICMP echo request 10.42.0.2 -> 10.42.0.1 as `ping` sends it: a
// 20-byte header and 8 bytes of ICMP (total length 28).
std::vector<std::byte> ipv4_ping() {
  return bytes_of({
      0x45, 0x00, 0x00, 0x1c,                          // version 4, 20-byte header; total length 28
      0x12, 0x34, 0x40, 0x00,                          // identification; don't fragment
      0x40, 0x01, 0x00, 0x00,                          // TTL 64, ICMP; checksum (not looked at)
      10,   42,   0,    2,                             // source
      10,   42,   0,    1,                             // destination
      0x08, 0x00, 0xf7, 0xff, 0x00, 0x00, 0x00, 0x00,  // echo request
  });
}

// An ICMPv6 echo request fd42::2 -> fd42::1: a 40-byte header and 8 bytes.
std::vector<std::byte> ipv6_ping() {
  return bytes_of({
      0x60, 0x00, 0x00, 0x00,                                                  // version 6, no flow label
      0x00, 0x08, 0x3a, 0x40,                                                  // payload 8; ICMPv6, hop limit 64
      0xfd, 0x42, 0,    0,    0,    0,    0,    0,    0, 0, 0, 0, 0, 0, 0, 2,  // source
      0xfd, 0x42, 0,    0,    0,    0,    0,    0,    0, 0, 0, 0, 0, 0, 0, 1,  // destination
      0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,                          // echo request
  });
}

TEST(IpPacket, ReadsAnIpv4Header) {
  const auto packet = ipv4_ping();
  const auto info = parse_ip_packet(packet);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->source, ip4("10.42.0.2"));
  EXPECT_EQ(info->destination, ip4("10.42.0.1"));
  EXPECT_EQ(info->length, 28U);
}

TEST(IpPacket, ReadsAnIpv6Header) {
  const auto packet = ipv6_ping();
  ASSERT_EQ(packet.size(), 48U);
  const auto info = parse_ip_packet(packet);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->source, ip6("fd42::2"));
  EXPECT_EQ(info->destination, ip6("fd42::1"));
  EXPECT_EQ(info->length, 48U);
}

TEST(IpPacket, LengthExcludesThePaddingOfADecryptedPacket) {
  for (auto packet : {ipv4_ping(), ipv6_ping()}) {
    const std::size_t real = packet.size();
    packet.resize((real + 15) / 16 * 16 + 16, std::byte{0});
    const auto info = parse_ip_packet(packet);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->length, real);
  }
}

TEST(IpPacket, RefusesEveryTruncation) {
  for (const auto& packet : {ipv4_ping(), ipv6_ping()}) {
    for (std::size_t size = 0; size < packet.size(); ++size) {
      EXPECT_FALSE(parse_ip_packet(std::span(packet).first(size))) << "first " << size << " bytes";
    }
  }
}

TEST(IpPacket, RefusesLengthsTheHeaderCannotHave) {
  auto v4 = ipv4_ping();
  v4[3] = std::byte{19};  // total length below the header's 20 bytes
  EXPECT_FALSE(parse_ip_packet(v4));
  v4[3] = std::byte{20};  // a bare header is a packet
  EXPECT_TRUE(parse_ip_packet(v4));
  v4[2] = std::byte{0xff};  // more than was received
  v4[3] = std::byte{0xff};
  EXPECT_FALSE(parse_ip_packet(v4));

  auto v6 = ipv6_ping();
  v6[5] = std::byte{9};  // one byte more than was received
  EXPECT_FALSE(parse_ip_packet(v6));
  // 40 + 65535 would wrap a 16-bit sum to 39: must not pass as short.
  v6[4] = std::byte{0xff};
  v6[5] = std::byte{0xff};
  std::vector<std::byte> big = v6;
  big.resize(40 + 0xffff - 1);
  EXPECT_FALSE(parse_ip_packet(big));
  big.resize(40 + 0xffff);
  const auto info = parse_ip_packet(big);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->length, 40U + 0xffffU);
}

TEST(IpPacket, RefusesOtherVersions) {
  for (unsigned version : {0U, 1U, 5U, 7U, 15U}) {
    auto packet = ipv6_ping();
    packet[0] = static_cast<std::byte>(version << 4);
    EXPECT_FALSE(parse_ip_packet(packet)) << version;
  }
  // An IPv4 version nibble on a buffer long enough for IPv6 is still IPv4.
  auto packet = ipv4_ping();
  packet.resize(64);
  EXPECT_TRUE(parse_ip_packet(packet));
}

TEST(IpPacket, RoutesByTheAddressesItReads) {
  AllowedIps table;
  table.insert(cidr("10.42.0.0/24"), 1);
  table.insert(cidr("fd42::2/128"), 2);
  const auto v4 = parse_ip_packet(ipv4_ping());
  const auto v6 = parse_ip_packet(ipv6_ping());
  ASSERT_TRUE(v4 && v6);
  EXPECT_EQ(table.lookup(v4->source), 1U);
  EXPECT_EQ(table.lookup(v6->source), 2U);
  EXPECT_FALSE(table.lookup(v6->destination));
}

}  // namespace
}  // namespace coral::wireguard
