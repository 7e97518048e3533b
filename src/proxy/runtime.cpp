#include "proxy/runtime.h"

#include <unistd.h>


#include <boost/asio/io_context.hpp>

#include <google/protobuf/util/time_util.h>

#include "base/address.h"
#include "base/file.h"
#include "base/log.h"
#include "base/memory.h"
#include "base/pid_file.h"
#include "config/colony_file.h"
#include "coral/mesh/v1/mesh.pb.h"
#include "http/server.h"
#include "member/membership.h"
#include "proxy/forwarder.h"
#include "proxy/health.h"
#include "proxy/state.h"

namespace coral::proxy {

namespace asio = boost::asio;

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  if (const auto v4 = base::parse_ipv4(host)) return (*v4)[0] == 127;
  if (const auto v6 = base::parse_ipv6(host)) return *v6 == base::Ipv6Bytes{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return false;
}

namespace {

std::string now_rfc3339() {
  return google::protobuf::util::TimeUtil::ToString(google::protobuf::util::TimeUtil::GetCurrentTime());
}

// A colony being served: the membership that reaches it, and this
// proxy's lock and state file for it.
struct Link {
  std::unique_ptr<member::Membership> membership;
  std::unique_ptr<base::PidFile> pid_file;
  std::filesystem::path state_file;

  // The colony as the membership reaches it now (our addresses change when
  // it registers again).
  ServedColony served() const {
    const member::ColonyEndpoint& colony = membership->colony();
    return ServedColony{.colony_id = colony.colony_id,
                        .mesh_ipv4 = colony.mesh_ipv4,
                        .mesh_ipv6 = colony.mesh_ipv6,
                        .connect_port = colony.connect_port,
                        .forwarding_to = colony.target.authority(),
                        .proxy_mesh_ipv4 = membership->mesh_ipv4(),
                        .proxy_mesh_ipv6 = membership->mesh_ipv6(),
                        .discovery = colony.discovery};
  }
};

}  // namespace

struct ProxyRuntime::Impl {
  asio::io_context& io;
  config::ConfigDir dir;
  ProxyOptions options;
  std::vector<std::unique_ptr<Link>> links;
  std::unique_ptr<Forwarder> forwarder;
  std::unique_ptr<http::Server> server;
  std::vector<std::string> warnings;
  std::string started_at = now_rfc3339();
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::string listen;

  Impl(asio::io_context& io_, config::ConfigDir dir_, ProxyOptions options_)
      : io(io_), dir(std::move(dir_)), options(std::move(options_)) {}

  // Resolve, open the transport, register: one colony.
  asio::awaitable<std::expected<std::unique_ptr<Link>, std::string>> join(const std::string& id,
                                                                          const Progress& progress);
  void write_state(Link& link);
  std::string health() const;
};

asio::awaitable<std::expected<std::unique_ptr<Link>, std::string>> ProxyRuntime::Impl::join(
    const std::string& id, const Progress& progress) {
  member::JoinOptions join_options;
  join_options.colony_id = id;
  join_options.discovery = options.discovery;
  join_options.default_discovery = std::string(kDefaultDiscovery);
  join_options.prefer_ipv6 = options.prefer_ipv6;
  join_options.kind = mesh::v1::PEER_KIND_PROXY;
  join_options.component_name = "proxy";
  join_options.mesh = options.mesh;
  join_options.detail = options.detail;
  auto joined = co_await member::Membership::join(io, dir, std::move(join_options), progress);
  if (!joined) co_return std::unexpected(joined.error());
  auto link = std::make_unique<Link>();
  link->membership = std::move(*joined);
  for (const auto& warning : link->membership->warnings()) warnings.push_back(warning);
  co_return link;
}

void ProxyRuntime::Impl::write_state(Link& link) {
  const ServedColony served = link.served();
  ProxyState state{.colony_id = served.colony_id,
                   .listen = listen,
                   .colony_mesh_ipv4 = served.mesh_ipv4,
                   .colony_mesh_ipv6 = served.mesh_ipv6,
                   .colony_connect_port = served.connect_port,
                   .forwarding_to = served.forwarding_to,
                   .mesh_ipv4 = served.proxy_mesh_ipv4,
                   .mesh_ipv6 = served.proxy_mesh_ipv6,
                   .transport = std::string(link.membership->transport().name()),
                   .status = "connected",
                   .pid = getpid(),
                   .started_at = started_at};
  link.state_file = dir.proxies_dir() / (served.colony_id + ".yaml");
  if (auto written = base::write_file_atomically(link.state_file, to_yaml(state)); !written) {
    log::warn("cannot record the proxy's state", {{"error", written.error()}});
  }
}

std::string ProxyRuntime::Impl::health() const {
  const auto& stats = forwarder->stats();
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count();
  proxy::v1::ProxyHealth out;
  out.set_status("ok");
  out.set_pid(static_cast<std::uint32_t>(getpid()));
  out.set_listen(listen);
  out.set_started_at(started_at);
  out.set_uptime_seconds(static_cast<std::uint32_t>(uptime));
  out.set_requests(static_cast<double>(stats.requests));
  out.set_failed(static_cast<double>(stats.failed));
  out.set_active(static_cast<std::uint32_t>(stats.active));
  out.set_canceled(static_cast<double>(stats.canceled));
  for (std::size_t i = 0; i < links.size(); ++i) {
    const ServedColony served = links[i]->served();
    const std::string& error = forwarder->upstream_error(i);
    proxy::v1::ColonyHealth& colony = *out.add_colonies();
    colony.set_colony_id(served.colony_id);
    colony.set_forwarding_to(served.forwarding_to);
    colony.set_colony_mesh_ipv4(served.mesh_ipv4);
    colony.set_colony_mesh_ipv6(served.mesh_ipv6);
    colony.set_mesh_ipv4(served.proxy_mesh_ipv4);
    colony.set_mesh_ipv6(served.proxy_mesh_ipv6);
    colony.set_discovery(served.discovery);
    colony.set_colony_connect_port(served.connect_port);
    const member::Membership& membership = *links[i]->membership;
    colony.set_transport(std::string(links[i]->membership->transport().name()));
    colony.set_registration(std::string(member::to_string(membership.standing())));
    colony.set_problem(membership.problem());
    if (membership.standing() == member::Standing::revoked) {
      colony.set_status("revoked: " + membership.problem());
    } else if (!error.empty()) {
      colony.set_status("unreachable: " + error);
    } else if (!membership.problem().empty() && membership.standing() == member::Standing::retrying) {
      colony.set_status("unreachable: " + membership.problem());
    } else {
      colony.set_status("connected");
    }
    if (const auto tunnel = membership.tunnel()) {
      colony.set_tunnel_endpoint(tunnel->endpoint);
      if (tunnel->last_handshake) {
        colony.set_latest_handshake(google::protobuf::util::TimeUtil::ToString(
            google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
                std::chrono::duration_cast<std::chrono::nanoseconds>(tunnel->last_handshake->time_since_epoch())
                    .count())));
      }
      colony.set_tunnel_rx_bytes(static_cast<double>(tunnel->rx_bytes));
      colony.set_tunnel_tx_bytes(static_cast<double>(tunnel->tx_bytes));
      colony.set_tunnel_listen_port(tunnel->listen_port);
    }
  }
  return write_health_json(out);
}

ProxyRuntime::ProxyRuntime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProxyRuntime::~ProxyRuntime() = default;

asio::awaitable<std::expected<std::unique_ptr<ProxyRuntime>, std::string>> ProxyRuntime::start(
    asio::io_context& io, config::ConfigDir dir, ProxyOptions options, Progress progress) {
  using Failure = std::unexpected<std::string>;
  if (options.colonies.empty()) co_return Failure("no colony to serve");
  if (!options.allow_remote && !is_loopback_host(options.listen_host)) {
    co_return Failure("--listen " + options.listen_host +
                      " is not a loopback address: anyone who reaches it reaches the colony; add --allow-remote "
                      "if that is what you want");
  }
  if (auto created = dir.create(); !created) co_return Failure(created.error());
  auto impl = std::make_unique<Impl>(io, std::move(dir), std::move(options));

  // One proxy per colony: its PID file is the lock.
  for (const auto& id : impl->options.colonies) {
    if (auto valid = config::validate_colony_id(id); !valid) co_return Failure("colony id \"" + id + "\": " + valid.error());
  }
  std::vector<std::unique_ptr<base::PidFile>> locks;
  for (const auto& id : impl->options.colonies) {
    const auto pid_path = impl->dir.proxies_dir() / (id + ".pid");
    auto lock = base::PidFile::acquire(pid_path);
    if (!lock) {
      // Held by a proxy, or not writable (full, read-only): the hint follows
      // what is the case.
      if (base::read_pid_file(pid_path).held()) {
        co_return Failure("a proxy for " + id + " is " + lock.error() + "; stop it with: coral proxy stop " + id);
      }
      const std::string hint = config::storage_hint(base::probe_writable(impl->dir.proxies_dir()),
                                                    impl->dir.proxies_dir());
      co_return Failure("cannot lock " + pid_path.string() + ": " + lock.error() + (hint.empty() ? "" : "; " + hint));
    }
    locks.push_back(std::make_unique<base::PidFile>(std::move(*lock)));
    // A stop report an earlier proxy left that no `coral proxy stop` read
    // (it was stopped by a signal from elsewhere): it is not about us.
    std::error_code ec;
    std::filesystem::remove(stop_report_file(impl->dir.proxies_dir(), id), ec);
  }

  for (std::size_t i = 0; i < impl->options.colonies.size(); ++i) {
    auto link = co_await impl->join(impl->options.colonies[i], progress);
    if (!link) {
      for (auto& joined : impl->links) co_await joined->membership->leave();
      co_return Failure(link.error());
    }
    (*link)->pid_file = std::move(locks[i]);
    impl->links.push_back(std::move(*link));
  }

  std::vector<Upstream> upstreams;
  for (const auto& link : impl->links) {
    member::Membership* membership = link->membership.get();
    upstreams.push_back(Upstream{
        .colony_id = membership->colony().colony_id,
        .target = membership->colony().target,
        .dialer = membership->transport().dialer(),
        .refusal = [membership]() -> std::optional<rpc::Error> {
          const std::string id = membership->colony().colony_id;
          switch (membership->standing()) {
            case member::Standing::revoked:
              return rpc::Error{rpc::Code::permission_denied,
                                "this proxy was revoked by colony " + id + ": " + membership->problem(), {}};
            case member::Standing::refused:
              if (membership->tunnel()) {
                return rpc::Error{rpc::Code::permission_denied,
                                  "this proxy is not a member of colony " + id + ": " + membership->problem(), {}};
              }
              return std::nullopt;
            default: return std::nullopt;
          }
        }});
  }
  Impl* raw = impl.get();
  impl->forwarder = std::make_unique<Forwarder>(io.get_executor(), std::move(upstreams), [raw] { return raw->health(); });
  base::raise_open_files_limit();  // the connection cap is then the server's (http::ServerOptions)
  impl->server = std::make_unique<http::Server>(io, *impl->forwarder);
  if (auto listening = impl->server->listen(impl->options.listen_host, impl->options.listen_port); !listening) {
    for (auto& link : impl->links) co_await link->membership->leave();
    co_return Failure("cannot listen on " + listening.error().message() +
                      (listening.error().code == std::errc::address_in_use
                           ? " (another proxy? see: coral proxy list; or choose another port with --port)"
                           : ""));
  }
  impl->server->start();
  const std::string host = impl->options.listen_host.find(':') != std::string::npos
                               ? "[" + impl->options.listen_host + "]"
                               : impl->options.listen_host;
  impl->listen = host + ":" + std::to_string(impl->server->port());

  for (auto& link : impl->links) {
    impl->write_state(*link);
    const ServedColony served = link->served();
    log::info("proxy serving colony", {{"colony_id", served.colony_id},
                                       {"listen", impl->listen},
                                       {"forwarding_to", served.forwarding_to},
                                       {"mesh_ipv4", served.proxy_mesh_ipv4},
                                       {"mesh_ipv6", served.proxy_mesh_ipv6}});
    Impl* runtime = impl.get();
    Link* raw_link = link.get();
    link->membership->on_registered([runtime, raw_link] { runtime->write_state(*raw_link); });
    link->membership->start();
  }
  for (const auto& warning : impl->warnings) log::warn("proxy", {{"warning", warning}});
  co_return std::unique_ptr<ProxyRuntime>(new ProxyRuntime(std::move(impl)));
}

std::string ProxyRuntime::listen_address() const { return impl_->listen; }

std::vector<ServedColony> ProxyRuntime::colonies() const {
  std::vector<ServedColony> served;
  for (const auto& link : impl_->links) served.push_back(link->served());
  return served;
}

const std::vector<std::string>& ProxyRuntime::warnings() const { return impl_->warnings; }

std::string ProxyRuntime::health_json() const { return impl_->health(); }

asio::awaitable<void> ProxyRuntime::shutdown(std::chrono::milliseconds grace) {
  co_await impl_->server->shutdown(grace);
  impl_->forwarder->close();
  for (auto& link : impl_->links) {
    std::error_code ec;
    std::filesystem::remove(link->state_file, ec);
    const member::LeaveResult left = co_await link->membership->leave();
    StopReport report{.pid = getpid(),
                      .unregister = StopReport::Unregister::not_registered,
                      .error = {},
                      .closed_tunnel = link->membership->tunnel().has_value()};
    switch (left.outcome) {
      case member::LeaveOutcome::unregistered: report.unregister = StopReport::Unregister::unregistered; break;
      case member::LeaveOutcome::not_registered: break;
      case member::LeaveOutcome::failed:
        report.unregister = StopReport::Unregister::failed;
        report.error = left.error;
        break;
    }
    // Written while the PID file is still held: `coral proxy stop` reads it
    // once the lock is released.
    const auto report_file = stop_report_file(impl_->dir.proxies_dir(), link->membership->colony().colony_id);
    if (auto written = base::write_file_atomically(report_file, to_yaml(report)); !written) {
      log::warn("cannot record how the proxy stopped", {{"error", written.error()}});
    }
  }
  for (auto& link : impl_->links) link->pid_file.reset();
}

}  // namespace coral::proxy
