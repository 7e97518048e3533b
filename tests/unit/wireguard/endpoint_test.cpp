#include "wireguard/endpoint.h"

#include <gtest/gtest.h>

#include <map>
#include <unordered_map>
#include <vector>

namespace coral::wireguard {
namespace {

Endpoint endpoint(std::string_view text) {
  auto parsed = Endpoint::parse(text);
  EXPECT_TRUE(parsed) << text;
  return parsed.value_or(Endpoint{});
}

TEST(Endpoint, CanonicalUnmapsIpv4MappedAddressesOnly) {
  const Endpoint mapped = canonical(endpoint("[::ffff:192.0.2.1]:51820"));
  EXPECT_TRUE(mapped.address.is_ipv4());
  EXPECT_EQ(mapped, endpoint("192.0.2.1:51820"));
  EXPECT_EQ(mapped.to_string(), "192.0.2.1:51820");
  // Everything else stays as it is, including IPv4-compatible (::a.b.c.d)
  // and NAT64 (64:ff9b::/96) addresses, which are real IPv6.
  for (const char* text : {"192.0.2.1:1", "[2001:db8::1]:51820", "[::192.0.2.1]:2", "[64:ff9b::c000:201]:3"}) {
    EXPECT_EQ(canonical(endpoint(text)), endpoint(text)) << text;
  }
}

TEST(Endpoint, OrdersIpv4FirstThenAddressThenPort) {
  const std::vector<Endpoint> sorted = {
      endpoint("10.0.0.1:2"), endpoint("10.0.0.1:10"), endpoint("10.0.0.2:1"),
      endpoint("[::1]:1"),    endpoint("[fd00::1]:1"), endpoint("[fd00::1]:2"),
  };
  const EndpointLess less;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    EXPECT_FALSE(less(sorted[i], sorted[i])) << i;
    for (std::size_t j = i + 1; j < sorted.size(); ++j) {
      EXPECT_TRUE(less(sorted[i], sorted[j])) << i << " " << j;
      EXPECT_FALSE(less(sorted[j], sorted[i])) << i << " " << j;
    }
  }
  std::map<Endpoint, int, EndpointLess> by_endpoint;
  by_endpoint[endpoint("10.0.0.1:2")] = 1;
  by_endpoint[endpoint("10.0.0.1:2")] = 2;
  by_endpoint[endpoint("[::1]:2")] = 3;
  EXPECT_EQ(by_endpoint.size(), 2U);
  EXPECT_EQ(by_endpoint.at(endpoint("10.0.0.1:2")), 2);
}

TEST(Endpoint, HashesEqualEndpointsEquallyAndSpreadsOthers) {
  const EndpointHash hash;
  EXPECT_EQ(hash(endpoint("192.0.2.1:51820")), hash(endpoint("192.0.2.1:51820")));
  // IPv4 10.0.0.1 and IPv6 0a00:0001:: share their first bytes.
  EXPECT_NE(hash(endpoint("10.0.0.1:1")), hash(endpoint("[a00:1::]:1")));
  std::unordered_map<Endpoint, int, EndpointHash> by_endpoint;
  for (int port = 1; port <= 1000; ++port)
    by_endpoint[Endpoint{IpAddress::v4({10, 0, 0, 1}), std::uint16_t(port)}] = port;
  EXPECT_EQ(by_endpoint.size(), 1000U);
  EXPECT_EQ(by_endpoint.at(endpoint("10.0.0.1:777")), 777);
}

TEST(Endpoint, CookieBytesAreTheAddressThenThePortInNetworkOrder) {
  const EndpointBytes v4(endpoint("192.0.2.1:51820"));  // 51820 = 0xca6c
  EXPECT_EQ(std::vector<std::uint8_t>(v4.bytes().begin(), v4.bytes().end()),
            (std::vector<std::uint8_t>{192, 0, 2, 1, 0xca, 0x6c}));
  const EndpointBytes v6(endpoint("[2001:db8::1]:1"));
  EXPECT_EQ(std::vector<std::uint8_t>(v6.bytes().begin(), v6.bytes().end()),
            (std::vector<std::uint8_t>{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1}));
}

}  // namespace
}  // namespace coral::wireguard
