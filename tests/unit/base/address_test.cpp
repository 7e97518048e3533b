#include "base/address.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace coral::base {
namespace {

TEST(Address, ParsesDottedQuadIpv4Only) {
  EXPECT_EQ(parse_ipv4("10.42.0.1"), (Ipv4Bytes{10, 42, 0, 1}));
  EXPECT_EQ(parse_ipv4("255.255.255.255"), (Ipv4Bytes{255, 255, 255, 255}));
  for (const char* text : {"", "10.42.0", "10.1", "10.42.0.256", "010.42.0.1", "10.42.0.1 ", " 10.42.0.1", "0x0a.0.0.1",
                           "fd42::1", "10.42.0.1/16", "1.2.3.4.5"}) {
    EXPECT_FALSE(parse_ipv4(text)) << text;
  }
}

TEST(Address, ParsesIpv6WithoutZonesOrBrackets) {
  EXPECT_EQ(parse_ipv6("fd42::1"), (Ipv6Bytes{0xfd, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_TRUE(parse_ipv6("::"));
  EXPECT_TRUE(parse_ipv6("::ffff:10.42.0.1"));
  for (const char* text : {"", "fe80::1%eth0", "[fd42::1]", "fd42::1::2", "10.42.0.1", "fd42::1/64", "fd42:::1"}) {
    EXPECT_FALSE(parse_ipv6(text)) << text;
  }
}

TEST(Address, RecognisesIpv4MappedAddressesHoweverWritten) {
  EXPECT_TRUE(is_ipv4_mapped(*parse_ipv6("::ffff:10.42.0.1")));
  EXPECT_TRUE(is_ipv4_mapped(*parse_ipv6("::ffff:a2a:1")));
  EXPECT_FALSE(is_ipv4_mapped(*parse_ipv6("::10.42.0.1")));  // the deprecated "compatible" form is not mapped
  EXPECT_FALSE(is_ipv4_mapped(*parse_ipv6("fd42::ffff:a2a:1")));
}

TEST(Address, FormatsCanonically) {
  EXPECT_EQ(format_ipv4(Ipv4Bytes{10, 42, 0, 1}), "10.42.0.1");
  EXPECT_EQ(format_ipv6(*parse_ipv6("FD42:0000:0000::0001")), "fd42::1");
}

TEST(Address, DnsNames) {
  for (const char* name : {"localhost", "colony.example.com", "Colony-1.EXAMPLE.com.", "a", "xn--bcher-kva.example",
                           "1.2.3.example"}) {
    EXPECT_TRUE(is_dns_name(name)) << name;
  }
  for (const std::string& name : std::vector<std::string>{"", ".", "a..b", "-a.com", "a-.com", "a_b.com", "1.2.3.4",
                                                          "999.1.1.1", std::string(64, 'a') + ".com", "a b"}) {
    EXPECT_FALSE(is_dns_name(name)) << name;
  }
  std::string longest;
  while (longest.size() + 64 <= 253) longest += std::string(63, 'a') + ".";
  longest += std::string(253 - longest.size(), 'b');
  ASSERT_EQ(longest.size(), 253u);
  EXPECT_TRUE(is_dns_name(longest));
  EXPECT_TRUE(is_dns_name(longest + "."));
  EXPECT_FALSE(is_dns_name(longest + "b"));
}

TEST(Address, SplitsHostAndPort) {
  EXPECT_EQ(parse_host_port("203.0.113.42:41820"),
            (HostPort{.host = "203.0.113.42", .kind = HostKind::ipv4, .port = 41820}));
  EXPECT_EQ(parse_host_port("[2001:db8::1]:443"), (HostPort{.host = "2001:db8::1", .kind = HostKind::ipv6, .port = 443}));
  EXPECT_EQ(parse_host_port("localhost:8080"), (HostPort{.host = "localhost", .kind = HostKind::dns_name, .port = 8080}));
  EXPECT_EQ(parse_host_port("a:65535")->port, 65535);
}

TEST(Address, PortZeroOnlyWhenAllowed) {
  EXPECT_EQ(parse_host_port("127.0.0.1:0").error(), "the port must be a number 1-65535");
  EXPECT_EQ(parse_host_port("127.0.0.1:0", HostPortRules{.allow_port_zero = true})->port, 0);
  EXPECT_EQ(parse_host_port("[::1]:0", HostPortRules{.allow_port_zero = true})->port, 0);
  EXPECT_EQ(parse_host_port("[::1]:65536", HostPortRules{.allow_port_zero = true}).error(),
            "the port must be a number 0-65535");
}

TEST(Address, ExplainsWhatIsWrong) {
  EXPECT_EQ(parse_host_port("").error(), "must be host:port, got an empty string");
  EXPECT_EQ(parse_host_port("example.com").error(), "must be host:port; the port is missing");
  EXPECT_EQ(parse_host_port("::1:80").error(), "IPv6 addresses must be in brackets, as in [2001:db8::1]:41820");
  EXPECT_EQ(parse_host_port("[::1]").error(), "must be [IPv6 address]:port; the port is missing");
  EXPECT_EQ(parse_host_port("[::1]80").error(), "must be [IPv6 address]:port; the port is missing");
  EXPECT_EQ(parse_host_port("[::1:80").error(), "'[' without a closing ']'");
  EXPECT_EQ(parse_host_port("[10.0.0.1]:80").error(), "only IPv6 addresses go in brackets; write IPv4 as a.b.c.d:port");
  EXPECT_EQ(parse_host_port("[fe80::1%eth0]:80").error(), "IPv6 zone ids (\"%eth0\") are not allowed");
  EXPECT_EQ(parse_host_port("[host]:80").error(), "the host in brackets is not an IPv6 address");
  EXPECT_EQ(parse_host_port(":80").error(), "the host is missing");
  EXPECT_EQ(parse_host_port("host:").error(), "the port is missing");
  EXPECT_EQ(parse_host_port("host:+80").error(), "the port must be a number 1-65535");
  EXPECT_EQ(parse_host_port("host:0080").error(), "the port must be a number 1-65535");
  EXPECT_EQ(parse_host_port("host:123456").error(), "the port must be a number 1-65535");
  EXPECT_EQ(parse_host_port("ho st:80").error(),
            "the host is neither an IPv4 address, a bracketed IPv6 address nor a DNS name");
}

TEST(Address, FormatsHostPortBracketingIpv6) {
  for (const char* text : {"203.0.113.42:41820", "[2001:db8::1]:41820", "colony.example.com:1"}) {
    EXPECT_EQ(format_host_port(*parse_host_port(text)), text);
  }
}

}  // namespace
}  // namespace coral::base
