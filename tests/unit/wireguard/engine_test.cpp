// Two engines connected through memory (no sockets, a fake clock): the
// handshake, data both ways, rekeying, loss, reordering, replays, roaming,
// cookies under load and cryptokey routing, observed as a peer would.

#include "wireguard/engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <vector>

namespace coral::wireguard {
namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;

struct Capture final : EngineOutput {
  struct Datagram {
    Endpoint to;
    Bytes bytes;
  };
  std::deque<Datagram> sent;
  std::vector<Bytes> delivered;

  void send(const Endpoint& to, std::span<const std::uint8_t> message) override {
    sent.push_back({to, Bytes(message.begin(), message.end())});
  }
  void deliver(std::span<const std::uint8_t> packet) override { delivered.emplace_back(packet.begin(), packet.end()); }
};

Endpoint endpoint(const char* text) { return *Endpoint::parse(text); }
base::Cidr cidr(const char* text) { return *base::Cidr::parse(text); }

// A minimal IPv4 packet: header (no options, checksum not needed by the
// engine) and `payload_size` bytes of payload.
Bytes ipv4_packet(base::Ipv4Bytes source, base::Ipv4Bytes destination, std::size_t payload_size, std::uint8_t fill = 0xab) {
  Bytes packet(20 + payload_size, fill);
  packet[0] = 0x45;
  packet[1] = 0;
  packet[2] = static_cast<std::uint8_t>(packet.size() >> 8);
  packet[3] = static_cast<std::uint8_t>(packet.size());
  packet[8] = 64;
  packet[9] = 17;
  std::copy(source.begin(), source.end(), packet.begin() + 12);
  std::copy(destination.begin(), destination.end(), packet.begin() + 16);
  return packet;
}

Bytes ipv6_packet(const char* source, const char* destination, std::size_t payload_size) {
  Bytes packet(40 + payload_size, 0x5a);
  packet[0] = 0x60;
  packet[1] = packet[2] = packet[3] = 0;
  packet[4] = static_cast<std::uint8_t>(payload_size >> 8);
  packet[5] = static_cast<std::uint8_t>(payload_size);
  packet[6] = 17;
  packet[7] = 64;
  const auto src = *base::parse_ipv6(source);
  const auto dst = *base::parse_ipv6(destination);
  std::copy(src.begin(), src.end(), packet.begin() + 8);
  std::copy(dst.begin(), dst.end(), packet.begin() + 24);
  return packet;
}

constexpr base::Ipv4Bytes kA{10, 42, 0, 1};
constexpr base::Ipv4Bytes kB{10, 42, 0, 2};

class EnginePair : public ::testing::Test {
 protected:
  explicit EnginePair(EngineOptions options = {}) : a_(with_test_clock(options)), b_(with_test_clock(options)) {}

  // Initiation timestamps come from the wall clock: it moves with now_.
  EngineOptions with_test_clock(EngineOptions options) {
    options.wall_clock = [this] { return wall_; };
    return options;
  }
  void advance(Duration by) {
    now_ += by;
    wall_ += by;
  }

  void SetUp() override {
    DeviceSettings a;
    a.interface.private_key = key_a_;
    PeerSettings a_peer;
    a_peer.public_key = key_b_.public_key();
    a_peer.endpoint = endpoint_b_;
    a_peer.allowed_ips = {cidr("10.42.0.2/32"), cidr("fd42::2/128")};
    a.peers.push_back(a_peer);

    DeviceSettings b;
    b.interface.private_key = key_b_;
    PeerSettings b_peer;
    b_peer.public_key = key_a_.public_key();
    b_peer.endpoint = endpoint_a_;  // both know each other: either may start
    b_peer.allowed_ips = {cidr("10.42.0.1/32"), cidr("fd42::1/128")};
    b.peers.push_back(b_peer);
    a_settings_ = a;
    b_settings_ = b;
    a_.configure(a, now_, out_a_);
    b_.configure(b, now_, out_b_);
  }

  // Delivers everything each side sent to the other, until both are quiet
  // (bounded: a handshake and its confirmation take three messages).
  void exchange() {
    for (int round = 0; round < 10 && (!out_a_.sent.empty() || !out_b_.sent.empty()); ++round) {
      while (!out_a_.sent.empty()) {
        auto datagram = std::move(out_a_.sent.front());
        out_a_.sent.pop_front();
        b_.receive_datagram(datagram.bytes, from_a_, now_, out_b_);
      }
      while (!out_b_.sent.empty()) {
        auto datagram = std::move(out_b_.sent.front());
        out_b_.sent.pop_front();
        a_.receive_datagram(datagram.bytes, from_b_, now_, out_a_);
      }
    }
  }

  const Peer& b_at_a() { return *a_.find_peer(key_b_.public_key()); }
  const Peer& a_at_b() { return *b_.find_peer(key_a_.public_key()); }

  crypto::SecretKey key_a_ = crypto::SecretKey::generate();
  crypto::SecretKey key_b_ = crypto::SecretKey::generate();
  Endpoint endpoint_a_ = endpoint("127.0.0.1:51820");
  Endpoint endpoint_b_ = endpoint("127.0.0.1:51821");
  Endpoint from_a_ = endpoint_a_;
  Endpoint from_b_ = endpoint_b_;
  DeviceSettings a_settings_;
  DeviceSettings b_settings_;
  Time now_ = Time(std::chrono::hours(1000));
  std::chrono::system_clock::time_point wall_ = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  Engine a_;
  Engine b_;
  Capture out_a_;
  Capture out_b_;
};

TEST_F(EnginePair, FirstPacketStartsAHandshakeAndArrivesAfterIt) {
  const Bytes packet = ipv4_packet(kA, kB, 100);
  a_.send_packet(packet, now_, out_a_);
  ASSERT_EQ(out_a_.sent.size(), 1u);
  EXPECT_EQ(out_a_.sent.front().bytes.size(), kInitiationBytes);
  EXPECT_EQ(out_a_.sent.front().to, endpoint_b_);
  exchange();
  ASSERT_EQ(out_b_.delivered.size(), 1u);
  EXPECT_EQ(out_b_.delivered[0], packet);  // padding stripped
  EXPECT_TRUE(b_at_a().current != nullptr);
  EXPECT_TRUE(a_at_b().current != nullptr);  // confirmed by the data
  EXPECT_TRUE(b_at_a().last_handshake.has_value());
  EXPECT_TRUE(a_at_b().last_handshake.has_value());
}

TEST_F(EnginePair, DataFlowsBothWaysOverBothFamilies) {
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  exchange();
  const Bytes reply = ipv4_packet(kB, kA, 1380);
  b_.send_packet(reply, now_, out_b_);
  ASSERT_EQ(out_b_.sent.size(), 1u);
  EXPECT_EQ(out_b_.sent.front().bytes.size(), 16 + 1408 + 16u);  // padded to 16, not beyond the MTU
  exchange();
  ASSERT_EQ(out_a_.delivered.size(), 1u);
  EXPECT_EQ(out_a_.delivered[0], reply);
  const Bytes v6 = ipv6_packet("fd42::1", "fd42::2", 33);
  a_.send_packet(v6, now_, out_a_);
  exchange();
  ASSERT_EQ(out_b_.delivered.size(), 2u);
  EXPECT_EQ(out_b_.delivered[1], v6);
}

TEST_F(EnginePair, ResponderDoesNotSealBeforeTheSessionIsConfirmed) {
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  // B answers the initiation; the response is lost.
  b_.receive_datagram(out_a_.sent.front().bytes, from_a_, now_, out_b_);
  out_a_.sent.clear();
  out_b_.sent.clear();
  EXPECT_TRUE(a_at_b().next != nullptr);
  EXPECT_TRUE(a_at_b().current == nullptr);
  b_.send_packet(ipv4_packet(kB, kA, 10), now_, out_b_);
  // Not sealed with the unconfirmed session: queued (and its own
  // initiation held back by the rate limit right after the response).
  for (const auto& datagram : out_b_.sent) EXPECT_NE(datagram.bytes.size(), 16 + 32 + 16u);
  EXPECT_EQ(a_at_b().staged.size(), 1u);
}

TEST_F(EnginePair, LostInitiationIsRetransmittedAfterRekeyTimeout) {
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  out_a_.sent.clear();  // lost
  const auto deadline = a_.next_deadline();
  ASSERT_TRUE(deadline.has_value());
  EXPECT_GE(*deadline - now_, 5s);
  EXPECT_LE(*deadline - now_, 5s + 334ms);
  now_ = *deadline;
  a_.tick(now_, out_a_);
  ASSERT_EQ(out_a_.sent.size(), 1u);
  EXPECT_EQ(out_a_.sent.front().bytes.size(), kInitiationBytes);
  exchange();
  EXPECT_EQ(out_b_.delivered.size(), 1u);  // the staged packet survived
}

TEST_F(EnginePair, ReplayedAndReorderedTransportMessages) {
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  exchange();
  out_b_.delivered.clear();
  std::vector<Bytes> messages;
  for (std::uint8_t i = 0; i < 5; ++i) {
    a_.send_packet(ipv4_packet(kA, kB, 10, i), now_, out_a_);
    messages.push_back(out_a_.sent.back().bytes);
  }
  out_a_.sent.clear();
  for (int i : {4, 0, 3, 1, 2}) b_.receive_datagram(messages[i], from_a_, now_, out_b_);
  EXPECT_EQ(out_b_.delivered.size(), 5u);
  b_.receive_datagram(messages[2], from_a_, now_, out_b_);  // replay
  EXPECT_EQ(out_b_.delivered.size(), 5u);
  EXPECT_EQ(b_.drops(Drop::decryption_failed), 1u);
}

TEST_F(EnginePair, TamperedAndRandomDatagramsAreDroppedAndCounted) {
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  exchange();
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  Bytes tampered = out_a_.sent.back().bytes;
  out_a_.sent.clear();
  tampered[20] ^= 1;
  const std::size_t delivered = out_b_.delivered.size();
  b_.receive_datagram(tampered, from_a_, now_, out_b_);
  EXPECT_EQ(b_.drops(Drop::decryption_failed), 1u);
  const Bytes garbage = {1, 2, 3};
  b_.receive_datagram(garbage, from_a_, now_, out_b_);
  Bytes fake_initiation(kInitiationBytes, 0);
  fake_initiation[0] = 1;
  b_.receive_datagram(fake_initiation, from_a_, now_, out_b_);
  EXPECT_EQ(b_.drops(Drop::malformed_message), 1u);
  EXPECT_EQ(b_.drops(Drop::invalid_mac), 1u);
  EXPECT_EQ(out_b_.delivered.size(), delivered);
  EXPECT_TRUE(out_b_.sent.empty());  // nothing answered
}

TEST_F(EnginePair, PacketsFromOutsideTheSendersAllowedIpsAreDropped) {
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  exchange();
  out_a_.delivered.clear();
  // B claims a source that A routes to nobody (or to another peer).
  b_.send_packet(ipv4_packet({10, 42, 0, 99}, kA, 10), now_, out_b_);
  exchange();
  EXPECT_TRUE(out_a_.delivered.empty());
  EXPECT_EQ(a_.drops(Drop::source_not_allowed), 1u);
}

TEST_F(EnginePair, PacketsToNoPeerAreDropped) {
  a_.send_packet(ipv4_packet(kA, {10, 42, 0, 7}, 10), now_, out_a_);
  EXPECT_TRUE(out_a_.sent.empty());
  EXPECT_EQ(a_.drops(Drop::no_route), 1u);
}

TEST_F(EnginePair, EndpointFollowsAuthenticatedPackets) {
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  exchange();
  from_b_ = endpoint("127.0.0.5:40000");
  b_.send_packet(ipv4_packet(kB, kA, 10), now_, out_b_);
  exchange();
  EXPECT_EQ(b_at_a().endpoint, endpoint("127.0.0.5:40000"));
  // A forged packet from elsewhere does not move it.
  Bytes forged(64, 0);
  forged[0] = 4;
  a_.receive_datagram(forged, endpoint("127.0.0.9:1"), now_, out_a_);
  EXPECT_EQ(b_at_a().endpoint, endpoint("127.0.0.5:40000"));
}

TEST_F(EnginePair, RekeysAfterRekeyAfterTimeAndKeepsTheOldSessionForInFlightPackets) {
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  exchange();
  const std::uint32_t first = b_at_a().current->local_index();
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  const Bytes in_flight = out_a_.sent.back().bytes;
  out_a_.sent.clear();
  advance(121s);
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  // Sealed with the old session, then an initiation for a new one.
  ASSERT_EQ(out_a_.sent.size(), 2u);
  EXPECT_EQ(out_a_.sent.back().bytes.size(), kInitiationBytes);
  exchange();
  EXPECT_NE(b_at_a().current->local_index(), first);
  ASSERT_TRUE(b_at_a().previous != nullptr);
  EXPECT_EQ(b_at_a().previous->local_index(), first);
  const std::size_t delivered = out_b_.delivered.size();
  b_.receive_datagram(in_flight, from_a_, now_, out_b_);  // the old session still opens at B
  EXPECT_EQ(out_b_.delivered.size(), delivered + 1);
}

TEST_F(EnginePair, SessionsExpireAfterRejectAfterTime) {
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  exchange();
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  const Bytes old = out_a_.sent.back().bytes;
  out_a_.sent.clear();
  advance(181s);
  b_.receive_datagram(old, from_a_, now_, out_b_);
  EXPECT_EQ(b_.drops(Drop::expired_session), 1u);
  // Sending needs a new handshake now.
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  ASSERT_EQ(out_a_.sent.size(), 1u);
  EXPECT_EQ(out_a_.sent.back().bytes.size(), kInitiationBytes);
}

TEST_F(EnginePair, KeysAreZeroedAfterThreeRejectAfterTimes) {
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  exchange();
  for (int step = 0; step < 600 && b_at_a().current; ++step) {
    advance(1s);
    a_.tick(now_, out_a_);
    b_.tick(now_, out_b_);
    out_a_.sent.clear();
    out_b_.sent.clear();
  }
  EXPECT_TRUE(b_at_a().current == nullptr);
  EXPECT_TRUE(b_at_a().previous == nullptr);
}

TEST_F(EnginePair, KeepaliveAnswersDataAfterKeepaliveTimeout) {
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  exchange();
  ASSERT_TRUE(out_b_.sent.empty());
  advance(10s);
  b_.tick(now_, out_b_);
  ASSERT_EQ(out_b_.sent.size(), 1u);
  EXPECT_EQ(out_b_.sent.front().bytes.size(), 32u);  // header + tag: a keepalive
}

TEST_F(EnginePair, PersistentKeepaliveKeepsSending) {
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  exchange();
  DeviceSettings changed = a_settings_;
  changed.peers[0].persistent_keepalive = 25;
  a_.configure(changed, now_, out_a_);
  EXPECT_EQ(out_a_.sent.size(), 1u);  // one right away, as `wg set` does
  exchange();
  const std::uint64_t rx_before = a_at_b().rx_bytes;
  out_a_.sent.clear();
  for (int second = 0; second < 61; ++second) {
    advance(1s);
    a_.tick(now_, out_a_);
    b_.tick(now_, out_b_);
    exchange();
  }
  // B's keepalive answered A's data at 10 s; after that nothing flows but
  // A's persistent keepalives, 25 s apart: at 35 s and 60 s.
  EXPECT_EQ(b_.drops(Drop::decryption_failed), 0u);
  EXPECT_EQ(a_at_b().rx_bytes - rx_before, 2 * 32u);
}

TEST_F(EnginePair, ConfigureRemovesPeersAndReroutes) {
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  exchange();
  DeviceSettings changed = a_settings_;
  changed.peers[0].allowed_ips = {cidr("10.42.0.0/16")};
  a_.configure(changed, now_, out_a_);
  EXPECT_TRUE(b_at_a().current != nullptr);  // sessions survive
  a_.send_packet(ipv4_packet(kA, {10, 42, 9, 9}, 10), now_, out_a_);
  EXPECT_EQ(out_a_.sent.size(), 1u);
  changed.peers.clear();
  a_.configure(changed, now_, out_a_);
  EXPECT_EQ(a_.find_peer(key_b_.public_key()), nullptr);
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  EXPECT_EQ(a_.drops(Drop::no_route), 1u);
  EXPECT_TRUE(a_.snapshot().peers.empty());
}

TEST_F(EnginePair, SnapshotShowsWhatWgShowPrints) {
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  exchange();
  const auto snapshot = a_.snapshot();
  ASSERT_EQ(snapshot.peers.size(), 1u);
  const auto& peer = snapshot.peers[0];
  EXPECT_EQ(peer.public_key, key_b_.public_key());
  EXPECT_EQ(peer.endpoint, endpoint_b_);
  EXPECT_TRUE(peer.last_handshake.has_value());
  EXPECT_GT(peer.tx_bytes, 0u);
  EXPECT_GT(peer.rx_bytes, 0u);
  EXPECT_EQ(peer.allowed_ips.size(), 2u);
}

class EnginePairUnderLoad : public EnginePair {
 protected:
  static EngineOptions options() {
    EngineOptions options;
    options.under_load_handshakes = 3;
    return options;
  }
  EnginePairUnderLoad() : EnginePair(options()) {}
};

TEST_F(EnginePairUnderLoad, FloodOfInitiationsEngagesCookiesAndRealPeersStillGetThrough) {
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  const Bytes initiation = out_a_.sent.front().bytes;
  out_a_.sent.clear();
  // A flood (replays of one initiation) from elsewhere, right before each
  // of A's retries.
  const auto flood = [&] {
    for (int i = 0; i < 10; ++i) b_.receive_datagram(initiation, endpoint("127.0.0.66:999"), now_, out_b_);
    out_b_.sent.clear();
  };
  flood();
  EXPECT_TRUE(b_.under_load(now_));
  EXPECT_GT(b_.drops(Drop::cookie_sent), 0u);
  // A's retry gets a cookie reply instead of a response; A takes the
  // cookie, and its next retry carries mac2 and is answered.
  advance(5400ms);
  flood();
  a_.tick(now_, out_a_);
  ASSERT_EQ(out_a_.sent.size(), 1u);
  b_.receive_datagram(out_a_.sent.front().bytes, from_a_, now_, out_b_);
  out_a_.sent.clear();
  ASSERT_EQ(out_b_.sent.size(), 1u);
  EXPECT_EQ(out_b_.sent.front().bytes.size(), kCookieReplyBytes);
  a_.receive_datagram(out_b_.sent.front().bytes, from_b_, now_, out_a_);
  out_b_.sent.clear();
  EXPECT_EQ(a_.drops(Drop::bad_cookie_reply), 0u);
  advance(5400ms);
  flood();
  EXPECT_TRUE(b_.under_load(now_));
  a_.tick(now_, out_a_);
  ASSERT_EQ(out_a_.sent.size(), 1u);
  const Bytes with_cookie = out_a_.sent.front().bytes;
  exchange();
  EXPECT_EQ(out_b_.delivered.size(), 1u);
  // Still under load, a valid mac2 only buys an address its share: a
  // burst of 5 (the real initiation took one), then nothing this instant.
  for (int i = 0; i < 10; ++i) b_.receive_datagram(with_cookie, from_a_, now_, out_b_);
  EXPECT_EQ(b_.drops(Drop::rate_limited), 6u);
}

// B knows no peer; A knows B. B's handler decides on A's key.
class EngineUnknownPeer : public EnginePair {
 protected:
  explicit EngineUnknownPeer(EngineOptions options = {}) : EnginePair(options) {}
  void SetUp() override {
    EnginePair::SetUp();
    b_settings_.peers.clear();
    b_.configure(b_settings_, now_, out_b_);
    b_.set_unknown_peer_handler([this](const crypto::PublicKey& key, const Endpoint& from, Time) {
      ++asked_;
      asked_from_ = from;
      std::optional<PeerSettings> settings;
      if (!admit_) return settings;
      settings.emplace();
      settings->public_key = answer_other_key_ ? key_b_.public_key() : key;
      settings->allowed_ips = {cidr("10.42.0.1/32")};
      return settings;
    });
  }
  PeerSettings admitted_settings() const {
    PeerSettings settings;
    settings.public_key = key_a_.public_key();
    settings.allowed_ips = {cidr("10.42.0.1/32")};
    return settings;
  }

  bool admit_ = true;
  bool answer_other_key_ = false;
  int asked_ = 0;
  std::optional<Endpoint> asked_from_;
};

TEST_F(EngineUnknownPeer, AnAdmittedKeyCompletesTheHandshakeAndSendsFromItsAllowedIpsOnly) {
  const Bytes packet = ipv4_packet(kA, kB, 100);
  a_.send_packet(packet, now_, out_a_);
  exchange();
  EXPECT_EQ(asked_, 1);
  EXPECT_EQ(asked_from_, from_a_);
  ASSERT_EQ(out_b_.delivered.size(), 1u);
  EXPECT_EQ(out_b_.delivered[0], packet);
  ASSERT_NE(b_.find_peer(key_a_.public_key()), nullptr);
  EXPECT_TRUE(a_at_b().current != nullptr);
  EXPECT_EQ(a_at_b().endpoint, from_a_) << "learned from the initiation";
  ASSERT_EQ(b_.settings().peers.size(), 1u);
  EXPECT_EQ(b_.settings().peers[0], admitted_settings());
  EXPECT_EQ(b_.drops(Drop::unknown_peer), 0u);
  // The admitted AllowedIPs route B's packets to A.
  const Bytes reply = ipv4_packet(kB, kA, 50);
  b_.send_packet(reply, now_, out_b_);
  exchange();
  ASSERT_EQ(out_a_.delivered.size(), 1u);
  EXPECT_EQ(out_a_.delivered[0], reply);
  // A source outside them is dropped.
  a_.send_packet(ipv4_packet({10, 42, 0, 99}, kB, 10), now_, out_a_);
  exchange();
  EXPECT_EQ(out_b_.delivered.size(), 1u);
  EXPECT_EQ(b_.drops(Drop::source_not_allowed), 1u);
  EXPECT_EQ(asked_, 1) << "asked once: the key is a peer now";
}

TEST_F(EngineUnknownPeer, ARefusedKeyGetsNoReply) {
  admit_ = false;
  a_.send_packet(ipv4_packet(kA, kB, 100), now_, out_a_);
  ASSERT_EQ(out_a_.sent.size(), 1u);
  b_.receive_datagram(out_a_.sent.front().bytes, from_a_, now_, out_b_);
  EXPECT_EQ(asked_, 1);
  EXPECT_TRUE(out_b_.sent.empty());
  EXPECT_EQ(b_.drops(Drop::unknown_peer), 1u);
  EXPECT_EQ(b_.find_peer(key_a_.public_key()), nullptr);
  EXPECT_TRUE(b_.settings().peers.empty());
}

TEST_F(EngineUnknownPeer, SettingsForAnotherKeyAreRefused) {
  answer_other_key_ = true;
  a_.send_packet(ipv4_packet(kA, kB, 100), now_, out_a_);
  b_.receive_datagram(out_a_.sent.front().bytes, from_a_, now_, out_b_);
  EXPECT_EQ(asked_, 1);
  EXPECT_TRUE(out_b_.sent.empty());
  EXPECT_EQ(b_.drops(Drop::unknown_peer), 1u);
  EXPECT_TRUE(b_.settings().peers.empty());
}

TEST_F(EngineUnknownPeer, WithoutAHandlerUnknownKeysAreDropped) {
  b_.set_unknown_peer_handler(nullptr);
  a_.send_packet(ipv4_packet(kA, kB, 100), now_, out_a_);
  b_.receive_datagram(out_a_.sent.front().bytes, from_a_, now_, out_b_);
  EXPECT_TRUE(out_b_.sent.empty());
  EXPECT_EQ(b_.drops(Drop::unknown_peer), 1u);
}

TEST_F(EngineUnknownPeer, ALaterConfigureKeepsTheAdmittedPeerIfListedAndDropsItIfNot) {
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  exchange();
  ASSERT_EQ(out_b_.delivered.size(), 1u);
  const std::uint32_t session = a_at_b().current->local_index();
  DeviceSettings listed = b_settings_;
  listed.peers = {admitted_settings()};
  b_.configure(listed, now_, out_b_);
  ASSERT_NE(b_.find_peer(key_a_.public_key()), nullptr);
  ASSERT_TRUE(a_at_b().current != nullptr);
  EXPECT_EQ(a_at_b().current->local_index(), session) << "its session is kept";
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  ASSERT_EQ(out_a_.sent.size(), 1u) << "no new handshake";
  exchange();
  EXPECT_EQ(out_b_.delivered.size(), 2u);
  // Omitted: gone with its sessions.
  b_.configure(b_settings_, now_, out_b_);
  EXPECT_EQ(b_.find_peer(key_a_.public_key()), nullptr);
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  exchange();
  EXPECT_EQ(out_b_.delivered.size(), 2u);
  EXPECT_EQ(b_.drops(Drop::unknown_index), 1u);
  EXPECT_EQ(asked_, 1);
}

TEST_F(EngineUnknownPeer, AForgedStaticKeyDoesNotReachTheHandler) {
  // Anyone can encrypt A's public key to B; only A can seal the timestamp.
  // A's initiation with its timestamp tampered and its MACs redone: the
  // static key still opens, the timestamp does not.
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  Bytes forged = out_a_.sent.front().bytes;
  forged[8 + 32 + 48 + 5] ^= 1;  // type + index, ephemeral, static: inside the timestamp
  CookieGenerator macs(key_b_.public_key());
  macs.add_macs(forged, now_);
  b_.receive_datagram(forged, from_a_, now_, out_b_);
  EXPECT_EQ(b_.drops(Drop::invalid_mac), 0u) << "past mac1";
  EXPECT_EQ(asked_, 0);
  EXPECT_TRUE(out_b_.sent.empty());
  EXPECT_EQ(b_.drops(Drop::unknown_peer), 1u);
  EXPECT_TRUE(b_.settings().peers.empty());
}

class EngineUnknownPeerUnderLoad : public EngineUnknownPeer {
 protected:
  static EngineOptions options() {
    EngineOptions options;
    options.under_load_handshakes = 3;
    return options;
  }
  EngineUnknownPeerUnderLoad() : EngineUnknownPeer(options()) {}
};

TEST_F(EngineUnknownPeerUnderLoad, UnknownKeysMeetCookiesBeforeTheHandler) {
  a_.send_packet(ipv4_packet(kA, kB, 10), now_, out_a_);
  const Bytes initiation = out_a_.sent.front().bytes;
  out_a_.sent.clear();
  // A flood (replays of A's initiation) from elsewhere puts B under load;
  // the handler refuses the few that reach it before the load does.
  const auto flood = [&] {
    admit_ = false;
    const int asked_before = asked_;
    for (int i = 0; i < 10; ++i) b_.receive_datagram(initiation, endpoint("127.0.0.66:999"), now_, out_b_);
    out_b_.sent.clear();
    EXPECT_EQ(asked_ - asked_before, 3) << "asked only before the load was reached";
    admit_ = true;
  };
  flood();
  ASSERT_TRUE(b_.under_load(now_));
  EXPECT_GT(b_.drops(Drop::cookie_sent), 0u);
  // A's retry has no mac2: a cookie reply, and the handler is not asked.
  advance(5400ms);
  flood();
  a_.tick(now_, out_a_);
  ASSERT_EQ(out_a_.sent.size(), 1u);
  int asked_before = asked_;
  b_.receive_datagram(out_a_.sent.front().bytes, from_a_, now_, out_b_);
  out_a_.sent.clear();
  EXPECT_EQ(asked_, asked_before) << "no mac2: not asked";
  ASSERT_EQ(out_b_.sent.size(), 1u);
  EXPECT_EQ(out_b_.sent.front().bytes.size(), kCookieReplyBytes);
  a_.receive_datagram(out_b_.sent.front().bytes, from_b_, now_, out_a_);
  out_b_.sent.clear();
  // The next retry carries mac2: asked, admitted, answered.
  advance(5400ms);
  flood();
  ASSERT_TRUE(b_.under_load(now_));
  a_.tick(now_, out_a_);
  ASSERT_EQ(out_a_.sent.size(), 1u);
  asked_before = asked_;
  exchange();
  EXPECT_EQ(asked_, asked_before + 1);
  EXPECT_EQ(out_b_.delivered.size(), 1u);
  ASSERT_NE(b_.find_peer(key_a_.public_key()), nullptr);
}

}  // namespace
}  // namespace coral::wireguard
