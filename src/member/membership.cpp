#include "member/membership.h"

#include <algorithm>
#include <array>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/address.h"
#include "base/log.h"
#include "coral/mesh/v1/mesh.coral.h"
#include "crypto/keys.h"
#include "discovery/client.h"
#include "discovery/validation.h"
#include "member/address_choice.h"
#include "mesh/refusal.h"
#include "mesh/host_transport.h"
#include "net/dialer.h"
#include "rpc/http_channel.h"

namespace coral::member {

namespace asio = boost::asio;
namespace mv1 = coral::mesh::v1;

// How long a dial to a colony's mesh address may take (the host transport's;
// dial errors name it: "connection timed out after 5000 ms").
constexpr std::chrono::milliseconds kConnectTimeout{5000};

std::string_view to_string(Standing standing) {
  switch (standing) {
    case Standing::no_secret: return "not registered (no colony secret here)";
    case Standing::retrying: return "registering (colony not reachable yet)";
    case Standing::registered: return "registered";
    case Standing::refused: return "refused";
    case Standing::revoked: return "revoked";
    case Standing::left: return "left";
  }
  return "?";
}

struct Membership::State {
  asio::io_context& io;
  JoinOptions options;
  ColonyEndpoint colony;
  std::unique_ptr<mesh::Transport> transport;  // the host transport
  std::unique_ptr<Tunnel> tunnel;              // or the userspace one
  crypto::SecretKey key = crypto::SecretKey::generate();
  std::string pubkey = key.public_key().to_base64();
  std::optional<config::MemberConfig> entry;  // this machine's entry for the colony
  std::filesystem::path entry_file;            // where it was read
  mv1::RegisterRequest registration;  // holds the colony secret: memory only
  Standing standing = Standing::no_secret;
  std::string peer_id;
  std::string mesh_ipv4;
  std::string mesh_ipv6;
  std::vector<std::string> warnings;
  std::string problem;
  std::uint64_t register_attempts = 0;
  std::function<void()> on_registered;
  // Each membership's own timer (a shared one would let one colony's wait
  // cancel another's).
  asio::steady_timer timer{io};
  bool stopping = false;

  State(asio::io_context& io_, JoinOptions options_) : io(io_), options(std::move(options_)) {}
  ~State() { crypto::wipe(*registration.mutable_colony_secret()); }

  mesh::Transport& mesh() { return tunnel ? tunnel->transport() : *transport; }
  void detail(const std::string& line) const {
    if (options.detail) options.detail(line);
  }

  // Calls to the colony from our mesh addresses (heartbeats, unregister),
  // or, over the tunnel before we have any, from the registration address
  // to the colony's IPv6 mesh address (the provisional peer's only way in).
  rpc::ChannelOptions channel(bool from_registration_address, std::chrono::milliseconds timeout) {
    if (tunnel && from_registration_address) {
      return rpc::h2c_proto_options(http::Url{colony.mesh_ipv6, colony.connect_port, {}},
                                    tunnel->registration_dialer(), timeout);
    }
    return rpc::h2c_proto_options(http::Url{colony.target.host, colony.target.port, {}}, mesh().dialer(), timeout);
  }
  rpc::CallOptions call(std::chrono::milliseconds timeout) const { return {.timeout = timeout, .headers = {}}; }
  rpc::CallOptions call() const { return call(options.call_timeout); }

  asio::awaitable<rpc::Result<bool>> register_once(bool from_registration_address, std::chrono::milliseconds timeout);
  asio::awaitable<rpc::Result<bool>> register_over_tunnel();
  asio::awaitable<rpc::Result<mv1::HeartbeatResponse>> heartbeat(std::chrono::milliseconds timeout);
  asio::awaitable<bool> establish_tunnel(bool look_up_again);
  asio::awaitable<void> keep_member(std::shared_ptr<State> self);
  void registered_again(std::string_view what);
  void refused(const rpc::Error& error);
  void choose_target();
};

namespace {

// The key discovery returned must be the one of the local entry. The
// error names both keys (public keys: what `wg show` prints).
std::expected<void, std::string> check_pinned(const config::MemberConfig& entry,
                                              const discovery::v1::LookupColonyResponse& found,
                                              const std::string& endpoint, const std::filesystem::path& file) {
  const std::string pinned = entry.colony_public_key.to_base64();
  const auto announced = crypto::PublicKey::from_base64(found.wireguard_pubkey());
  if (announced && *announced == entry.colony_public_key) return {};
  const std::string shown = announced ? announced->to_base64()
                                      : "an invalid key (" + std::to_string(found.wireguard_pubkey().size()) + " bytes)";
  return std::unexpected("discovery at " + endpoint + " answered for colony " + entry.colony_id + " (mesh id " +
                         entry.mesh_id + ") with WireGuard key " + shown + ", but its local config " +
                         file.string() + " pins key " + pinned +
                         ": refusing to connect or to send it the colony secret. Someone else holds this mesh id in "
                         "discovery (see: coral colony status " + entry.colony_id + ")");
}

bool retryable(rpc::Code code) { return code == rpc::Code::unavailable || code == rpc::Code::deadline_exceeded; }

// The colony says why it refused a registration in this metadata field
// (mesh/refusal.h): "revoked" or "wrong-secret".
bool is_revocation(const rpc::Error& error) {
  return http::find_field(error.metadata, mesh::kRefusalField).value_or("") == mesh::kRefusalRevoked;
}

// Sleeps on `timer` for `delay`; false when the wait was cut short
// (cancelled: the membership is leaving).
asio::awaitable<bool> sleep_for(asio::steady_timer& timer, std::chrono::milliseconds delay) {
  timer.expires_after(delay);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

std::string cidr_list(const std::vector<base::Cidr>& subnets) {
  std::string text;
  for (const auto& subnet : subnets) text += (text.empty() ? "" : ", ") + subnet.to_string();
  return text;
}

// Heartbeats that fail in a row (unreachable) before the tunnel is healed:
// the first (healing costs a handshake and a probe, and a revoked member
// learns it sooner).
constexpr int kFailuresBeforeHealing = 1;
// A heartbeat right after the tunnel was established again: the colony
// either knows us (it answers at once) or does not (our packets from the
// mesh addresses are dropped).
constexpr std::chrono::milliseconds kProbeTimeout{1500};

}  // namespace

void Membership::State::choose_target() {
  const bool ipv6 = colony.mesh_ipv4.empty() || options.prefer_ipv6;
  colony.target = net::Target{ipv6 ? colony.mesh_ipv6 : colony.mesh_ipv4, colony.connect_port};
}

asio::awaitable<rpc::Result<bool>> Membership::State::register_once(bool from_registration_address,
                                                                    std::chrono::milliseconds timeout) {
  ++register_attempts;
  rpc::HttpChannel channel(io.get_executor(), this->channel(from_registration_address, timeout));
  mv1::MeshServiceClient client(channel);
  auto registered = co_await client.Register(registration, call(timeout));
  if (!registered) co_return std::unexpected(std::move(registered.error()));
  standing = Standing::registered;
  problem.clear();
  peer_id = registered->peer_id();
  mesh_ipv4 = registered->mesh_ipv4();
  mesh_ipv6 = registered->mesh_ipv6();
  mesh().set_mesh_addresses(mesh_ipv4, mesh_ipv6);
  co_return true;
}

asio::awaitable<rpc::Result<mv1::HeartbeatResponse>> Membership::State::heartbeat(std::chrono::milliseconds timeout) {
  rpc::HttpChannel channel(io.get_executor(), this->channel(false, timeout));
  mv1::MeshServiceClient client(channel);
  mv1::HeartbeatRequest request;
  request.set_peer_id(peer_id);
  request.set_wireguard_pubkey(pubkey);
  request.set_status("healthy");
  auto beat = co_await client.Heartbeat(request, call(timeout));
  co_return beat;
}

void Membership::State::refused(const rpc::Error& error) {
  if (is_revocation(error)) {
    standing = Standing::revoked;
    problem = "revoked by the colony: " + error.message + " (a new member key needs the colony's operator: "
              "coral colony rotate-secret, then a new member file)";
    log::warn("revoked by the colony; not retrying", {{"colony_id", colony.colony_id}, {"error", error.message}});
    return;
  }
  standing = Standing::refused;
  problem = "registration refused: " + error.message;
  log::warn("registration refused; not retrying", {{"colony_id", colony.colony_id}, {"error", error.message}});
}

asio::awaitable<bool> Membership::State::establish_tunnel(bool look_up_again) {
  if (look_up_again) {
    // The colony may have moved (a new port, a new host): discovery knows.
    // When discovery is down, the endpoints we had still serve.
    auto discovery = discovery::DiscoveryClient::create(io.get_executor(), colony.discovery);
    if (discovery) {
      auto found = co_await (*discovery)->lookup(entry->mesh_id);
      if (stopping) co_return false;
      if (found && crypto::PublicKey::from_base64(found->wireguard_pubkey()) == entry->colony_public_key &&
          found->public_endpoints_size() > 0) {
        std::vector<std::string> endpoints(found->public_endpoints().begin(), found->public_endpoints().end());
        if (endpoints != colony.public_endpoints) {
          log::info("colony endpoints changed", {{"colony_id", colony.colony_id}});
          colony.public_endpoints = std::move(endpoints);
        }
      } else if (!found) {
        log::debug("discovery lookup failed; keeping the colony's endpoints",
                   {{"colony_id", colony.colony_id}, {"error", found.error().message}});
      }
    }
  }
  // Appendix E's lines are join's (--verbose); healing later only logs them.
  auto established = co_await tunnel->establish(colony.public_endpoints, [this, look_up_again](const std::string& l) {
    if (!look_up_again) detail(l);
    log::debug("tunnel", {{"colony_id", colony.colony_id}, {"step", l}});
  });
  if (stopping) co_return false;
  if (!established) {
    problem = "colony unreachable: " + established.error();
    co_return false;
  }
  co_return true;
}

void Membership::State::registered_again(std::string_view what) {
  log::info(what, {{"colony_id", colony.colony_id},
                   {"peer_id", peer_id},
                   {"mesh_ipv4", mesh_ipv4},
                   {"mesh_ipv6", mesh_ipv6}});
  if (on_registered) on_registered();
}

asio::awaitable<rpc::Result<bool>> Membership::State::register_over_tunnel() {
  // A fresh handshake first: after a failure the colony may have dropped
  // our session (restarted, expired or forgot us) while ours looks alive.
  if (!co_await establish_tunnel(/*look_up_again=*/true)) {
    co_return rpc::fail(rpc::Code::unavailable, problem);
  }
  if (stopping) co_return rpc::fail(rpc::Code::canceled, "leaving");
  // The colony's device either does not know our key (we are a provisional
  // peer again: only the registration address gets through) or still does
  // (its registry let go of us a moment ago: only our mesh addresses do).
  auto again = co_await register_once(/*from_registration_address=*/true, kProbeTimeout);
  if (!again && retryable(again.error().code) && !mesh_ipv4.empty() && !stopping) {
    again = co_await register_once(/*from_registration_address=*/false, kProbeTimeout);
  }
  if (!again && retryable(again.error().code)) problem = "colony unreachable over the mesh: " + again.error().message;
  co_return again;
}

asio::awaitable<void> Membership::State::keep_member([[maybe_unused]] std::shared_ptr<State> self) {
  // The first heartbeat after 1 s; then at the interval the colony asks for.
  std::chrono::milliseconds interval{1000};
  auto retry_delay = options.retry.first;
  int failures = 0;
  while (!stopping) {
    const bool registered = standing == Standing::registered;
    if (standing == Standing::refused || standing == Standing::revoked) co_return;
    if (!co_await sleep_for(timer, registered ? interval : retry_delay) || stopping) co_return;
    if (registered) {
      auto beat = co_await heartbeat(options.call_timeout);
      if (stopping) co_return;
      if (beat) {
        failures = 0;
        interval = std::clamp<std::chrono::milliseconds>(std::chrono::seconds(beat->heartbeat_interval_seconds()),
                                                        std::chrono::seconds(1), std::chrono::hours(1));
        continue;
      }
      const bool not_found = beat.error().code == rpc::Code::not_found;
      if (!not_found && (!retryable(beat.error().code) || ++failures < kFailuresBeforeHealing)) continue;
      // Not found: expired (the colony heard nothing for too long), or its
      // state was reset: Register again. Unreachable: heal the tunnel.
      standing = Standing::retrying;
      problem = "colony unreachable over the mesh: " + beat.error().message;
      retry_delay = options.retry.first;
      if (tunnel && !not_found) {
        if (!co_await establish_tunnel(/*look_up_again=*/true)) {
          if (stopping) co_return;
          continue;
        }
        // The colony may still know us (it restarted on its state, or the
        // network came back): then our mesh addresses work at once.
        auto probe = co_await heartbeat(kProbeTimeout);
        if (stopping) co_return;
        if (probe) {
          standing = Standing::registered;
          problem.clear();
          failures = 0;
          log::info("tunnel to the colony re-established", {{"colony_id", colony.colony_id}});
          continue;
        }
      }
    }
    rpc::Result<bool> again = true;
    if (tunnel) {
      again = co_await register_over_tunnel();
    } else {
      again = co_await register_once(/*from_registration_address=*/false, options.call_timeout);
    }
    if (stopping) co_return;
    if (again) {
      failures = 0;
      retry_delay = options.retry.first;
      registered_again("registered with colony again as a mesh peer");
      continue;
    }
    if (!retryable(again.error().code)) {
      refused(again.error());
      co_return;
    }
    // (Over the tunnel, register_over_tunnel() said which step failed.)
    if (!tunnel) problem = "colony unreachable over the mesh: " + again.error().message;
    retry_delay = std::min(retry_delay * 2, options.retry.max);
  }
}

asio::awaitable<std::expected<std::unique_ptr<Membership>, std::string>> Membership::join(
    asio::io_context& io, const config::ConfigDir& dir, JoinOptions options, Progress progress) {
  using Failure = std::unexpected<std::string>;
  const std::string id = options.colony_id;
  progress("Resolving colony: " + id);
  auto state = std::make_shared<State>(io, std::move(options));
  ColonyEndpoint& colony = state->colony;
  colony.colony_id = id;

  // This machine's entry for the colony: a member file, or the colony's
  // own file; its discovery endpoint and mesh id, the pinned key, and the
  // secret to register with.
  auto loaded = dir.load_membership(id);
  if (!loaded) co_return Failure(loaded.error());
  state->entry = std::move(*loaded);
  const std::optional<config::MemberConfig>& entry = state->entry;
  state->entry_file = std::filesystem::exists(dir.member_file(id)) ? dir.member_file(id) : dir.colony_file(id);
  if (entry) state->detail("Loading colony config: " + state->entry_file.string());
  state->detail("Colony ID: " + id);
  state->detail("Generating ephemeral WireGuard keypair...");
  const std::string mesh_id = entry ? entry->mesh_id : id;
  const std::string endpoint = !state->options.discovery.empty() ? state->options.discovery
                               : entry                           ? entry->discovery_endpoint
                                                                 : state->options.default_discovery;
  colony.discovery = endpoint;
  progress(" ↳ Querying discovery service at " + endpoint + "...");
  state->detail("Querying discovery: " + endpoint);
  state->detail("Discovery lookup: mesh_id=" + mesh_id);
  auto discovery = discovery::DiscoveryClient::create(io.get_executor(), endpoint);
  if (!discovery) co_return Failure(discovery.error());
  auto found = co_await (*discovery)->lookup(mesh_id);
  if (!found && !(entry && !entry->public_endpoints.empty() && found.error().code != rpc::Code::not_found)) {
    co_return Failure("discovery lookup: cannot resolve colony " + id + ": " + found.error().message +
                      (found.error().code == rpc::Code::not_found
                           ? " (is it running, and registered with " + endpoint + "?)"
                           : ""));
  }
  if (!found) {
    // Discovery is down, but the member file says where the colony is.
    state->warnings.push_back("discovery at " + endpoint + " is not reachable (" + found.error().message +
                              "): using the public endpoints of " + state->entry_file.string());
    colony.public_endpoints = entry->public_endpoints;
  } else {
    colony.mesh_ipv4 = found->mesh_ipv4();
    colony.mesh_ipv6 = found->mesh_ipv6();
    colony.connect_port = static_cast<std::uint16_t>(found->connect_port());
    colony.public_endpoints.assign(found->public_endpoints().begin(), found->public_endpoints().end());
    if (colony.public_endpoints.empty() && entry) colony.public_endpoints = entry->public_endpoints;
  }
  if (entry) {
    // Discovery is untrusted (RFD 005, "Layer 1"): the local entry pins
    // the colony's key and its mesh addresses, and the colony secret only
    // ever goes there.
    if (found) {
      if (auto pinned = check_pinned(*entry, *found, endpoint, state->entry_file); !pinned) co_return Failure(pinned.error());
      const std::string pinned_ipv4 = base::format_ipv4(entry->mesh_ipv4);
      const std::string pinned_ipv6 = base::format_ipv6(entry->mesh_ipv6);
      if (colony.mesh_ipv4 != pinned_ipv4 || colony.mesh_ipv6 != pinned_ipv6 ||
          colony.connect_port != entry->connect_port) {
        state->warnings.push_back("discovery at " + endpoint + " announced other mesh addresses for colony " + id +
                                  " (" + discovery::quote(found->mesh_ipv4()) + " / " +
                                  discovery::quote(found->mesh_ipv6()) + " port " +
                                  std::to_string(found->connect_port()) + ") than " + state->entry_file.string() +
                                  "; using its (" + pinned_ipv4 + " / " + pinned_ipv6 + " port " +
                                  std::to_string(entry->connect_port) + ")");
      }
    }
    colony.mesh_ipv4 = base::format_ipv4(entry->mesh_ipv4);
    colony.mesh_ipv6 = base::format_ipv6(entry->mesh_ipv6);
    colony.connect_port = entry->connect_port;
  }
  if (colony.connect_port == 0 || (colony.mesh_ipv4.empty() && colony.mesh_ipv6.empty())) {
    co_return Failure("colony " + id + " registered no mesh address and Connect port with " + endpoint +
                      " (an older colony?)");
  }
  std::string endpoints;
  for (const auto& public_endpoint : colony.public_endpoints) {
    endpoints += (endpoints.empty() ? "" : ", ") + public_endpoint;
  }
  progress(" ↳ Colony endpoint: " + (endpoints.empty() ? std::string("none announced") : endpoints) +
           " (mesh IPs: " + colony.mesh_ipv4 + " / " + colony.mesh_ipv6 + ")");
  state->detail("Colony found:");
  state->detail("  ├─ Public endpoint: " + (endpoints.empty() ? std::string("none") : endpoints));
  if (found) state->detail("  ├─ WireGuard pubkey: " + found->wireguard_pubkey().substr(0, 8) + "...");
  state->detail("  ├─ Mesh IPv4: " + colony.mesh_ipv4);
  state->detail("  ├─ Mesh IPv6: " + colony.mesh_ipv6);
  state->detail("  └─ Connect port: " + std::to_string(colony.connect_port));

  // The transport: a WireGuard tunnel where the colony runs a WireGuard
  // device (it announces endpoints), else the host's network.
  const config::MeshTransport transport = state->options.mesh.value_or(
      colony.public_endpoints.empty() ? config::MeshTransport::host : config::MeshTransport::userspace);
  if (transport == config::MeshTransport::tun) {
    co_return Failure("members join over the userspace or host transport (--mesh userspace needs no privilege)");
  }
  if (transport == config::MeshTransport::userspace) {
    if (!entry) {
      co_return Failure("no entry for colony " + id + " in " + dir.root().string() +
                        ": joining its mesh needs its key and secret. On the colony's machine run: coral colony "
                        "invite " + id + " --out " + id + ".member.yaml; here: coral colony import " + id +
                        ".member.yaml");
    }
    if (colony.mesh_ipv6.empty()) {
      co_return Failure("colony " + id + " has no IPv6 mesh address: registration over the tunnel needs one");
    }
    if (colony.public_endpoints.empty()) {
      co_return Failure("colony " + id + " announced no public WireGuard endpoint to " + endpoint +
                        " and " + state->entry_file.string() + " lists none (set wireguard.public_endpoints on the "
                        "colony, or use --mesh host where this host reaches its mesh addresses)");
    }
    TunnelOptions tunnel_options{.private_key = state->key,
                                 .colony_key = entry->colony_public_key,
                                 .colony_subnets = {entry->mesh_network_ipv4, entry->mesh_network_ipv6},
                                 .handshake_timeout = state->options.handshake_timeout,
                                 .connect_timeout = state->options.call_timeout};
    auto tunnel = Tunnel::open(io, std::move(tunnel_options));
    if (!tunnel) co_return Failure(tunnel.error());
    state->tunnel = std::move(*tunnel);
    state->detail("Configuring WireGuard interface: userspace (UDP port " +
                  std::to_string(state->tunnel->transport().listen_port()) + ", no privileges)");
    state->detail("AllowedIPs: " + cidr_list(state->tunnel->colony_subnets()));
    progress(" ↳ Establishing WireGuard tunnel...");
    state->choose_target();
  } else {
    state->transport = mesh::make_host_transport(io.get_executor(), {.connect_timeout = kConnectTimeout});
    progress(" ↳ Mesh transport: host (this host reaches the colony's mesh addresses)");
    std::vector<std::string> candidates;
    const bool ipv6_first = colony.mesh_ipv4.empty() || state->options.prefer_ipv6;
    for (const std::string* address : ipv6_first ? std::array{&colony.mesh_ipv6, &colony.mesh_ipv4}
                                                 : std::array{&colony.mesh_ipv4, &colony.mesh_ipv6}) {
      if (!address->empty()) candidates.push_back(*address);
    }
    // Named: g++ 12 mishandles temporaries around co_await.
    const net::Dialer dial = state->transport->dialer();
    const AddressChoice choice =
        co_await choose_address(dial, candidates, colony.connect_port, kConnectTimeout, progress);
    colony.target = choice.target;
    const std::string& unreachable = choice.unreachable;
    if (!unreachable.empty()) {
      state->warnings.push_back("colony " + id + " is not reachable yet (" + unreachable +
                                "); calls fail until it is, then the proxy connects by itself");
    }
  }

  if (!entry) {
    state->problem = "no local entry with the colony secret (" + dir.colony_file(id).string() + ")";
    state->warnings.push_back("not registered with colony " + id + " as a mesh peer: " + state->problem);
    co_return std::unique_ptr<Membership>(new Membership(std::move(state)));
  }
  state->registration.set_colony_id(entry->colony_id);
  state->registration.set_colony_secret(entry->colony_secret);
  crypto::wipe(state->entry->colony_secret);
  state->registration.set_wireguard_pubkey(state->pubkey);
  state->registration.set_component_name(state->options.component_name);
  state->registration.set_kind(state->options.kind);
  if (state->tunnel && !co_await state->establish_tunnel(/*look_up_again=*/false)) {
    state->standing = Standing::retrying;
    state->warnings.push_back("colony " + id + " is not reachable yet (" + state->problem +
                              "); calls fail until it is, then the proxy connects by itself");
    co_return std::unique_ptr<Membership>(new Membership(std::move(state)));
  }
  if (state->tunnel) {
    state->detail("WireGuard tunnel established (" + state->tunnel->facts().endpoint + ")");
    state->detail("Registering with colony...");
    state->detail("POST http://[" + colony.mesh_ipv6 + "]:" + std::to_string(colony.connect_port) +
                  std::string(mv1::kMeshServiceRegisterPath) + " (from " + state->tunnel->registration_address() +
                  ")");
  }
  progress(" ↳ Registering as " + state->options.component_name + " peer...");
  auto registered = co_await state->register_once(state->tunnel != nullptr, state->options.call_timeout);
  if (registered) {
    progress(" ↳ Assigned mesh IPs: " + state->mesh_ipv4 + " / " + state->mesh_ipv6);
    state->detail("Colony assigned mesh IPs: " + state->mesh_ipv4 + " / " + state->mesh_ipv6);
  } else if (retryable(registered.error().code)) {
    state->standing = Standing::retrying;
    state->problem = "colony unreachable over the mesh: " + registered.error().message;
    state->warnings.push_back("not registered with colony " + id + " as a mesh peer yet: " +
                              registered.error().message);
  } else {
    state->refused(registered.error());
    // Over the tunnel a member that may not register can reach nothing:
    // that is an error, not a warning.
    if (state->tunnel) {
      co_return Failure(state->problem + (state->standing == Standing::refused
                                              ? " (the colony secret in " + state->entry_file.string() +
                                                    " is not the colony's: rotated? on the colony's machine: coral "
                                                    "colony invite " + id + ")"
                                              : ""));
    }
    state->warnings.push_back("not registered with colony " + id + " as a mesh peer: " + state->problem);
  }
  co_return std::unique_ptr<Membership>(new Membership(std::move(state)));
}

Membership::Membership(std::shared_ptr<State> state) : state_(std::move(state)) {}

Membership::~Membership() {
  // The loops hold the state; they end at their next step.
  state_->stopping = true;
  state_->on_registered = nullptr;
  state_->timer.cancel();
}

void Membership::start() {
  if (state_->registration.colony_secret().empty()) return;
  asio::co_spawn(state_->io, state_->keep_member(state_), asio::detached);
}

asio::awaitable<LeaveResult> Membership::leave() {
  auto state = state_;
  state->stopping = true;
  state->timer.cancel();
  const bool was_registered = state->standing == Standing::registered;
  state->standing = Standing::left;
  if (!was_registered) co_return LeaveResult{};
  rpc::HttpChannel channel(state->io.get_executor(), state->channel(false, state->options.call_timeout));
  mv1::MeshServiceClient client(channel);
  mv1::UnregisterRequest request;
  request.set_peer_id(state->peer_id);
  request.set_wireguard_pubkey(state->pubkey);
  auto done = co_await client.Unregister(request, state->call());
  if (!done) {
    log::warn("unregister failed", {{"colony_id", state->colony.colony_id}, {"error", done.error().message}});
    co_return LeaveResult{.outcome = LeaveOutcome::failed, .error = done.error().message};
  }
  co_return LeaveResult{.outcome = LeaveOutcome::unregistered, .error = {}};
}

const ColonyEndpoint& Membership::colony() const { return state_->colony; }
mesh::Transport& Membership::transport() { return state_->mesh(); }
Standing Membership::standing() const { return state_->standing; }
const std::string& Membership::peer_id() const { return state_->peer_id; }
const std::string& Membership::mesh_ipv4() const { return state_->mesh_ipv4; }
const std::string& Membership::mesh_ipv6() const { return state_->mesh_ipv6; }
const std::string& Membership::public_key() const { return state_->pubkey; }
const std::vector<std::string>& Membership::warnings() const { return state_->warnings; }
const std::string& Membership::problem() const { return state_->problem; }
std::optional<TunnelFacts> Membership::tunnel() const {
  if (!state_->tunnel) return std::nullopt;
  return state_->tunnel->facts();
}
std::uint64_t Membership::register_attempts() const { return state_->register_attempts; }
void Membership::on_registered(std::function<void()> callback) { state_->on_registered = std::move(callback); }

}  // namespace coral::member
