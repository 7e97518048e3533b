#include "base/cidr.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace coral::base {
namespace {

Cidr cidr(std::string_view text) {
  auto parsed = Cidr::parse(text);
  EXPECT_TRUE(parsed) << text << ": " << parsed.error();
  return *parsed;
}

std::string error_of(std::string_view text) {
  auto parsed = Cidr::parse(text);
  EXPECT_FALSE(parsed) << text << " parsed as " << parsed->to_string();
  return parsed ? "" : parsed.error();
}

TEST(Cidr, ParsesIpv4AndIpv6Prefixes) {
  const Cidr v4 = cidr("10.42.0.0/16");
  EXPECT_TRUE(v4.is_ipv4());
  EXPECT_EQ(v4.family(), IpFamily::ipv4);
  EXPECT_EQ(v4.prefix_length(), 16U);
  EXPECT_EQ(v4.host_bits(), 16U);
  EXPECT_EQ(v4.network_ipv4(), (Ipv4Bytes{10, 42, 0, 0}));
  EXPECT_EQ(v4.to_string(), "10.42.0.0/16");

  const Cidr v6 = cidr("fd42::/64");
  EXPECT_TRUE(v6.is_ipv6());
  EXPECT_EQ(v6.prefix_length(), 64U);
  EXPECT_EQ(v6.host_bits(), 64U);
  EXPECT_EQ(v6.network_ipv6(), *parse_ipv6("fd42::"));
  EXPECT_EQ(v6.to_string(), "fd42::/64");

  EXPECT_EQ(cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
  EXPECT_EQ(cidr("10.42.0.1/32").to_string(), "10.42.0.1/32");
  EXPECT_EQ(cidr("::/0").to_string(), "::/0");
  EXPECT_EQ(cidr("fd42::1/128").to_string(), "fd42::1/128");
  // Formatting is canonical (RFC 5952) whatever the input's spelling.
  EXPECT_EQ(cidr("FD42:00AB:0000:0000::/64").to_string(), "fd42:ab::/64");
  EXPECT_EQ(cidr("fd12:3456:789a:1::/64").to_string(), "fd12:3456:789a:1::/64");
  EXPECT_EQ(cidr("127.42.0.0/16"), cidr("127.42.0.0/16"));
  EXPECT_NE(cidr("127.42.0.0/16"), cidr("127.42.0.0/17"));
}

TEST(Cidr, HostBitsAreAnErrorThatSuggestsTheNetwork) {
  EXPECT_EQ(error_of("10.42.0.1/16"), "invalid CIDR \"10.42.0.1/16\": host bits set (did you mean 10.42.0.0/16?)");
  EXPECT_EQ(error_of("10.42.255.255/17"),
            "invalid CIDR \"10.42.255.255/17\": host bits set (did you mean 10.42.128.0/17?)");
  EXPECT_EQ(error_of("fd42::1/64"), "invalid CIDR \"fd42::1/64\": host bits set (did you mean fd42::/64?)");
  EXPECT_EQ(error_of("fd42:1:2:3:4::/60"),
            "invalid CIDR \"fd42:1:2:3:4::/60\": host bits set (did you mean fd42:1:2::/60?)");
  EXPECT_EQ(error_of("1.0.0.0/0"), "invalid CIDR \"1.0.0.0/0\": host bits set (did you mean 0.0.0.0/0?)");
}

TEST(Cidr, RejectsMalformedText) {
  EXPECT_EQ(error_of(""), "invalid CIDR \"\": empty (expected a prefix such as 10.42.0.0/16 or fd42::/64)");
  EXPECT_EQ(error_of("10.42.0.0"),
            "invalid CIDR \"10.42.0.0\": the prefix length is missing (as in 10.42.0.0/16 or fd42::/64)");
  EXPECT_EQ(error_of("10.42.0.0/33"), "invalid CIDR \"10.42.0.0/33\": the prefix length must be a number 0-32 for IPv4");
  EXPECT_EQ(error_of("fd42::/129"), "invalid CIDR \"fd42::/129\": the prefix length must be a number 0-128 for IPv6");
  EXPECT_EQ(error_of("10.42/16"), "invalid CIDR \"10.42/16\": \"10.42\" is not an IPv4 or IPv6 address");
  EXPECT_EQ(error_of("fd42:::/64"), "invalid CIDR \"fd42:::/64\": \"fd42:::\" is not an IPv6 address");
  for (const char* text : {"/16", "10.42.0.0/", "10.42.0.0/016", "10.42.0.0/+16", "10.42.0.0/-1", "10.42.0.0/16 ",
                           " 10.42.0.0/16", "10.42.0.0/1a", "10.42.0.0/16/16", "fe80::%eth0/64", "[fd42::]/64",
                           "fd42::/0064", "10.42.0.0/99999999999999999999", "example.com/16"}) {
    const std::string error = error_of(text);
    EXPECT_EQ(error.rfind("invalid CIDR \"" + std::string(text) + "\": ", 0), 0U) << error;
  }
}

TEST(Cidr, BuildsFromParts) {
  EXPECT_EQ(Cidr::ipv4({127, 42, 0, 0}, 16)->to_string(), "127.42.0.0/16");
  EXPECT_EQ(Cidr::ipv6(*parse_ipv6("fd12:3456:789a:bcde::"), 64)->to_string(), "fd12:3456:789a:bcde::/64");
  EXPECT_EQ(Cidr::ipv4({10, 42, 0, 1}, 16).error(),
            "invalid CIDR \"10.42.0.1/16\": host bits set (did you mean 10.42.0.0/16?)");
  EXPECT_EQ(Cidr::ipv4({10, 0, 0, 0}, 40).error(),
            "invalid CIDR \"10.0.0.0/40\": the prefix length must be a number 0-32 for IPv4");
  EXPECT_FALSE(Cidr::ipv6(*parse_ipv6("fd42::"), 129));
}

TEST(Cidr, SizeAndMaxIndexSaturateForLargeIpv6Prefixes) {
  constexpr auto max = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(cidr("10.42.0.0/16").size(), 65536U);
  EXPECT_EQ(cidr("10.42.0.0/16").max_index(), 65535U);
  EXPECT_EQ(cidr("10.42.0.0/29").size(), 8U);
  EXPECT_EQ(cidr("10.42.0.1/32").size(), 1U);
  EXPECT_EQ(cidr("10.42.0.1/32").max_index(), 0U);
  EXPECT_EQ(cidr("0.0.0.0/0").size(), std::uint64_t{1} << 32);
  EXPECT_EQ(cidr("fd42::/120").size(), 256U);
  EXPECT_EQ(cidr("fd42::/65").size(), std::uint64_t{1} << 63);
  EXPECT_EQ(cidr("fd42::/64").size(), max);
  EXPECT_EQ(cidr("fd42::/64").max_index(), max);  // exact: 2^64 - 1
  EXPECT_EQ(cidr("fd42::/48").size(), max);
  EXPECT_EQ(cidr("::/0").max_index(), max);
}

TEST(Cidr, ContainsAddressesOfItsOwnFamilyOnly) {
  const Cidr v4 = cidr("10.42.0.0/16");
  EXPECT_TRUE(v4.contains(Ipv4Bytes{10, 42, 0, 0}));
  EXPECT_TRUE(v4.contains(Ipv4Bytes{10, 42, 255, 255}));
  EXPECT_FALSE(v4.contains(Ipv4Bytes{10, 43, 0, 0}));
  EXPECT_FALSE(v4.contains(Ipv4Bytes{10, 41, 255, 255}));
  EXPECT_TRUE(v4.contains("10.42.7.9"));
  EXPECT_FALSE(v4.contains("10.43.7.9"));
  EXPECT_FALSE(v4.contains("::ffff:10.42.7.9"));  // no implicit unmapping
  EXPECT_FALSE(v4.contains(*parse_ipv6("::ffff:10.42.7.9")));
  EXPECT_FALSE(v4.contains("not an address"));
  EXPECT_TRUE(cidr("0.0.0.0/0").contains("255.255.255.255"));

  const Cidr v6 = cidr("fd42::/64");
  EXPECT_TRUE(v6.contains("fd42::"));
  EXPECT_TRUE(v6.contains("fd42::ffff:ffff:ffff:ffff"));
  EXPECT_FALSE(v6.contains("fd42:0:0:1::"));
  EXPECT_FALSE(v6.contains("fd41:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  EXPECT_FALSE(v6.contains("10.42.0.1"));
  EXPECT_FALSE(v6.contains(Ipv4Bytes{10, 42, 0, 1}));

  const Cidr odd = cidr("fd42::80/121");  // a boundary inside the last byte
  EXPECT_TRUE(odd.contains("fd42::80"));
  EXPECT_TRUE(odd.contains("fd42::ff"));
  EXPECT_FALSE(odd.contains("fd42::7f"));
  EXPECT_FALSE(odd.contains("fd42::100"));
  const Cidr short_prefix = cidr("fd42:1200::/23");  // a boundary inside the high half
  EXPECT_TRUE(short_prefix.contains("fd42:13ff:ffff::1"));
  EXPECT_FALSE(short_prefix.contains("fd42:1400::"));
}

TEST(Cidr, AddressAtIndexAndBack) {
  const Cidr v4 = cidr("10.42.0.0/16");
  EXPECT_EQ(v4.ipv4_at(15), (Ipv4Bytes{10, 42, 0, 15}));
  EXPECT_EQ(v4.ipv4_at(256), (Ipv4Bytes{10, 42, 1, 0}));
  EXPECT_EQ(v4.ipv4_at(65535), (Ipv4Bytes{10, 42, 255, 255}));
  EXPECT_FALSE(v4.ipv4_at(65536));
  EXPECT_FALSE(v4.ipv6_at(1));
  EXPECT_EQ(v4.address_at(15), "10.42.0.15");
  EXPECT_FALSE(v4.address_at(65536));
  EXPECT_EQ(v4.index_of(Ipv4Bytes{10, 42, 1, 2}), 258U);
  EXPECT_EQ(v4.index_of("10.42.0.15"), 15U);
  EXPECT_FALSE(v4.index_of("10.43.0.15"));
  EXPECT_FALSE(v4.index_of("fd42::f"));
  EXPECT_FALSE(v4.index_of(""));

  const Cidr v6 = cidr("fd42::/64");
  EXPECT_EQ(v6.address_at(15), "fd42::f");
  EXPECT_EQ(v6.address_at(1), "fd42::1");
  EXPECT_EQ(v6.address_at(65534), "fd42::fffe");
  EXPECT_EQ(v6.address_at(std::numeric_limits<std::uint64_t>::max()), "fd42::ffff:ffff:ffff:ffff");
  EXPECT_FALSE(v6.ipv4_at(1));
  EXPECT_EQ(v6.index_of("fd42::f"), 15U);
  EXPECT_EQ(v6.index_of("fd42::1:0"), 65536U);
  EXPECT_FALSE(v6.index_of("fd43::f"));
  EXPECT_FALSE(v6.index_of("10.42.0.15"));

  const Cidr small = cidr("fd42::ab00/120");
  EXPECT_EQ(small.address_at(255), "fd42::abff");
  EXPECT_FALSE(small.address_at(256));
  EXPECT_EQ(small.index_of("fd42::ab10"), 16U);

  // Prefixes shorter than /64 number their first 2^64 addresses.
  const Cidr wide = cidr("fd42::/48");
  EXPECT_EQ(wide.address_at(15), "fd42::f");
  EXPECT_EQ(wide.index_of("fd42::ffff:ffff:ffff:ffff"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_TRUE(wide.contains("fd42:0:0:1::"));
  EXPECT_FALSE(wide.index_of("fd42:0:0:1::"));

  // Round trip over a few indexes of a loopback subnet.
  const Cidr loopback = cidr("127.42.0.0/16");
  for (std::uint64_t i : {0U, 1U, 2U, 255U, 256U, 4097U, 65534U, 65535U}) {
    EXPECT_EQ(loopback.index_of(*loopback.ipv4_at(i)), i);
  }
  EXPECT_EQ(loopback.address_at(1), "127.42.0.1");
}

}  // namespace
}  // namespace coral::base
