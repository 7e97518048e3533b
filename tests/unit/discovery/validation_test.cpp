// What RegisterColony and LookupColony accept, rule by rule, and the exact
// field each rejection names.

#include "discovery/validation.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "base/base64.h"
#include "coral/discovery/v1/discovery.pb.h"

namespace coral::discovery {
namespace {

const std::string kPubkey = base::base64_encode(std::string(32, '\x2a'));

// A registration as an RFD 005 colony sends it.
v1::RegisterColonyRequest full_request() {
  v1::RegisterColonyRequest request;
  request.set_mesh_id("my-app-prod");
  request.set_wireguard_pubkey(kPubkey);
  request.add_public_endpoints("203.0.113.42:41820");
  request.add_public_endpoints("[2001:db8::42]:41820");
  request.set_mesh_ipv4("127.42.0.1");
  request.set_mesh_ipv6("fdc0:42::1");
  request.set_connect_port(9000);
  (*request.mutable_metadata())["app"] = "my-shop";
  (*request.mutable_metadata())["environment"] = "production";
  return request;
}

// A registration as a pre-RFD-005 colony sends it.
v1::RegisterColonyRequest old_client_request() {
  v1::RegisterColonyRequest request;
  request.set_mesh_id("my-app-prod");
  request.set_wireguard_pubkey(kPubkey);
  request.add_public_endpoints("203.0.113.42:41820");
  return request;
}

// The message of the invalid_argument a request gets ("" when accepted).
std::string rejection(const v1::RegisterColonyRequest& request) {
  const rpc::Status status = validate_registration(request);
  if (status) return "";
  EXPECT_EQ(status.error().code, rpc::Code::invalid_argument) << status.error().message;
  return status.error().message;
}

std::string with(std::function<void(v1::RegisterColonyRequest&)> change) {
  v1::RegisterColonyRequest request = full_request();
  change(request);
  return rejection(request);
}

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

TEST(ValidateRegistration, AcceptsAnRfd005Registration) { EXPECT_EQ(rejection(full_request()), ""); }

TEST(ValidateRegistration, AcceptsAnOlderClientsRegistrationWithoutTheRfd005Fields) {
  EXPECT_EQ(rejection(old_client_request()), "");
}

TEST(ValidateRegistration, AcceptsNoEndpointsAndNoMetadata) {
  v1::RegisterColonyRequest request;
  request.set_mesh_id("a");
  request.set_wireguard_pubkey(kPubkey);
  EXPECT_EQ(rejection(request), "");
}

// --- mesh_id ---------------------------------------------------------------

TEST(ValidateMeshId, AcceptsLowercaseLettersDigitsDashUnderscoreAndDot) {
  for (const std::string& mesh_id : std::vector<std::string>{"a", "my-app-prod", "app_1.prod-2", "0", std::string(63, 'x')}) {
    EXPECT_TRUE(validate_mesh_id(mesh_id)) << mesh_id;
  }
}

TEST(ValidateMeshId, NamesTheFieldTheRuleAndWhatWasSent) {
  const rpc::Status status = validate_mesh_id("My App");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, rpc::Code::invalid_argument);
  EXPECT_EQ(status.error().message, "mesh_id: must be 1-63 characters of a-z, 0-9, '-', '_' and '.'; got \"My App\"");
}

TEST(ValidateMeshId, RejectsEmptyOverLongAndForeignCharacters) {
  for (const std::string& mesh_id : std::vector<std::string>{"", std::string(64, 'x'), "MyApp", "my app", "a/b", "a:b",
                                                             "caf\xc3\xa9", std::string("a\0b", 3)}) {
    const rpc::Status status = validate_mesh_id(mesh_id);
    ASSERT_FALSE(status) << mesh_id;
    EXPECT_EQ(status.error().code, rpc::Code::invalid_argument);
    EXPECT_TRUE(starts_with(status.error().message, "mesh_id: must be 1-63 characters")) << status.error().message;
  }
}

TEST(ValidateMeshId, QuotesUnprintableBytesEscapedAndLongValuesShortened) {
  EXPECT_EQ(validate_mesh_id(std::string("a\"b\n", 4)).error().message,
            "mesh_id: must be 1-63 characters of a-z, 0-9, '-', '_' and '.'; got \"a\\\"b\\x0a\"");
  const std::string message = validate_mesh_id(std::string(1000, 'x')).error().message;
  EXPECT_EQ(message, "mesh_id: must be 1-63 characters of a-z, 0-9, '-', '_' and '.'; got \"" + std::string(64, 'x') +
                         "\"... (1000 bytes)");
}

TEST(ValidateRegistration, ChecksTheMeshId) {
  EXPECT_TRUE(starts_with(with([](auto& r) { r.set_mesh_id(""); }), "mesh_id: "));
}

// --- wireguard_pubkey --------------------------------------------------------

TEST(ValidatePubkey, AcceptsAny32ByteKeyInStandardBase64) {
  for (const char byte : {'\0', '\xff', '\xfb'}) {
    const std::string key(32, byte);
    EXPECT_EQ(with([&](auto& r) { r.set_wireguard_pubkey(base::base64_encode(key)); }), "");
  }
}

TEST(ValidatePubkey, RejectsAnEmptyKey) {
  EXPECT_EQ(with([](auto& r) { r.clear_wireguard_pubkey(); }),
            "wireguard_pubkey: must be 32 bytes in base64 (44 characters), got an empty string");
}

TEST(ValidatePubkey, RejectsKeysOfAnotherLengthSayingHowManyBytes) {
  EXPECT_EQ(with([](auto& r) { r.set_wireguard_pubkey(base::base64_encode(std::string(16, 'k'))); }),
            "wireguard_pubkey: must be 32 bytes in base64 (44 characters), got 16 bytes");
  EXPECT_EQ(with([](auto& r) { r.set_wireguard_pubkey(base::base64_encode(std::string(33, 'k'))); }),
            "wireguard_pubkey: must be 32 bytes in base64 (44 characters), got 33 bytes");
}

TEST(ValidatePubkey, RejectsTextThatIsNotBase64) {
  EXPECT_EQ(with([](auto& r) { r.set_wireguard_pubkey("not a key!"); }),
            "wireguard_pubkey: must be 32 bytes in base64 (44 characters), got \"not a key!\", which is not base64");
  // The URL-safe alphabet is not the standard one.
  const std::string url_safe = base::base64_encode(std::string(32, '\xfb'), base::Base64Alphabet::url);
  EXPECT_TRUE(starts_with(with([&](auto& r) { r.set_wireguard_pubkey(url_safe); }), "wireguard_pubkey: "));
}

TEST(ValidatePubkey, RejectsOtherSpellingsOfAKeySoThatTakeoverComparesOneForm) {
  const std::string unpadded = kPubkey.substr(0, 43);
  EXPECT_EQ(with([&](auto& r) { r.set_wireguard_pubkey(unpadded); }),
            "wireguard_pubkey: must be 32 bytes in base64 (44 characters) in canonical form (with '=' padding): \"" +
                kPubkey + "\", got \"" + unpadded + "\"");
  std::string stray_bits = kPubkey;
  stray_bits[42] = static_cast<char>(stray_bits[42] + 1);  // low bits past the 32nd byte
  EXPECT_TRUE(starts_with(with([&](auto& r) { r.set_wireguard_pubkey(stray_bits); }), "wireguard_pubkey: "));
}

// --- mesh_ipv4 ---------------------------------------------------------------

TEST(ValidateMeshIpv4, AcceptsDottedQuadsAndEmpty) {
  for (const std::string address : {"127.42.0.1", "0.0.0.0", "255.255.255.255", "192.168.1.10", ""}) {
    EXPECT_EQ(with([&](auto& r) { r.set_mesh_ipv4(address); }), "") << address;
  }
}

TEST(ValidateMeshIpv4, RejectsAnythingElseNamingTheField) {
  for (const std::string address :
       {"127.42.0", "127.42.0.256", "0127.42.0.1", "127.42.0.1/16", " 127.42.0.1", "127.42.0.1 ", "fdc0:42::1", "colony",
        "127.42.0.1:9000", "0x0a.42.0.1"}) {
    EXPECT_EQ(with([&](auto& r) { r.set_mesh_ipv4(address); }),
              "mesh_ipv4: must be an IPv4 address (a.b.c.d), got \"" + address + "\"");
  }
}

// --- mesh_ipv6 ---------------------------------------------------------------

TEST(ValidateMeshIpv6, AcceptsIpv6AddressesAndEmpty) {
  for (const std::string address :
       {"fdc0:42::1", "2001:db8::1", "::1", "fdc0:0042:0000:0000:0000:0000:0000:0001", "FDC0:42::F", ""}) {
    EXPECT_EQ(with([&](auto& r) { r.set_mesh_ipv6(address); }), "") << address;
  }
}

TEST(ValidateMeshIpv6, RejectsIpv4MappedAddressesHoweverWritten) {
  for (const std::string address : {"::ffff:127.42.0.1", "::ffff:a2a:1", "0:0:0:0:0:ffff:127.42.0.1"}) {
    EXPECT_EQ(with([&](auto& r) { r.set_mesh_ipv6(address); }),
              "mesh_ipv6: must be an IPv6 address, not an IPv4-mapped one (::ffff:a.b.c.d), got \"" + address +
                  "\"; put the IPv4 address in mesh_ipv4");
  }
}

TEST(ValidateMeshIpv6, RejectsZoneIds) {
  EXPECT_EQ(with([](auto& r) { r.set_mesh_ipv6("fe80::1%eth0"); }),
            "mesh_ipv6: must be an IPv6 address without a zone id, got \"fe80::1%eth0\"");
}

TEST(ValidateMeshIpv6, RejectsWhatIsNotAnIpv6Address) {
  for (const std::string address : {"127.42.0.1", "fdc0:42::1::2", "[fdc0:42::1]", "fdc0:42::1/64", "fdc0:42::g", "colony"}) {
    const std::string message = with([&](auto& r) { r.set_mesh_ipv6(address); });
    EXPECT_TRUE(message.starts_with("mesh_ipv6: must be an IPv6 address")) << message;
    EXPECT_TRUE(message.ends_with(", got \"" + address + "\"")) << message;
  }
}

// --- connect_port ------------------------------------------------------------

TEST(ValidateConnectPort, AcceptsPortsOneTo65535) {
  for (const std::uint32_t port : {1u, 9000u, 65535u}) {
    EXPECT_EQ(with([&](auto& r) { r.set_connect_port(port); }), "") << port;
  }
}

TEST(ValidateConnectPort, RejectsPortsAbove65535EvenFromOlderClients) {
  EXPECT_EQ(with([](auto& r) { r.set_connect_port(65536); }), "connect_port: must be 1-65535, got 65536");
  v1::RegisterColonyRequest request = old_client_request();
  request.set_connect_port(70000);
  EXPECT_EQ(rejection(request), "connect_port: must be 1-65535, got 70000");
}

TEST(ValidateConnectPort, RequiresAPortOnceAMeshAddressIsGiven) {
  const std::string message = "connect_port: must be 1-65535 when mesh_ipv4 or mesh_ipv6 is given, got 0";
  EXPECT_EQ(with([](auto& r) { r.set_connect_port(0); }), message);
  EXPECT_EQ(with([](auto& r) {
              r.set_connect_port(0);
              r.clear_mesh_ipv6();
            }),
            message);
  EXPECT_EQ(with([](auto& r) {
              r.set_connect_port(0);
              r.clear_mesh_ipv4();
            }),
            message);
}

TEST(ValidateConnectPort, AllowsNoPortWithoutMeshAddresses) {
  EXPECT_EQ(with([](auto& r) {
              r.set_connect_port(0);
              r.clear_mesh_ipv4();
              r.clear_mesh_ipv6();
            }),
            "");
}

// --- public_endpoints --------------------------------------------------------

TEST(ValidateEndpoints, AcceptsIpv4BracketedIpv6AndDnsNames) {
  for (const std::string endpoint :
       {"203.0.113.42:41820", "[2001:db8::1]:41820", "[::1]:1", "colony.example.com:51820", "localhost:65535",
        "Colony-1.Example.COM.:41820"}) {
    EXPECT_EQ(with([&](auto& r) { r.add_public_endpoints(endpoint); }), "") << endpoint;
  }
}

struct BadEndpoint {
  std::string endpoint;
  std::string why;
};

TEST(ValidateEndpoints, RejectsWhatIsNotHostColonPortNamingTheIndexAndTheProblem) {
  const std::vector<BadEndpoint> cases = {
      {"203.0.113.42", "must be host:port; the port is missing"},
      {"2001:db8::1:41820", "IPv6 addresses must be in brackets, as in [2001:db8::1]:41820"},
      {"[2001:db8::1]", "must be [IPv6 address]:port; the port is missing"},
      {"[2001:db8::1:41820", "'[' without a closing ']'"},
      {"[1.2.3.4]:41820", "only IPv6 addresses go in brackets; write IPv4 as a.b.c.d:port"},
      {"[fe80::1%eth0]:41820", "IPv6 zone ids (\"%eth0\") are not allowed"},
      {"[colony]:41820", "the host in brackets is not an IPv6 address"},
      {"colony:0", "the port must be a number 1-65535"},
      {"colony:65536", "the port must be a number 1-65535"},
      {"colony:-1", "the port must be a number 1-65535"},
      {"colony:080", "the port must be a number 1-65535"},
      {"colony:", "the port is missing"},
      {":41820", "the host is missing"},
      {"bad_host:41820", "the host is neither an IPv4 address, a bracketed IPv6 address nor a DNS name"},
      {"999.1.1.1:41820", "the host is neither an IPv4 address, a bracketed IPv6 address nor a DNS name"},
      {"-colony:41820", "the host is neither an IPv4 address, a bracketed IPv6 address nor a DNS name"},
      {"", "must be host:port, got an empty string"},
  };
  for (const auto& [endpoint, why] : cases) {
    EXPECT_EQ(with([&](auto& r) { r.add_public_endpoints(endpoint); }),
              "public_endpoints[2]: must be host:port (" + why + "), got \"" + endpoint + "\"");
  }
}

TEST(ValidateEndpoints, RejectsIpv4MappedIpv6Hosts) {
  EXPECT_EQ(with([](auto& r) { r.add_public_endpoints("[::ffff:203.0.113.42]:41820"); }),
            "public_endpoints[2]: must not be an IPv4-mapped IPv6 address; write a.b.c.d:port, got "
            "\"[::ffff:203.0.113.42]:41820\"");
}

TEST(ValidateEndpoints, RejectsOverLongEndpoints) {
  const std::string endpoint = std::string(kMaxEndpointBytes - 6, 'a') + ":41820";  // exactly the limit, bad name
  EXPECT_TRUE(starts_with(with([&](auto& r) { r.add_public_endpoints(endpoint); }), "public_endpoints[2]: must be host:port"));
  EXPECT_EQ(with([&](auto& r) { r.add_public_endpoints("a" + endpoint); }),
            "public_endpoints[2]: at most 261 bytes, got 262");
}

TEST(ValidateEndpoints, AcceptsUpToTheLimitAndRejectsMore) {
  v1::RegisterColonyRequest request = full_request();
  request.clear_public_endpoints();
  for (std::size_t i = 0; i < kMaxEndpoints; ++i) request.add_public_endpoints("203.0.113." + std::to_string(i) + ":41820");
  EXPECT_EQ(rejection(request), "");
  request.add_public_endpoints("203.0.113.99:41820");
  EXPECT_EQ(rejection(request), "public_endpoints: at most 16 endpoints, got 17");
}

// --- metadata ----------------------------------------------------------------

TEST(ValidateMetadata, AcceptsUpToTheLimitsAndRejectsMore) {
  v1::RegisterColonyRequest request = full_request();
  request.clear_metadata();
  for (std::size_t i = 0; i < kMaxMetadataEntries; ++i) (*request.mutable_metadata())["k" + std::to_string(i)] = "v";
  EXPECT_EQ(rejection(request), "");
  (*request.mutable_metadata())["one-more"] = "v";
  EXPECT_EQ(rejection(request), "metadata: at most 32 entries, got 33");
}

TEST(ValidateMetadata, KeysMustBe1To63Bytes) {
  EXPECT_EQ(with([](auto& r) { (*r.mutable_metadata())[std::string(63, 'k')] = "v"; }), "");
  EXPECT_EQ(with([](auto& r) { (*r.mutable_metadata())[""] = "v"; }),
            "metadata: keys must be 1-63 bytes, got \"\" (0 bytes)");
  EXPECT_EQ(with([](auto& r) { (*r.mutable_metadata())[std::string(64, 'k')] = "v"; }),
            "metadata: keys must be 1-63 bytes, got \"" + std::string(64, 'k') + "\" (64 bytes)");
}

TEST(ValidateMetadata, ValuesMustBeAtMost256Bytes) {
  EXPECT_EQ(with([](auto& r) { (*r.mutable_metadata())["notes"] = std::string(256, 'v'); }), "");
  EXPECT_EQ(with([](auto& r) { (*r.mutable_metadata())["empty"] = ""; }), "");
  EXPECT_EQ(with([](auto& r) { (*r.mutable_metadata())["notes"] = std::string(257, 'v'); }),
            "metadata[\"notes\"]: values must be at most 256 bytes, got 257");
}

TEST(ValidateMetadata, ReportsTheSameKeyWhateverTheMapOrder) {
  const std::string message = with([](auto& r) {
    for (const char* key : {"zz", "mm", "bb", "aa"}) (*r.mutable_metadata())[key] = std::string(300, 'v');
  });
  EXPECT_EQ(message, "metadata[\"aa\"]: values must be at most 256 bytes, got 300");
}

// --- order -------------------------------------------------------------------

TEST(ValidateRegistration, ReportsTheFirstBadFieldInFieldOrder) {
  v1::RegisterColonyRequest request = full_request();
  request.set_mesh_id("Bad");
  request.set_wireguard_pubkey("bad");
  request.set_mesh_ipv4("bad");
  EXPECT_TRUE(starts_with(rejection(request), "mesh_id: "));
  request.set_mesh_id("good");
  EXPECT_TRUE(starts_with(rejection(request), "wireguard_pubkey: "));
}

}  // namespace
}  // namespace coral::discovery
