// The WireGuard engine's receive path, whole: an Engine (the target) with a
// fixed private key and one peer (fixed keys, AllowedIPs 10.42.0.2/32),
// and a second Engine playing that peer, connected through memory with a
// fake clock. The input is a script of operations:
//
//   [flags] then ops, each [op] [length or amount] [bytes...]:
//   op & 3 == 0  a raw datagram of `length` bytes to the target, from the
//                peer's endpoint (op & 4: from another endpoint)
//   op & 3 == 1  the peer engine is given a host packet: an IPv4 packet
//                10.42.0.2 -> 10.42.0.1 carrying the bytes (op & 4: the
//                bytes themselves, as whatever packet they make)
//   op & 3 == 2  time passes (`amount` x 10 ms; op & 4: x 1 s), then both
//                engines tick
//   op & 3 == 3  the target is given a host packet 10.42.0.1 -> 10.42.0.2
//                carrying the bytes (op & 4: the bytes themselves)
//   After each op, what each engine sent goes to the other, until both
//   are quiet; op & 8: it is lost instead.
//   flags: 1 both engines are under load after 3 handshake messages (so
//   that cookie replies happen); 2 a preshared key; 4 the target knows its
//   peer's endpoint (else it learns it from the peer); 8 persistent
//   keepalive 25 s at the target.
//
// Randomness (ephemeral keys, indices, cookie secrets) comes from a
// deterministic generator that restarts with every input, so that runs
// reproduce; nothing here can predict a session key all the same.
//
// Oracles: a packet the target delivers is an IPv4 packet from 10.42.0.2
// (its peer's only allowed IP), byte for byte one that the peer engine was
// given and not delivered before, and it arrives while the target holds a
// session with the peer; the same the other way round. So raw datagrams,
// which only the fuzzer makes, never deliver anything. Whatever an engine
// sends parses as a WireGuard message and goes to an endpoint that was
// configured or that a datagram came from. After a tick, no deadline is
// in the past.
//
// Seeds: WG_ENGINE_FUZZ_WRITE_SEEDS=DIR ./wg_engine_fuzz writes the seed
// corpus (tests/fuzz/corpus/wg_engine) into DIR, with a real initiation
// from the peer's key among them, and prints what each seed reaches.

#include <sodium.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "wireguard/engine.h"
#include "wireguard/messages.h"
#include "wireguard/uapi.h"

namespace {

using namespace coral;
using namespace coral::wireguard;
using Bytes = std::vector<std::uint8_t>;

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "wg_engine_fuzz: oracle failed: %s\n", what);
  __builtin_trap();
}

// ---- Deterministic randomness for libsodium (and so for everything) ----

std::uint64_t rng_state = 0;

std::uint64_t rng_next() {
  // SplitMix64.
  std::uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

const char* rng_name() { return "wg_engine_fuzz"; }
std::uint32_t rng_random() { return static_cast<std::uint32_t>(rng_next()); }
void rng_buf(void* out, std::size_t size) {
  auto* bytes = static_cast<std::uint8_t*>(out);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::uint8_t>(rng_next());
}

randombytes_implementation deterministic_random = {
    .implementation_name = rng_name,
    .random = rng_random,
    .stir = nullptr,
    .uniform = nullptr,
    .buf = rng_buf,
    .close = nullptr,
};

// ---- The two sides ----

crypto::SecretKey fixed_key(std::uint8_t fill) {
  crypto::KeyBytes bytes;
  bytes.fill(fill);
  crypto::clamp(bytes);
  return crypto::SecretKey(bytes);
}

const base::Ipv4Bytes kTargetAddress{10, 42, 0, 1};
const base::Ipv4Bytes kPeerAddress{10, 42, 0, 2};
const Endpoint kTargetEndpoint{IpAddress::v4({192, 0, 2, 1}), 51820};
const Endpoint kPeerEndpoint{IpAddress::v4({192, 0, 2, 2}), 51821};
const Endpoint kStrangerEndpoint{IpAddress::v4({198, 51, 100, 7}), 4242};

struct Keys {
  crypto::SecretKey target = fixed_key(0x11);
  crypto::SecretKey peer = fixed_key(0x22);
  crypto::SecretKey preshared = fixed_key(0x33);
  crypto::PublicKey target_public = target.public_key();
  crypto::PublicKey peer_public = peer.public_key();
};
const Keys* keys = nullptr;  // made in LLVMFuzzerInitialize, after the RNG is set

namespace flag {
constexpr std::uint8_t under_load = 1;
constexpr std::uint8_t preshared_key = 2;
constexpr std::uint8_t target_knows_endpoint = 4;
constexpr std::uint8_t persistent_keepalive = 8;
}  // namespace flag

namespace op {
constexpr std::uint8_t raw_datagram = 0;
constexpr std::uint8_t peer_packet = 1;
constexpr std::uint8_t time_passes = 2;
constexpr std::uint8_t target_packet = 3;
constexpr std::uint8_t variant = 4;
constexpr std::uint8_t lose_output = 8;
}  // namespace op

// An IPv4 header: version, total length and the addresses are what the
// oracles read; the engine needs no checksum.
Bytes ipv4_packet(const base::Ipv4Bytes& source, const base::Ipv4Bytes& destination,
                  std::span<const std::uint8_t> payload) {
  Bytes packet(20 + payload.size());
  packet[0] = 0x45;
  packet[2] = static_cast<std::uint8_t>(packet.size() >> 8);
  packet[3] = static_cast<std::uint8_t>(packet.size());
  packet[8] = 64;
  packet[9] = 17;
  std::copy(source.begin(), source.end(), packet.begin() + 12);
  std::copy(destination.begin(), destination.end(), packet.begin() + 16);
  std::copy(payload.begin(), payload.end(), packet.begin() + 20);
  return packet;
}

// What a receiver delivers of a packet handed to the sender: the bytes the
// IP header claims (IPv4 total length, or 40 + IPv6 payload length), when
// the header is whole and claims no more than there is. Written apart from
// the engine's parse_ip_packet, so that the oracle does not share its bugs.
std::optional<Bytes> deliverable_part(std::span<const std::uint8_t> packet) {
  if (packet.empty()) return std::nullopt;
  std::size_t length = 0;
  if (packet[0] >> 4 == 4) {
    if (packet.size() < 20) return std::nullopt;
    length = std::size_t{packet[2]} << 8 | packet[3];
    if (length < 20) return std::nullopt;
  } else if (packet[0] >> 4 == 6) {
    if (packet.size() < 40) return std::nullopt;
    length = 40 + (std::size_t{packet[4]} << 8 | packet[5]);
  } else {
    return std::nullopt;
  }
  if (length > packet.size()) return std::nullopt;
  return Bytes(packet.begin(), packet.begin() + static_cast<std::ptrdiff_t>(length));
}

class Side final : public EngineOutput {
 public:
  struct Datagram {
    Endpoint to;
    Bytes bytes;
  };

  // `remote_address`: the other side's tunnel address, its only allowed IP.
  Side(const base::Ipv4Bytes& remote_address, EngineOptions options)
      : engine(std::move(options)), remote_address_(remote_address) {}

  // EngineOutput
  void send(const Endpoint& to, std::span<const std::uint8_t> message) override {
    require(parse_message(message).has_value(), "an engine sent something that is not a WireGuard message");
    require(std::find(known_endpoints.begin(), known_endpoints.end(), to) != known_endpoints.end(),
            "an engine sent to an endpoint nobody gave it");
    sent.push_back({to, Bytes(message.begin(), message.end())});
  }
  void deliver(std::span<const std::uint8_t> packet) override {
    require(packet.size() >= 20 && packet[0] >> 4 == 4, "a delivered packet is not IPv4");
    require((std::size_t{packet[2]} << 8 | packet[3]) == packet.size(), "a delivered packet's length is not its own");
    require(std::equal(remote_address_.begin(), remote_address_.end(), packet.begin() + 12),
            "a delivered packet's source is outside the peer's AllowedIPs");
    const auto expected = expected_.find(Bytes(packet.begin(), packet.end()));
    require(expected != expected_.end() && expected->second > 0,
            "a delivered packet was never sent by the peer, or was delivered twice");
    --expected->second;
    ++delivered;
    delivered_in_call_ = true;
  }

  // A packet that the other side's engine is given: this side may deliver
  // it once.
  void expect(std::span<const std::uint8_t> packet) {
    if (auto part = deliverable_part(packet)) ++expected_[*part];
  }

  void receive(std::span<const std::uint8_t> datagram, const Endpoint& from, Time now, const crypto::PublicKey& peer) {
    if (std::find(known_endpoints.begin(), known_endpoints.end(), from) == known_endpoints.end()) {
      known_endpoints.push_back(from);
    }
    delivered_in_call_ = false;
    engine.receive_datagram(datagram, from, now, *this);
    if (delivered_in_call_) {
      const Peer* found = engine.find_peer(peer);
      require(found != nullptr && (found->current || found->previous), "a packet was delivered without a session");
    }
  }

  void tick(Time now) {
    engine.tick(now, *this);
    const auto deadline = engine.next_deadline();
    require(!deadline || *deadline > now, "a deadline is still due after tick()");
  }

  Engine engine;
  std::deque<Datagram> sent;
  std::vector<Endpoint> known_endpoints;
  std::size_t delivered = 0;

 private:
  base::Ipv4Bytes remote_address_;
  std::map<Bytes, std::size_t> expected_;
  bool delivered_in_call_ = false;
};

struct Outcome {
  std::size_t delivered_by_target = 0;
  std::size_t delivered_by_peer = 0;
  std::array<std::uint64_t, kDropReasons> target_drops{};
};

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  bool empty() const { return bytes_.empty(); }
  std::uint8_t byte() {
    if (bytes_.empty()) return 0;
    const std::uint8_t b = bytes_[0];
    bytes_ = bytes_.subspan(1);
    return b;
  }
  std::span<const std::uint8_t> take(std::size_t n) {
    n = std::min(n, bytes_.size());
    const auto b = bytes_.first(n);
    bytes_ = bytes_.subspan(n);
    return b;
  }

 private:
  std::span<const std::uint8_t> bytes_;
};

Outcome run(std::span<const std::uint8_t> input) {
  rng_state = 0x5eed;
  Reader in(input);
  const std::uint8_t flags = in.byte();

  Time now = Time(std::chrono::hours(1000));
  auto wall = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  EngineOptions options;
  options.wall_clock = [&wall] { return wall; };
  if (flags & flag::under_load) options.under_load_handshakes = 3;

  Side target(kPeerAddress, options);
  Side peer(kTargetAddress, options);
  const crypto::PublicKey& target_public = keys->target_public;
  const crypto::PublicKey& peer_public = keys->peer_public;

  DeviceSettings target_settings;
  target_settings.interface.private_key = keys->target;
  PeerSettings peer_of_target;
  peer_of_target.public_key = peer_public;
  peer_of_target.allowed_ips = {*base::Cidr::parse("10.42.0.2/32")};
  if (flags & flag::preshared_key) peer_of_target.preshared_key = keys->preshared;
  if (flags & flag::target_knows_endpoint) {
    peer_of_target.endpoint = kPeerEndpoint;
    target.known_endpoints.push_back(kPeerEndpoint);
  }
  if (flags & flag::persistent_keepalive) peer_of_target.persistent_keepalive = 25;
  target_settings.peers.push_back(peer_of_target);

  DeviceSettings peer_settings;
  peer_settings.interface.private_key = keys->peer;
  PeerSettings target_of_peer;
  target_of_peer.public_key = target_public;
  target_of_peer.allowed_ips = {*base::Cidr::parse("10.42.0.1/32")};
  if (flags & flag::preshared_key) target_of_peer.preshared_key = keys->preshared;
  target_of_peer.endpoint = kTargetEndpoint;
  peer.known_endpoints.push_back(kTargetEndpoint);
  peer_settings.peers.push_back(target_of_peer);

  target.engine.configure(target_settings, now, target);
  peer.engine.configure(peer_settings, now, peer);

  const auto advance = [&](Duration by) {
    now += by;
    wall += std::chrono::duration_cast<std::chrono::system_clock::duration>(by);
  };
  // Everything in flight, each way, until both are quiet; bounded, since
  // two engines could in principle answer each other forever.
  const auto pump = [&] {
    for (int round = 0; round < 16 && (!target.sent.empty() || !peer.sent.empty()); ++round) {
      while (!target.sent.empty()) {
        Side::Datagram datagram = std::move(target.sent.front());
        target.sent.pop_front();
        // Sent to the stranger: nobody is there.
        if (datagram.to == kPeerEndpoint) peer.receive(datagram.bytes, kTargetEndpoint, now, target_public);
      }
      while (!peer.sent.empty()) {
        Side::Datagram datagram = std::move(peer.sent.front());
        peer.sent.pop_front();
        target.receive(datagram.bytes, kPeerEndpoint, now, peer_public);
      }
    }
  };

  pump();  // a persistent keepalive may want a handshake at once
  while (!in.empty()) {
    const std::uint8_t code = in.byte();
    const bool variant = code & op::variant;
    switch (code & 3) {
      case op::raw_datagram: {
        const auto datagram = in.take(in.byte());
        target.receive(datagram, variant ? kStrangerEndpoint : kPeerEndpoint, now, peer_public);
        break;
      }
      case op::peer_packet: {
        const auto bytes = in.take(in.byte());
        const Bytes packet =
            variant ? Bytes(bytes.begin(), bytes.end()) : ipv4_packet(kPeerAddress, kTargetAddress, bytes);
        target.expect(packet);
        peer.engine.send_packet(packet, now, peer);
        break;
      }
      case op::time_passes: {
        const std::uint8_t amount = in.byte();
        advance(variant ? Duration(std::chrono::seconds(amount)) : Duration(std::chrono::milliseconds(10 * amount)));
        target.tick(now);
        peer.tick(now);
        break;
      }
      case op::target_packet: {
        const auto bytes = in.take(in.byte());
        const Bytes packet =
            variant ? Bytes(bytes.begin(), bytes.end()) : ipv4_packet(kTargetAddress, kPeerAddress, bytes);
        peer.expect(packet);
        target.engine.send_packet(packet, now, target);
        break;
      }
    }
    if (code & op::lose_output) {
      target.sent.clear();
      peer.sent.clear();
    } else {
      pump();
    }
    advance(std::chrono::milliseconds(1));
  }

  std::string shown = uapi::format_get_response(target.engine.snapshot());
  crypto::wipe(shown);
  return Outcome{.delivered_by_target = target.delivered,
                 .delivered_by_peer = peer.delivered,
                 .target_drops = target.engine.drops()};
}

// ---- Seeds ----

// A handshake initiation from the peer's key to the target's, as a real
// engine of the peer's makes it `after` the harness's starting wall-clock
// time (its timestamp must be newer than the last one the target took).
Bytes real_initiation(std::chrono::milliseconds after) {
  EngineOptions options;
  options.wall_clock = [after] {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000)) + after;
  };
  Engine initiator(options);
  DeviceSettings settings;
  settings.interface.private_key = keys->peer;
  PeerSettings target;
  target.public_key = keys->target_public;
  target.endpoint = kTargetEndpoint;
  target.allowed_ips = {*base::Cidr::parse("10.42.0.1/32")};
  settings.peers.push_back(target);
  struct Capture final : EngineOutput {
    Bytes initiation;
    void send(const Endpoint&, std::span<const std::uint8_t> message) override {
      initiation.assign(message.begin(), message.end());
    }
    void deliver(std::span<const std::uint8_t>) override {}
  } out;
  const Time now = Time(std::chrono::hours(1000));
  initiator.configure(settings, now, out);
  const Bytes packet = ipv4_packet(kPeerAddress, kTargetAddress, std::array<std::uint8_t, 4>{'p', 'i', 'n', 'g'});
  initiator.send_packet(packet, now, out);
  require(out.initiation.size() == kInitiationBytes, "the seed initiation was not made");
  return out.initiation;
}

struct Script {
  Bytes bytes;
  explicit Script(std::uint8_t flags) : bytes{flags} {}
  Script& with_bytes(std::uint8_t code, std::span<const std::uint8_t> data) {
    bytes.push_back(code);
    bytes.push_back(static_cast<std::uint8_t>(data.size()));
    bytes.insert(bytes.end(), data.begin(), data.end());
    return *this;
  }
  Script& text(std::uint8_t code, std::string_view data) {
    return with_bytes(code, std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
  }
  Script& wait(std::uint8_t amount, bool in_seconds) {
    bytes.push_back(op::time_passes | (in_seconds ? op::variant : 0));
    bytes.push_back(amount);
    return *this;
  }
};

void write_seeds(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const Bytes initiation = real_initiation(std::chrono::milliseconds(0));
  const Bytes later_initiation = real_initiation(std::chrono::milliseconds(100));
  Bytes mangled = initiation;
  mangled[40] ^= 1;  // inside the encrypted static key: mac1 no longer matches
  Bytes response(kResponseBytes, 0x42);
  response[0] = 2, response[1] = response[2] = response[3] = 0;
  Bytes cookie(kCookieReplyBytes, 0x43);
  cookie[0] = 3, cookie[1] = cookie[2] = cookie[3] = 0;
  Bytes transport(48, 0x44);
  transport[0] = 4, transport[1] = transport[2] = transport[3] = 0;
  const Bytes ipv6 = {0x60, 0, 0, 0, 0, 4, 17, 64, 0xfd, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
                      0xfd, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'a', 'b', 'c', 'd'};
  Bytes forged = ipv4_packet({10, 42, 0, 3}, kTargetAddress, std::array<std::uint8_t, 3>{'b', 'a', 'd'});
  Bytes padded = ipv4_packet(kPeerAddress, kTargetAddress, std::array<std::uint8_t, 3>{'x', 'y', 'z'});
  padded.insert(padded.end(), {0xee, 0xee, 0xee});  // bytes past the IP length: not delivered
  constexpr std::uint8_t raw = op::raw_datagram;
  constexpr std::uint8_t stranger = op::raw_datagram | op::variant;
  constexpr std::uint8_t peer_raw = op::peer_packet | op::variant;

  using namespace std::literals;
  constexpr std::uint8_t peer_packet = op::peer_packet;
  constexpr std::uint8_t target_packet = op::target_packet;
  constexpr bool seconds = true;
  std::map<std::string, Script> seeds;
  seeds.emplace("initiation", Script(0).with_bytes(raw, initiation));
  seeds.emplace("initiation_mangled", Script(0).with_bytes(raw, mangled));
  seeds.emplace("initiation_replayed_from_elsewhere", Script(flag::target_knows_endpoint)
                                                          .with_bytes(raw, initiation)
                                                          .with_bytes(stranger, initiation)
                                                          .wait(30, !seconds)
                                                          .with_bytes(raw, initiation));
  seeds.emplace("initiation_under_load", Script(flag::under_load)
                                             .with_bytes(raw, initiation)
                                             .with_bytes(raw, initiation)
                                             .with_bytes(raw, initiation)
                                             .with_bytes(raw, initiation));
  seeds.emplace("garbage_of_each_type", Script(flag::target_knows_endpoint)
                                            .with_bytes(raw, response)
                                            .with_bytes(raw, cookie)
                                            .with_bytes(raw, transport)
                                            .text(raw, "\x05\0\0\0junk"sv)
                                            .text(raw, "\x01"sv));
  seeds.emplace("peer_sends_data",
                Script(0).text(peer_packet, "hello").text(target_packet, "hello back").text(peer_packet, "again"));
  seeds.emplace("target_initiates",
                Script(flag::target_knows_endpoint).text(target_packet, "from the target").text(peer_packet, "reply"));
  seeds.emplace("target_without_endpoint", Script(0)
                                               .text(target_packet, "no endpoint yet")
                                               .text(peer_packet, "now it has one")
                                               .text(target_packet, "and again"));
  seeds.emplace("preshared_key_and_keepalive",
                Script(flag::preshared_key | flag::persistent_keepalive | flag::target_knows_endpoint)
                    .text(peer_packet, "psk")
                    .wait(26, seconds)
                    .wait(11, seconds));
  seeds.emplace("cookies_under_load", Script(flag::under_load | flag::target_knows_endpoint)
                                          .with_bytes(raw, initiation)
                                          .with_bytes(raw, initiation)
                                          .with_bytes(raw, initiation)
                                          .with_bytes(raw, initiation)
                                          .text(peer_packet, "under load")
                                          .wait(6, seconds)
                                          .text(peer_packet, "after the cookie"));
  seeds.emplace("lost_then_retried", Script(0)
                                         .text(peer_packet | op::lose_output, "lost")
                                         .wait(6, seconds)
                                         .wait(6, seconds)
                                         .text(target_packet, "back"));
  seeds.emplace("keepalive_and_rekey", Script(flag::target_knows_endpoint)
                                           .text(peer_packet, "data")
                                           .wait(11, seconds)
                                           .wait(125, seconds)
                                           .text(target_packet, "old session")
                                           .text(peer_packet, "rekey")
                                           .wait(60, seconds)
                                           .text(peer_packet, "expired")
                                           .wait(200, seconds)
                                           .wait(200, seconds)
                                           .wait(200, seconds));
  seeds.emplace("inner_packets", Script(0)
                                     .text(peer_packet, "first")
                                     .with_bytes(peer_raw, forged)
                                     .with_bytes(peer_raw, padded)
                                     .with_bytes(peer_raw, ipv6)
                                     .text(peer_raw, "\x45short"));
  seeds.emplace("roaming", Script(0)
                               .text(peer_packet, "hi")
                               .wait(5, !seconds)
                               .with_bytes(stranger, later_initiation)
                               .text(target_packet, "where are you"));
  // Every initiation lost, until the target gives up (after 20).
  Script give_up(flag::target_knows_endpoint);
  give_up.text(target_packet | op::lose_output, "nobody there");
  for (int i = 0; i < 22; ++i) {
    give_up.bytes.insert(give_up.bytes.end(), {op::time_passes | op::variant | op::lose_output, 6});
  }
  give_up.text(target_packet, "try again");
  seeds.emplace("give_up", give_up);

  for (const auto& [name, script] : seeds) {
    std::ofstream(dir / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(script.bytes.data()), static_cast<std::streamsize>(script.bytes.size()));
    const Outcome outcome = run(script.bytes);
    std::fprintf(stderr, "%-36s delivered %zu/%zu drops", name.c_str(), outcome.delivered_by_target,
                 outcome.delivered_by_peer);
    for (std::size_t i = 0; i < kDropReasons; ++i) {
      if (outcome.target_drops[i] != 0) {
        std::fprintf(stderr, " %s=%llu", std::string(to_string(static_cast<Drop>(i))).c_str(),
                     static_cast<unsigned long long>(outcome.target_drops[i]));
      }
    }
    std::fprintf(stderr, "\n");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Before libsodium initializes (crypto/keys.cpp does so on first use).
  randombytes_set_implementation(&deterministic_random);
  keys = new Keys();
  if (const char* dir = std::getenv("WG_ENGINE_FUZZ_WRITE_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  run(std::span(data, size));
  return 0;
}
