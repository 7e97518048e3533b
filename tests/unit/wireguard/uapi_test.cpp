#include "wireguard/uapi.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <random>
#include <string>
#include <vector>

#include "wireguard/conf_file.h"

namespace coral::wireguard::uapi {
namespace {

using namespace std::chrono_literals;

// Keys of tests/unit/crypto/keys_test.cpp. Alice's private key is RFC 7748's
// (77076d0a..., not clamped); kPreshared is RFC 7748 section 5.2's scalar.
constexpr const char* kAlicePrivate = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";
constexpr const char* kAlicePrivateHex = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
constexpr const char* kBobPublic = "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=";
constexpr const char* kBobPublicHex = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
constexpr const char* kPreshared = "pUbja/BSfJ07FhVLgkZe3WIUTArB/FoYUGoiRLpEmsQ=";
constexpr const char* kPresharedHex = "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4";
constexpr const char* kCarolPublic = "WBTxtll6r2uTMv5MkDy447sWVaCbd1XfvFsjkNyKiEA=";
constexpr const char* kCarolPublicHex = "5814f1b6597aaf6b9332fe4c903cb8e3bb1655a09b7755dfbc5b2390dc8a8840";
constexpr const char* kZeroHex = "0000000000000000000000000000000000000000000000000000000000000000";

crypto::SecretKey secret(const char* base64) { return *crypto::SecretKey::from_base64(base64); }
crypto::PublicKey key(const char* base64) { return *crypto::PublicKey::from_base64(base64); }
base::Cidr cidr(const char* text) { return *base::Cidr::parse(text); }
Endpoint endpoint(const char* text) { return *Endpoint::parse(text); }
crypto::SecretKey clamped(const char* base64) {
  crypto::KeyBytes bytes = secret(base64).bytes();
  crypto::clamp(bytes);
  return crypto::SecretKey(bytes);
}

// The configuration behind kWgSetconfRequest.
const std::string kConf = std::string() +
                          "[Interface]\n"
                          "PrivateKey = " + kAlicePrivate + "\n"
                          "ListenPort = 51820\n"
                          "FwMark = 0x2a\n"
                          "[Peer]\n"
                          "PublicKey = " + kBobPublic + "\n"
                          "PresharedKey = " + kPreshared + "\n"
                          "Endpoint = 192.0.2.1:51820\n"
                          "AllowedIPs = 10.42.0.2/32, fd42::2/128\n"
                          "PersistentKeepalive = 25\n"
                          "[Peer]\n"
                          "PublicKey = " + kCarolPublic + "\n"
                          "Endpoint = [2001:db8::1]:41820\n"
                          "AllowedIPs = 10.42.1.0/24\n";

// What `wg setconf NAME` (wireguard-tools v1.0.20210914) wrote to a UAPI
// socket for kConf, recorded byte for byte.
const std::string kWgSetconfRequest = std::string() +
                                      "set=1\n"
                                      "private_key=" + kAlicePrivateHex + "\n"
                                      "listen_port=51820\n"
                                      "fwmark=42\n"
                                      "replace_peers=true\n"
                                      "public_key=" + kBobPublicHex + "\n"
                                      "preshared_key=" + kPresharedHex + "\n"
                                      "endpoint=192.0.2.1:51820\n"
                                      "persistent_keepalive_interval=25\n"
                                      "replace_allowed_ips=true\n"
                                      "allowed_ip=10.42.0.2/32\n"
                                      "allowed_ip=fd42::2/128\n"
                                      "public_key=" + kCarolPublicHex + "\n"
                                      "endpoint=[2001:db8::1]:41820\n"
                                      "replace_allowed_ips=true\n"
                                      "allowed_ip=10.42.1.0/24\n"
                                      "\n";

// Recorded likewise: `wg set NAME listen-port 0 fwmark off private-key
// /dev/null peer <Bob> allowed-ips 10.9.0.0/16,fd00::/8
// persistent-keepalive off preshared-key /dev/null endpoint
// [::ffff:192.0.2.7]:9`, then `wg set NAME peer <Carol> remove`.
const std::string kWgSetRequest = std::string() +
                                  "set=1\n"
                                  "private_key=" + kZeroHex + "\n"
                                  "listen_port=0\n"
                                  "fwmark=0\n"
                                  "public_key=" + kBobPublicHex + "\n"
                                  "preshared_key=" + kZeroHex + "\n"
                                  "endpoint=[::ffff:192.0.2.7]:9\n"
                                  "persistent_keepalive_interval=0\n"
                                  "replace_allowed_ips=true\n"
                                  "allowed_ip=10.9.0.0/16\n"
                                  "allowed_ip=fd00::/8\n"
                                  "\n";
const std::string kWgRemoveRequest = std::string("set=1\npublic_key=") + kCarolPublicHex + "\nremove=true\n\n";

// Feeds `stream` in the given chunk sizes (the last chunk takes the rest)
// and collects the requests, or the first framing error.
struct Framed {
  std::vector<std::pair<RequestKind, std::string>> requests;
  std::optional<FramingError> error;
};
Framed frame(std::string_view stream, const std::vector<std::size_t>& chunks, Limits limits = {}) {
  RequestFramer framer(limits);
  Framed out;
  const auto drain = [&] {
    while (true) {
      auto next = framer.next();
      if (!next) {
        out.error = next.error();
        return;
      }
      if (!*next) return;
      out.requests.emplace_back((*next)->kind, (*next)->body);
    }
  };
  std::size_t at = 0;
  for (std::size_t size : chunks) {
    if (out.error) break;
    size = std::min(size, stream.size() - at);
    framer.feed(stream.substr(at, size));
    at += size;
    drain();
  }
  if (!out.error && at < stream.size()) {
    framer.feed(stream.substr(at));
    drain();
  }
  return out;
}

// The body of a whole set request: without "set=1\n" and the blank line.
std::string_view body_of(std::string_view request) { return request.substr(6, request.size() - 7); }

std::vector<SetOperation> parse_ok(std::string_view body) {
  auto ops = parse_set(body);
  EXPECT_TRUE(ops) << (ops ? "" : ops.error().detail);
  return ops ? std::move(*ops) : std::vector<SetOperation>{};
}

TEST(UapiFramer, GetAndSetRequests) {
  const Framed get = frame("get=1\n\n", {});
  ASSERT_FALSE(get.error);
  ASSERT_EQ(get.requests.size(), 1U);
  EXPECT_EQ(get.requests[0].first, RequestKind::get);
  EXPECT_EQ(get.requests[0].second, "");

  const Framed set = frame(kWgSetconfRequest, {});
  ASSERT_FALSE(set.error);
  ASSERT_EQ(set.requests.size(), 1U);
  EXPECT_EQ(set.requests[0].first, RequestKind::set);
  // The body: what follows "set=1\n", without the blank line.
  EXPECT_EQ(set.requests[0].second, body_of(kWgSetconfRequest));

  const Framed empty_set = frame("set=1\n\n", {});
  ASSERT_EQ(empty_set.requests.size(), 1U);
  EXPECT_EQ(empty_set.requests[0].second, "");
}

TEST(UapiFramer, SeveralRequestsOnOneConnectionSplitAnywhere) {
  const std::string stream = "get=1\n\n" + kWgSetconfRequest + "get=1\n\n" + kWgRemoveRequest + "set=1\n\n";
  const Framed whole = frame(stream, {});
  ASSERT_FALSE(whole.error);
  ASSERT_EQ(whole.requests.size(), 5U);
  EXPECT_EQ(whole.requests[1].second, body_of(kWgSetconfRequest));
  EXPECT_EQ(whole.requests[3].second, body_of(kWgRemoveRequest));

  // Two chunks, split at every point; then byte by byte.
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    const Framed parts = frame(stream, {split});
    ASSERT_FALSE(parts.error) << split;
    EXPECT_EQ(parts.requests, whole.requests) << "split at " << split;
  }
  std::vector<std::size_t> ones(stream.size(), 1);
  EXPECT_EQ(frame(stream, ones).requests, whole.requests);

  // Random chunkings (seeded).
  std::mt19937 random(7);
  for (int run = 0; run < 200; ++run) {
    std::vector<std::size_t> chunks;
    for (std::size_t total = 0; total < stream.size();) {
      chunks.push_back(std::uniform_int_distribution<std::size_t>(1, 40)(random));
      total += chunks.back();
    }
    EXPECT_EQ(frame(stream, chunks).requests, whole.requests) << "run " << run;
  }
}

TEST(UapiFramer, WaitsForTheEndOfARequest) {
  RequestFramer framer;
  for (std::string_view part : {"g", "et=1", "\n"}) {
    framer.feed(part);
    auto next = framer.next();
    ASSERT_TRUE(next);
    EXPECT_FALSE(*next) << part;
  }
  framer.feed("\nset=1\nlisten_port=1\n");
  auto get = framer.next();
  ASSERT_TRUE(get && *get);
  EXPECT_EQ((*get)->kind, RequestKind::get);
  auto pending = framer.next();
  ASSERT_TRUE(pending);
  EXPECT_FALSE(*pending);
  EXPECT_EQ(framer.buffered_bytes(), 20U);
  framer.feed("\n");
  auto set = framer.next();
  ASSERT_TRUE(set && *set);
  EXPECT_EQ((*set)->body, "listen_port=1\n");
  EXPECT_EQ(framer.buffered_bytes(), 0U);
}

TEST(UapiFramer, UnknownOperationsAreRefusedAsSoonAsTheyDiffer) {
  for (const char* stream : {"x", "gex", "GET=1\n\n", "get=2\n\n", "set=1 \n", "get\n\n", "\n", "set=1\r\n\r\n"}) {
    const Framed framed = frame(stream, {1});
    ASSERT_TRUE(framed.error) << stream;
    EXPECT_EQ(*framed.error, FramingError::unknown_operation) << stream;
    EXPECT_TRUE(framed.requests.empty());
  }
  // After a good request, a bad one fails on its own.
  const Framed after = frame("get=1\n\nhello\n", {});
  EXPECT_EQ(after.requests.size(), 1U);
  EXPECT_EQ(after.error, FramingError::unknown_operation);
  EXPECT_FALSE(framing_error_response(FramingError::unknown_operation));
}

TEST(UapiFramer, GetMustEndWithABlankLine) {
  const Framed framed = frame("get=1\nlisten_port=1\n\n", {});
  EXPECT_EQ(framed.error, FramingError::get_not_terminated);
  EXPECT_EQ(framing_error_response(FramingError::get_not_terminated), "errno=-22\n\n");
}

TEST(UapiFramer, CapsLineAndRequestSizes) {
  // A line may be max_line_bytes long with its newline, not one more; the
  // cap holds before the newline arrives.
  const Limits limits{.max_line_bytes = 16, .max_request_bytes = 64};
  EXPECT_FALSE(frame("set=1\nlisten_port=123\n\n", {}, limits).error);  // 16 bytes
  EXPECT_EQ(frame("set=1\nlisten_port=1234\n\n", {}, limits).error, FramingError::line_too_long);
  EXPECT_EQ(frame("set=1\nlisten_port=1234", {}, limits).error, FramingError::line_too_long);
  std::string many_lines = "set=1\n";
  for (int i = 0; i < 8; ++i) many_lines += "fwmark=1\n";  // 6 + 72 bytes
  EXPECT_EQ(frame(many_lines + "\n", {}, limits).error, FramingError::request_too_long);
  EXPECT_EQ(frame(many_lines, {5}, limits).error, FramingError::request_too_long);
  EXPECT_EQ(framing_error_response(FramingError::line_too_long), "errno=-90\n\n");
  EXPECT_EQ(framing_error_response(FramingError::request_too_long), "errno=-90\n\n");

  // The defaults: 4096-byte lines, 1 MiB requests.
  EXPECT_EQ(frame("set=1\nendpoint=" + std::string(5000, '1'), {100}).error, FramingError::line_too_long);
  std::string big = "set=1\n";
  while (big.size() <= (1U << 20)) big += "allowed_ip=10.42.0.0/16\n";
  EXPECT_EQ(frame(big, {4096}).error, FramingError::request_too_long);
}

TEST(UapiFramer, StaysFailed) {
  RequestFramer framer;
  framer.feed("bogus\n");
  EXPECT_EQ(framer.next().error(), FramingError::unknown_operation);
  framer.feed("get=1\n\n");
  EXPECT_EQ(framer.next().error(), FramingError::unknown_operation);
}

// Seeded random mutations of real requests: the framer and the parser
// either accept or refuse, and never read out of bounds (ASan) or loop.
TEST(UapiFramer, SurvivesMutatedInput) {
  const std::string seeds[] = {"get=1\n\n" + kWgSetconfRequest, kWgSetRequest + kWgRemoveRequest};
  const std::string alphabet = "=\n-/:[]01fx_aeglprstuy";
  std::mt19937 random(11);
  int framed = 0;
  for (int run = 0; run < 3000; ++run) {
    std::string stream = seeds[run % 2];
    const int edits = std::uniform_int_distribution<int>(1, 6)(random);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = std::uniform_int_distribution<std::size_t>(0, stream.size() - 1)(random);
      const char c = alphabet[std::uniform_int_distribution<std::size_t>(0, alphabet.size() - 1)(random)];
      switch (random() % 3) {
        case 0: stream[at] = c; break;
        case 1: stream.insert(stream.begin() + std::ptrdiff_t(at), c); break;
        default: stream.erase(at, 1); break;
      }
    }
    const Framed result = frame(stream, {std::uniform_int_distribution<std::size_t>(1, 64)(random)},
                                Limits{.max_line_bytes = 128, .max_request_bytes = 2048});
    for (const auto& [kind, body] : result.requests) {
      ++framed;
      if (kind == RequestKind::set) {
        auto ops = parse_set(body);
        if (ops) {
          DeviceSettings settings;
          apply_set(settings, *ops);
        } else {
          EXPECT_FALSE(ops.error().detail.empty());
        }
      }
    }
  }
  EXPECT_GT(framed, 100);  // the mutations left many requests whole enough to frame
}

TEST(UapiSet, ParsesWhatWgSetconfSends) {
  const auto ops = parse_ok(body_of(kWgSetconfRequest));
  const std::vector<SetOperation> want = {
      SetPrivateKey{clamped(kAlicePrivate)},  // clamped on the way in, as wireguard-go does
      SetListenPort{51820},
      SetFwmark{42},
      ReplacePeers{},
      SelectPeer{key(kBobPublic)},
      SetPresharedKey{secret(kPreshared)},  // never clamped
      SetEndpoint{endpoint("192.0.2.1:51820")},
      SetPersistentKeepalive{25},
      ReplaceAllowedIps{},
      AddAllowedIp{cidr("10.42.0.2/32")},
      AddAllowedIp{cidr("fd42::2/128")},
      SelectPeer{key(kCarolPublic)},
      SetEndpoint{endpoint("[2001:db8::1]:41820")},
      ReplaceAllowedIps{},
      AddAllowedIp{cidr("10.42.1.0/24")},
  };
  EXPECT_EQ(ops, want);
}

TEST(UapiSet, ParsesWhatWgSetSends) {
  const std::vector<SetOperation> want = {
      SetPrivateKey{crypto::SecretKey()},  // zeros: no key, and not clamped
      SetListenPort{0},
      SetFwmark{0},
      SelectPeer{key(kBobPublic)},
      SetPresharedKey{crypto::SecretKey()},
      SetEndpoint{endpoint("[::ffff:192.0.2.7]:9")},
      SetPersistentKeepalive{0},
      ReplaceAllowedIps{},
      AddAllowedIp{cidr("10.9.0.0/16")},
      AddAllowedIp{cidr("fd00::/8")},
  };
  EXPECT_EQ(parse_ok(body_of(kWgSetRequest)), want);
  EXPECT_EQ(parse_ok(body_of(kWgRemoveRequest)), (std::vector<SetOperation>{SelectPeer{key(kCarolPublic)}, RemovePeer{}}));
}

TEST(UapiSet, EveryOtherKey) {
  const std::string body = std::string("public_key=") + kBobPublicHex +
                           "\n"
                           "protocol_version=1\n"
                           "update_only=true\n"
                           "allowed_ip=10.42.0.77/16\n"  // host bits cleared, silently
                           "allowed_ip=-fd42::/64\n";
  EXPECT_EQ(parse_ok(body),
            (std::vector<SetOperation>{SelectPeer{key(kBobPublic)}, UpdateOnly{}, AddAllowedIp{cidr("10.42.0.0/16")},
                                       RemoveAllowedIp{cidr("fd42::/64")}}));
  // Upper-case hex is taken; a last line without '\n' too.
  std::string upper = kBobPublicHex;
  for (char& c : upper) c = char(std::toupper(c));
  EXPECT_EQ(parse_ok("public_key=" + upper), (std::vector<SetOperation>{SelectPeer{key(kBobPublic)}}));
  // Leading zeros in numbers, as Go's ParseUint takes them.
  EXPECT_EQ(parse_ok("listen_port=00080\nfwmark=4294967295\n"),
            (std::vector<SetOperation>{SetListenPort{80}, SetFwmark{0xffffffff}}));
  EXPECT_EQ(parse_ok(""), std::vector<SetOperation>{});
}

struct BadSet {
  const char* name;
  std::string body;
  SetError error;
  std::size_t line;
  std::string detail;
};

TEST(UapiSet, RefusesBadLinesWithWireguardGosErrno) {
  const std::string peer = std::string("public_key=") + kBobPublicHex + "\n";
  const BadSet cases[] = {
      {"no equals sign", "listen_port\n", SetError::malformed_line, 1, "expected key=value"},
      {"unknown key", "listen_port=1\nlisten-port=1\n", SetError::unknown_key, 2, "unknown key \"listen-port\""},
      {"get key in a set", "last_handshake_time_sec=1\n", SetError::unknown_key, 1,
       "unknown key \"last_handshake_time_sec\""},
      {"allowed_ip before public_key", "allowed_ip=10.0.0.0/8\n", SetError::key_out_of_place, 1,
       "allowed_ip: a peer key before any public_key"},
      {"protocol_version before public_key", "protocol_version=1\n", SetError::key_out_of_place, 1,
       "protocol_version: a peer key before any public_key"},
      {"listen_port after public_key", peer + "listen_port=1\n", SetError::key_out_of_place, 2,
       "listen_port: a device key after public_key"},
      {"private key too short", std::string("private_key=") + std::string(kAlicePrivateHex).substr(2) + "\n",
       SetError::invalid_value, 1, "private_key: must be 64 hex digits"},
      {"private key not hex", "private_key=" + std::string(63, 'a') + "g\n", SetError::invalid_value, 1,
       "private_key: must be 64 hex digits"},
      {"private key in base64", std::string("private_key=") + kAlicePrivate + "\n", SetError::invalid_value, 1,
       "private_key: must be 64 hex digits"},
      {"public key too long", peer.substr(0, peer.size() - 1) + "00\n", SetError::invalid_value, 1,
       "public_key: must be 64 hex digits"},
      {"preshared key not hex", peer + "preshared_key=" + std::string(64, 'z') + "\n", SetError::invalid_value, 2,
       "preshared_key: must be 64 hex digits"},
      {"port too large", "listen_port=65536\n", SetError::invalid_value, 1,
       "listen_port: must be a number 0-65535, got \"65536\""},
      {"port not a number", "listen_port=-1\n", SetError::invalid_value, 1,
       "listen_port: must be a number 0-65535, got \"-1\""},
      {"empty port", "listen_port=\n", SetError::invalid_value, 1, "listen_port: must be a number 0-65535, got \"\""},
      {"fwmark too large", "fwmark=4294967296\n", SetError::invalid_value, 1,
       "fwmark: must be a number 0-4294967295, got \"4294967296\""},
      {"replace_peers=false", "replace_peers=false\n", SetError::invalid_value, 1,
       "replace_peers: must be \"true\", got \"false\""},
      {"remove=1", peer + "remove=1\n", SetError::invalid_value, 2, "remove: must be \"true\", got \"1\""},
      {"update_only=TRUE", peer + "update_only=TRUE\n", SetError::invalid_value, 2,
       "update_only: must be \"true\", got \"TRUE\""},
      {"replace_allowed_ips=", peer + "replace_allowed_ips=\n", SetError::invalid_value, 2,
       "replace_allowed_ips: must be \"true\", got \"\""},
      {"protocol_version=2", peer + "protocol_version=2\n", SetError::invalid_value, 2,
       "protocol_version: must be 1, got \"2\""},
      {"keepalive too large", peer + "persistent_keepalive_interval=65536\n", SetError::invalid_value, 2,
       "persistent_keepalive_interval: must be a number of seconds 0-65535, got \"65536\""},
      {"host name endpoint", peer + "endpoint=example.com:51820\n", SetError::invalid_value, 2,
       "endpoint: \"example.com:51820\": host names are not resolved here; give an IP address, as in "
       "192.0.2.1:51820 or [2001:db8::1]:51820"},
      {"endpoint with zone", peer + "endpoint=[fe80::1%eth0]:51820\n", SetError::invalid_value, 2,
       "endpoint: \"[fe80::1%eth0]:51820\": IPv6 zone ids (\"%eth0\") are not allowed"},
      {"allowed_ip without length", peer + "allowed_ip=10.0.0.1\n", SetError::invalid_value, 2,
       "allowed_ip: invalid prefix \"10.0.0.1\": the prefix length is missing"},
      {"allowed_ip length too long", peer + "allowed_ip=10.0.0.0/33\n", SetError::invalid_value, 2,
       "allowed_ip: invalid prefix \"10.0.0.0/33\": the prefix length must be a number 0-32 for IPv4"},
      {"allowed_ip with leading zero", peer + "allowed_ip=10.0.0.0/08\n", SetError::invalid_value, 2,
       "allowed_ip: invalid prefix \"10.0.0.0/08\": the prefix length must be a number 0-32 for IPv4"},
      {"empty line inside", "listen_port=1\n\nfwmark=1\n", SetError::malformed_line, 2, "expected key=value"},
      // Key material in the wrong place is never shown.
      {"a key as a key name", std::string(kAlicePrivateHex) + "=\n", SetError::unknown_key, 1,
       "unknown key (not shown)"},
      {"part of a key as a key name", std::string(kAlicePrivateHex).substr(0, 20) + "=\n", SetError::unknown_key, 1,
       "unknown key (not shown)"},
      {"a key as a port", std::string("listen_port=") + kAlicePrivateHex + "\n", SetError::invalid_value, 1,
       "listen_port: must be a number 0-65535, got (not shown: it looks like a key)"},
      {"a base64 key as an endpoint", peer + "endpoint=" + kPreshared + "\n", SetError::invalid_value, 2,
       "endpoint: (not shown: it looks like a key): must be host:port; the port is missing"},
  };
  for (const BadSet& c : cases) {
    auto ops = parse_set(c.body);
    ASSERT_FALSE(ops) << c.name;
    EXPECT_EQ(ops.error().error, c.error) << c.name;
    EXPECT_EQ(ops.error().line, c.line) << c.name;
    EXPECT_EQ(ops.error().detail, c.detail) << c.name;
    const int want_errno = c.error == SetError::malformed_line ? EPROTO : EINVAL;
    EXPECT_EQ(ops.error().errno_value(), want_errno) << c.name;
  }
}

TEST(UapiSet, ErrnoResponsesAreNegativeAsWireguardGoSendsThem) {
  EXPECT_EQ(format_errno_response(0), "errno=0\n\n");
  EXPECT_EQ(format_errno_response(EINVAL), "errno=-22\n\n");
  EXPECT_EQ(format_errno_response(EPROTO), "errno=-71\n\n");
  EXPECT_EQ(format_errno_response(EADDRINUSE), "errno=-98\n\n");
}

TEST(UapiSet, FormatsRequestsThatParseBack) {
  // What to_set_operations makes of kConf is what `wg setconf` sent.
  auto conf = parse_conf(kConf, "wg0.conf");
  ASSERT_TRUE(conf) << conf.error().to_string();
  const auto ops = to_set_operations(conf->settings);
  EXPECT_EQ(format_set_request(ops), kWgSetconfRequest);

  const std::vector<SetOperation> every = {
      SetPrivateKey{clamped(kAlicePrivate)}, SetListenPort{65535},  SetFwmark{7},
      ReplacePeers{},                        SelectPeer{key(kBobPublic)},
      UpdateOnly{},                          SetPresharedKey{secret(kPreshared)},
      SetEndpoint{endpoint("[fd00::1]:1")},  SetPersistentKeepalive{1},
      ReplaceAllowedIps{},                   AddAllowedIp{cidr("::/0")},
      RemoveAllowedIp{cidr("0.0.0.0/0")},    SelectPeer{key(kCarolPublic)},
      RemovePeer{},
  };
  const std::string text = format_set_request(every);
  const Framed framed = frame(text, {});
  ASSERT_EQ(framed.requests.size(), 1U);
  EXPECT_EQ(parse_ok(framed.requests[0].second), every);
}

TEST(UapiGet, ByteExactResponse) {
  DeviceSnapshot snapshot;
  snapshot.private_key = secret(kAlicePrivate);
  snapshot.listen_port = 51820;
  snapshot.fwmark = 42;
  PeerSnapshot bob;
  bob.public_key = key(kBobPublic);
  bob.preshared_key = secret(kPreshared);
  bob.endpoint = endpoint("192.0.2.1:51820");
  bob.last_handshake = std::chrono::system_clock::time_point(1700000000s + 123456789ns);
  bob.tx_bytes = 18446744073709551615ULL;
  bob.rx_bytes = 1234;
  bob.persistent_keepalive_interval = 25;
  bob.allowed_ips = {cidr("10.42.0.2/32"), cidr("fd42::2/128")};
  PeerSnapshot carol;
  carol.public_key = key(kCarolPublic);
  snapshot.peers.push_back(bob);
  snapshot.peers.push_back(carol);

  EXPECT_EQ(format_get_response(snapshot), std::string() +
                                               "private_key=" + kAlicePrivateHex + "\n"
                                               "listen_port=51820\n"
                                               "fwmark=42\n"
                                               "public_key=" + kBobPublicHex + "\n"
                                               "preshared_key=" + kPresharedHex + "\n"
                                               "protocol_version=1\n"
                                               "endpoint=192.0.2.1:51820\n"
                                               "last_handshake_time_sec=1700000000\n"
                                               "last_handshake_time_nsec=123456789\n"
                                               "tx_bytes=18446744073709551615\n"
                                               "rx_bytes=1234\n"
                                               "persistent_keepalive_interval=25\n"
                                               "allowed_ip=10.42.0.2/32\n"
                                               "allowed_ip=fd42::2/128\n"
                                               "public_key=" + kCarolPublicHex + "\n"
                                               "preshared_key=" + kZeroHex + "\n"
                                               "protocol_version=1\n"
                                               "last_handshake_time_sec=0\n"
                                               "last_handshake_time_nsec=0\n"
                                               "tx_bytes=0\n"
                                               "rx_bytes=0\n"
                                               "persistent_keepalive_interval=0\n"
                                               "errno=0\n"
                                               "\n");
}

TEST(UapiGet, UnsetDeviceFieldsAreLeftOut) {
  EXPECT_EQ(format_get_response(DeviceSnapshot{}), "errno=0\n\n");
  DeviceSnapshot v6;
  PeerSnapshot peer;
  peer.public_key = key(kBobPublic);
  peer.endpoint = endpoint("[2001:db8::1]:41820");
  v6.peers.push_back(peer);
  const std::string response = format_get_response(v6);
  EXPECT_EQ(response.substr(0, 11), "public_key=");
  EXPECT_NE(response.find("\nendpoint=[2001:db8::1]:41820\n"), std::string::npos) << response;
}

DeviceSettings settings_of(const std::string& conf_text) {
  auto parsed = parse_conf(conf_text, "test.conf");
  EXPECT_TRUE(parsed) << parsed.error().to_string();
  return parsed ? parsed->settings : DeviceSettings{};
}

TEST(UapiApply, SetconfOperationsRebuildTheSettings) {
  const DeviceSettings want = settings_of(kConf);
  DeviceSettings got = settings_of(std::string("[Interface]\nPrivateKey=") + kPreshared + "\n[Peer]\nPublicKey=" +
                                   kCarolPublic + "\nAllowedIPs=10.0.0.0/8\n");
  apply_set(got, to_set_operations(want));
  EXPECT_EQ(got, want);
}

TEST(UapiApply, PeerSelectionUpdateOnlyAndRemove) {
  DeviceSettings settings = settings_of(kConf);  // peers: Bob, Carol
  const crypto::PublicKey dave = crypto::SecretKey::generate().public_key();
  apply_set(settings, parse_ok(std::string() +
                               // Dave is new: update_only drops him and what follows for him.
                               "public_key=" + std::string(60, '0') + "abcd\n" + "update_only=true\n" +
                               "allowed_ip=10.99.0.0/16\n" +
                               // Bob exists: update_only lets the change through.
                               "public_key=" + kBobPublicHex + "\nupdate_only=true\npersistent_keepalive_interval=5\n" +
                               // Carol goes, and a line after remove changes nothing.
                               "public_key=" + kCarolPublicHex + "\nremove=true\nallowed_ip=10.98.0.0/16\n"));
  ASSERT_EQ(settings.peers.size(), 1U);
  EXPECT_EQ(settings.peers[0].public_key, key(kBobPublic));
  EXPECT_EQ(settings.peers[0].persistent_keepalive, 5);
  EXPECT_EQ(settings.peers[0].allowed_ips, (std::vector{cidr("10.42.0.2/32"), cidr("fd42::2/128")}));

  // A new peer is created by public_key alone, and goes last.
  apply_set(settings, std::vector<SetOperation>{SelectPeer{dave}});
  ASSERT_EQ(settings.peers.size(), 2U);
  EXPECT_EQ(settings.peers[1].public_key, dave);

  apply_set(settings, std::vector<SetOperation>{ReplacePeers{}});
  EXPECT_TRUE(settings.peers.empty());
}

TEST(UapiApply, AllowedIpsMoveBetweenPeers) {
  DeviceSettings settings = settings_of(kConf);
  apply_set(settings, parse_ok(std::string("public_key=") + kCarolPublicHex +
                               "\nallowed_ip=10.42.0.2/32\n"       // Bob's: moves to Carol
                               "allowed_ip=-fd42::2/128\n"         // Bob's: Carol cannot remove it
                               "allowed_ip=-10.42.1.0/24\n"));     // Carol's own: gone
  EXPECT_EQ(settings.peers[0].allowed_ips, std::vector{cidr("fd42::2/128")});
  EXPECT_EQ(settings.peers[1].allowed_ips, std::vector{cidr("10.42.0.2/32")});

  apply_set(settings, parse_ok(std::string("public_key=") + kBobPublicHex +
                               "\nreplace_allowed_ips=true\nallowed_ip=0.0.0.0/0\npreshared_key=" + kZeroHex +
                               "\nendpoint=[fd00::9]:9\n"));
  EXPECT_EQ(settings.peers[0].allowed_ips, std::vector{cidr("0.0.0.0/0")});
  EXPECT_FALSE(settings.peers[0].preshared_key);  // zeros: none
  EXPECT_EQ(settings.peers[0].endpoint, endpoint("[fd00::9]:9"));
}

TEST(UapiApply, TheDevicesOwnKeyIsNeverAPeer) {
  DeviceSettings settings = settings_of(kConf);  // Alice's private key
  const crypto::PublicKey alice = secret(kAlicePrivate).public_key();
  apply_set(settings, std::vector<SetOperation>{SelectPeer{alice}, AddAllowedIp{cidr("10.7.0.0/16")}});
  EXPECT_EQ(settings.peers.size(), 2U);  // ignored
  for (const auto& peer : settings.peers) EXPECT_NE(peer.allowed_ips, std::vector{cidr("10.7.0.0/16")});

  // Taking the private key of a peer's public key removes that peer.
  const crypto::SecretKey carol_private = crypto::SecretKey::generate();
  apply_set(settings, std::vector<SetOperation>{SelectPeer{carol_private.public_key()}});
  ASSERT_EQ(settings.peers.size(), 3U);
  apply_set(settings, std::vector<SetOperation>{SetPrivateKey{carol_private}});
  ASSERT_EQ(settings.peers.size(), 2U);
  EXPECT_EQ(settings.peers[1].public_key, key(kCarolPublic));
}

TEST(UapiEndToEnd, BytesInOperationsOut) {
  // A whole exchange as the device sees it: wg's request split into odd
  // pieces, framed, parsed, applied; then the get answer.
  RequestFramer framer;
  DeviceSettings device;
  std::vector<std::string> responses;
  const std::string stream = kWgSetconfRequest + "get=1\n\n";
  for (std::size_t at = 0; at < stream.size(); at += 13) {
    framer.feed(std::string_view(stream).substr(at, 13));
    while (true) {
      auto next = framer.next();
      ASSERT_TRUE(next);
      if (!*next) break;
      if ((*next)->kind == RequestKind::set) {
        auto ops = parse_set((*next)->body);
        ASSERT_TRUE(ops);
        apply_set(device, *ops);
        responses.push_back(format_errno_response(0));
      } else {
        DeviceSnapshot snapshot;
        snapshot.private_key = device.interface.private_key;
        snapshot.listen_port = device.interface.listen_port;
        snapshot.fwmark = device.interface.fwmark;
        for (const auto& peer : device.peers) {
          PeerSnapshot p;
          p.public_key = peer.public_key;
          if (peer.preshared_key) p.preshared_key = *peer.preshared_key;
          p.endpoint = peer.endpoint;
          p.persistent_keepalive_interval = peer.persistent_keepalive;
          p.allowed_ips = peer.allowed_ips;
          snapshot.peers.push_back(p);
        }
        responses.push_back(format_get_response(snapshot));
      }
    }
  }
  ASSERT_EQ(responses.size(), 2U);
  EXPECT_EQ(responses[0], "errno=0\n\n");
  // The private key comes back clamped (77 -> 70 in the first byte, as
  // wireguard-go shows it).
  EXPECT_EQ(responses[1].substr(12, 64), "70" + std::string(kAlicePrivateHex).substr(2, 60) + "6a");
  EXPECT_NE(responses[1].find("\nallowed_ip=10.42.1.0/24\nerrno=0\n\n"), std::string::npos) << responses[1];
}

}  // namespace
}  // namespace coral::wireguard::uapi
