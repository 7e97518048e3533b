#pragma once
// What a member of a colony's mesh does (RFD 005, "Connection Flow"), in one
// place for every kind of member — the local proxy now, agents later:
//
//   1. hold a WireGuard key pair: made at join, the private half in memory
//      only (crypto::SecretKey wipes it), the same key for every
//      registration of this member, so the colony gives back the same mesh
//      addresses when it registers again;
//   2. read this machine's entry for the colony (a member file from `coral
//      colony import`, or the colony's own file: config::ConfigDir::
//      load_membership) and look the colony up in discovery; the entry pins
//      the colony's WireGuard key and mesh addresses (discovery is
//      untrusted, RFD 005 "Layer 1"), and the colony secret goes only there.
//      When discovery cannot be reached, the entry's public endpoints serve;
//   3. the mesh transport:
//      userspace (the default when the colony announces public endpoints):
//        a WireGuard tunnel to the colony (member/tunnel.h), trying each
//        endpoint until one answers the handshake; Register goes over the
//        tunnel from the member's registration address (the colony admits
//        it as a provisional peer), and the stack then holds the assigned
//        mesh addresses;
//      host: this host reaches the colony's mesh addresses (IPv4 first, the
//        other family when the first cannot be reached and the other can,
//        but not after a refusal: see address_choice.h);
//   4. MeshService.Register with the colony secret; while the colony is
//      unreachable, again with this member's own backoff (1 s doubling to
//      30 s); a refusal (wrong secret, revoked) is final;
//   5. Heartbeat at the interval the colony asks for. When the colony no
//      longer knows the peer, Register again; when heartbeats fail twice
//      (userspace), heal: look the colony up again (keeping what we had if
//      discovery is down), redo the handshake, and heartbeat or Register
//      again — the same key keeps the same addresses;
//   6. Unregister on leave().
//
// Every timer belongs to one membership: memberships of different colonies
// never wake each other. Runs on one io_context; not thread-safe.

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "config/config_dir.h"
#include "coral/mesh/v1/mesh.pb.h"
#include "http/client.h"
#include "member/tunnel.h"
#include "mesh/transport.h"
#include "net/dialer.h"
#include "rpc/error.h"

namespace boost::asio {
class io_context;
}

namespace coral::member {

// One deadline for every call a member makes to its colony.
inline constexpr std::chrono::seconds kColonyCallTimeout{5};

// Waits between attempts: `first`, doubling up to `max`.
struct Backoff {
  std::chrono::milliseconds first{1000};
  std::chrono::milliseconds max{30'000};
};

struct JoinOptions {
  std::string colony_id;
  // How to reach the colony's mesh; nullopt: userspace when the colony
  // announces public endpoints (it runs a WireGuard device), else host.
  std::optional<config::MeshTransport> mesh;
  std::string discovery;  // overrides the colony config's endpoint; empty: the config's, else the default
  std::string default_discovery = "http://localhost:8080";
  bool prefer_ipv6 = false;
  mesh::v1::PeerKind kind = mesh::v1::PEER_KIND_PROXY;
  std::string component_name = "proxy";
  Backoff retry;
  std::chrono::milliseconds call_timeout = kColonyCallTimeout;
  // Per public endpoint, for the WireGuard handshake to complete.
  std::chrono::milliseconds handshake_timeout{2500};
  // RFD 005 appendix E's lines (--verbose); may be empty.
  std::function<void(const std::string& line)> detail;
};

// The colony as this member reaches it.
struct ColonyEndpoint {
  std::string colony_id;
  std::string mesh_ipv4;  // the colony's
  std::string mesh_ipv6;
  std::uint16_t connect_port = 0;
  std::string discovery;  // the endpoint used
  net::Target target;    // the address chosen (step 3)
  std::vector<std::string> public_endpoints;  // the colony's WireGuard endpoints (userspace)
};

enum class Standing : std::uint8_t {
  no_secret,    // this machine has no config with the colony secret: not registered
  retrying,     // the colony was not reachable: registering with backoff
  registered,
  refused,      // the colony refused the registration: wrong secret, ... (final)
  revoked,      // the colony's operator revoked this member (final)
  left,         // leave() was called
};
std::string_view to_string(Standing standing);

// What leave() achieved.
enum class LeaveOutcome : std::uint8_t {
  unregistered,    // the colony acknowledged
  not_registered,  // nothing to undo
  failed,          // the colony did not answer or refused: it expires us after missed heartbeats
};
struct LeaveResult {
  LeaveOutcome outcome = LeaveOutcome::not_registered;
  std::string error;  // why, when failed
};

class Membership {
 public:
  using Progress = std::function<void(const std::string& line)>;

  // Steps 1-4 once. Fails when the colony cannot be resolved, or discovery
  // contradicts the local config; a registration that fails is a warning
  // (see warnings() and standing()), retried after start() when the colony
  // was unreachable.
  static boost::asio::awaitable<std::expected<std::unique_ptr<Membership>, std::string>> join(
      boost::asio::io_context& io, const config::ConfigDir& dir, JoinOptions options, Progress progress);
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  // Starts the retry (step 4) and heartbeat (step 5) loops.
  void start();
  // Stops the loops and unregisters (step 6).
  boost::asio::awaitable<LeaveResult> leave();

  const ColonyEndpoint& colony() const;
  mesh::Transport& transport();
  Standing standing() const;
  const std::string& peer_id() const;
  // Ours, once registered.
  const std::string& mesh_ipv4() const;
  const std::string& mesh_ipv6() const;
  // This member's WireGuard public key, base64.
  const std::string& public_key() const;
  // Non-fatal problems met while joining (not registered, colony not reachable yet).
  const std::vector<std::string>& warnings() const;
  // Why the member is not registered now, naming the step (discovery
  // lookup, handshake, registration refused, revoked, colony unreachable
  // over the mesh); "" when registered.
  const std::string& problem() const;
  // The WireGuard tunnel (userspace transport); nullopt on the host transport.
  std::optional<TunnelFacts> tunnel() const;
  // Register attempts made so far (for status output and tests).
  std::uint64_t register_attempts() const;
  // Called after each successful registration made by the loops (not the
  // one in join()): the member's addresses may have changed.
  void on_registered(std::function<void()> callback);

  struct State;

 private:
  explicit Membership(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace coral::member
