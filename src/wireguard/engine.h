#pragma once
// A WireGuard device's protocol engine: every peer, the index table,
// cryptokey routing and the cookie checker, driven by three inputs —
// packets from the host, datagrams from the network, and time — and
// answering through an EngineOutput. No sockets, no clock reads, no
// threads: the device (device/device.h) owns those, and tests connect two
// engines through memory.
//
//   host packet   send_packet()      -> sealed datagrams to peers
//                                       (or an initiation, the packet staged)
//   datagram      receive_datagram() -> replies (responses, cookies,
//                                       keepalives) and packets for the host
//   time          tick()             -> retransmits, keepalives, expiry
//
// Bad input of any kind (random bytes, truncated or replayed messages,
// wrong keys, packets from outside a peer's AllowedIPs) is dropped
// silently and counted in drops(); nothing is sent back except the cookie
// replies that the under-load mode calls for.
//
// Not thread-safe: one thread drives an engine.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "wireguard/allowed_ips.h"
#include "wireguard/constants.h"
#include "wireguard/cookie.h"
#include "wireguard/noise.h"
#include "wireguard/peer.h"
#include "wireguard/rate_limiter.h"
#include "wireguard/settings.h"
#include "wireguard/uapi.h"

namespace coral::wireguard {

// Where the engine's output goes. The bytes are valid during the call only,
// and the calls must not re-enter the engine.
class EngineOutput {
 public:
  virtual ~EngineOutput() = default;
  // A message for the network.
  virtual void send(const Endpoint& to, std::span<const std::uint8_t> message) = 0;
  // A decrypted packet for the host (a whole IPv4 or IPv6 packet).
  virtual void deliver(std::span<const std::uint8_t> packet) = 0;
};

// Why something was dropped.
enum class Drop : std::uint8_t {
  malformed_message,     // not a WireGuard message, or the wrong size for its type
  invalid_mac,           // an initiation or response whose mac1 is wrong
  cookie_sent,           // a handshake message refused under load (a cookie reply went back)
  handshake_failed,      // the handshake layer refused it (wrong key, replay, flood, state)
  unknown_peer,          // an initiation from a key that is not a peer (and not admitted: UnknownPeerHandler)
  unknown_index,         // a response, cookie reply or transport message for no index of ours
  bad_cookie_reply,      // a cookie reply that did not decrypt
  decryption_failed,     // a transport message whose tag did not verify, or a replayed counter
  expired_session,       // a transport message for a session past REJECT_AFTER_TIME
  invalid_inner_packet,  // a decrypted packet that is not IPv4/IPv6 or whose length lies
  source_not_allowed,    // a decrypted packet from outside the sender's AllowedIPs
  no_route,              // a host packet whose destination is in no peer's AllowedIPs
  no_endpoint,           // something to send to a peer whose endpoint is unknown
  staged_overflow,       // a queued packet pushed out by newer ones, or given up on
  no_private_key,        // traffic while the device has no private key
  rate_limited,          // under load, a handshake message beyond its address's share
};
inline constexpr std::size_t kDropReasons = 16;
std::string_view to_string(Drop drop);

struct EngineOptions {
  Timings timings;
  // The tunnel's MTU: padding never goes beyond it.
  std::size_t mtu = kDefaultMtu;
  // Under load, handshake messages must carry a mac2 from a cookie: the
  // engine is under load for `under_load_for` once more than
  // `under_load_handshakes` handshake messages arrived within
  // `under_load_window`.
  std::size_t under_load_handshakes = 200;
  Duration under_load_window = std::chrono::milliseconds(125);
  Duration under_load_for = std::chrono::seconds(1);
  // Wall time, for initiation timestamps and `wg show`'s latest handshake.
  std::function<std::chrono::system_clock::time_point()> wall_clock = [] {
    return std::chrono::system_clock::now();
  };
};

// Asked about an initiation from a static key that is no peer's, once the
// initiation has passed every check a known peer's would (mac1; under load
// a valid mac2 and the per-address rate limit) and has proved that its
// sender holds the key's private half (the timestamp decrypted). Returns
// the settings to admit the key with as a peer (its public_key must be
// `key`; AllowedIPs say which inner source addresses it may use), or
// nullopt to drop the initiation (counted as Drop::unknown_peer, as are
// initiations whose timestamp did not decrypt: the handler never sees
// those). Each initiation from an unknown key costs one more
// Diffie-Hellman than a peer's (the key-possession check). `from`
// is the datagram's source, `now` the engine's time.
//
// Called from inside receive_datagram(): it must not call back into the
// engine (configure, send_packet, ...) and should be quick. An admitted
// peer is the engine's like any other (settings().peers lists it): a later
// configure() that lists it keeps its sessions, one that omits it removes
// it.
using UnknownPeerHandler =
    std::function<std::optional<PeerSettings>(const crypto::PublicKey& key, const Endpoint& from, Time now)>;

class Engine {
 public:
  explicit Engine(EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Makes the engine's configuration `settings` (the device's private
  // key and peers; the listen port, addresses and MTU are the device's):
  // peers that are gone are removed with their sessions; new peers are
  // added; a peer whose preshared key, configured endpoint, persistent
  // keepalive or AllowedIPs changed gets the change and keeps its
  // sessions. A new private key drops every session and handshake.
  void configure(const DeviceSettings& settings, Time now, EngineOutput& out);
  const DeviceSettings& settings() const { return settings_; }
  // Who decides on initiations from unknown keys (UnknownPeerHandler);
  // none (the default, or an empty function): they are dropped.
  void set_unknown_peer_handler(UnknownPeerHandler handler) { unknown_peer_handler_ = std::move(handler); }

  void send_packet(std::span<const std::uint8_t> packet, Time now, EngineOutput& out);
  void receive_datagram(std::span<const std::uint8_t> datagram, const Endpoint& from, Time now, EngineOutput& out);
  void tick(Time now, EngineOutput& out);
  // When tick() next has something to do; nullopt: nothing is armed.
  std::optional<Time> next_deadline() const;

  // What `wg show` reports (the listen port is left 0 for the device).
  uapi::DeviceSnapshot snapshot() const;
  const std::array<std::uint64_t, kDropReasons>& drops() const { return drops_; }
  std::uint64_t drops(Drop reason) const { return drops_[static_cast<std::size_t>(reason)]; }
  bool under_load(Time now) const { return under_load_until_ && now < *under_load_until_; }
  // The peer with `public_key`, for tests and diagnostics.
  const Peer* find_peer(const crypto::PublicKey& public_key) const;

 private:
  Peer* peer_by_index(std::uint32_t index) const;
  Peer* peer_by_key(const crypto::PublicKey& public_key) const;
  void add_peer(const PeerSettings& settings, Time now, EngineOutput& out);
  void update_peer(Peer& peer, const PeerSettings& settings, Time now, EngineOutput& out);
  void remove_peer(Peer& peer);
  void route_allowed_ips(const Peer& peer);

  std::uint32_t new_index(PeerId peer);
  void release_index(std::uint32_t index);
  void drop_sessions(Peer& peer);
  void clear_handshake(Peer& peer);
  void install_keypair(Peer& peer, TransportKeys keys, Time now);

  // Sending (engine_send.cpp).
  void send_initiation(Peer& peer, Time now, EngineOutput& out);
  void send_keepalive(Peer& peer, Time now, EngineOutput& out);
  void send_staged(Peer& peer, Time now, EngineOutput& out);
  bool seal_and_send(Peer& peer, Keypair& keypair, std::span<const std::uint8_t> packet, Time now, EngineOutput& out);
  void stage(Peer& peer, std::span<const std::uint8_t> packet);
  void send_handshake_message(Peer& peer, std::span<std::uint8_t> message, Time now, EngineOutput& out);

  // Receiving (engine_receive.cpp).
  bool admit_handshake_message(std::span<const std::uint8_t> message, const Endpoint& from, std::uint32_t sender_index,
                               Time now, EngineOutput& out);
  void receive_initiation(std::span<const std::uint8_t> datagram, const Endpoint& from, Time now, EngineOutput& out);
  Peer* admit_unknown_peer(const OpenedInitiation& initiation, const Endpoint& from, Time now, EngineOutput& out);
  void receive_response(std::span<const std::uint8_t> datagram, const Endpoint& from, Time now, EngineOutput& out);
  void receive_cookie_reply(std::span<const std::uint8_t> datagram, Time now);
  void receive_transport(std::span<const std::uint8_t> datagram, const Endpoint& from, Time now, EngineOutput& out);

  void count(Drop reason) { ++drops_[static_cast<std::size_t>(reason)]; }

  EngineOptions options_;
  DeviceSettings settings_;
  std::optional<LocalIdentity> identity_;
  CookieChecker cookie_checker_;
  AllowedIps allowed_ips_;
  std::unordered_map<PeerId, std::unique_ptr<Peer>> peers_;
  std::map<crypto::KeyBytes, PeerId> peer_ids_by_key_;
  // Our indices in flight (handshakes) and in use (sessions), by peer.
  std::unordered_map<std::uint32_t, PeerId> indices_;
  PeerId next_peer_id_ = 1;
  std::uint64_t jitter_seed_;
  UnknownPeerHandler unknown_peer_handler_;

  std::size_t handshakes_in_window_ = 0;
  std::optional<Time> window_start_;
  std::optional<Time> under_load_until_;
  HandshakeRateLimiter rate_limiter_;

  std::array<std::uint64_t, kDropReasons> drops_{};
  // Where messages are sealed and opened, one at a time each; apart,
  // because opening one can make the engine seal others (queued packets)
  // before the opened packet is delivered.
  std::vector<std::uint8_t> seal_buffer_;
  std::vector<std::uint8_t> open_buffer_;
};

}  // namespace coral::wireguard
