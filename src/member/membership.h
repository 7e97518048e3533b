#pragma once
// What a member of a colony's mesh does (RFD 005, "Connection Flow"), in one
// place for every kind of member — the local proxy now, agents later:
//
//   1. hold a WireGuard key pair: made at join, the private half in memory
//      only (crypto::SecretKey wipes it), the same key for every
//      registration of this member, so the colony gives back the same mesh
//      addresses when it registers again;
//   2. look the colony up in discovery; where this machine has the colony's
//      config, pin its WireGuard key and mesh addresses from it (discovery
//      is untrusted, RFD 005 "Layer 1"), and send the colony secret only
//      there;
//   3. pick the address family: IPv4 first (IPv6 when asked, or when there
//      is no IPv4), the other when the first cannot be reached and the
//      other can — but not when the first was refused (the colony's host
//      answered: the colony is down, and a ULA on no interface here would
//      leave by the default route);
//   4. MeshService.Register with the colony secret; while the colony is
//      unreachable, again with this member's own backoff (1 s doubling to
//      30 s); a refusal (wrong secret, ...) is final;
//   5. Heartbeat at the interval the colony asks for; when the colony no
//      longer knows the peer (it restarted on fresh state, or expired us),
//      Register again;
//   6. Unregister on leave().
//
// Every timer belongs to one membership: memberships of different colonies
// never wake each other. Runs on one io_context; not thread-safe.

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "config/config_dir.h"
#include "coral/mesh/v1/mesh.pb.h"
#include "http/client.h"
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
  std::string discovery;  // overrides the colony config's endpoint; empty: the config's, else the default
  std::string default_discovery = "http://localhost:8080";
  bool prefer_ipv6 = false;
  mesh::v1::PeerKind kind = mesh::v1::PEER_KIND_PROXY;
  std::string component_name = "proxy";
  Backoff retry;
  std::chrono::milliseconds call_timeout = kColonyCallTimeout;
};

// The colony as this member reaches it.
struct ColonyEndpoint {
  std::string colony_id;
  std::string mesh_ipv4;  // the colony's
  std::string mesh_ipv6;
  std::uint16_t connect_port = 0;
  std::string discovery;  // the endpoint used
  net::Target target;    // the address chosen (step 3)
};

enum class Standing : std::uint8_t {
  no_secret,    // this machine has no config with the colony secret: not registered
  retrying,     // the colony was not reachable: registering with backoff
  registered,
  refused,      // the colony refused the registration (final)
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
