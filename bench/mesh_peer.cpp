// coral-mesh-bench: a userspace mesh node (coral's WireGuard device on one
// loopback UDP socket + the userspace TCP/IP stack, mesh::
// make_userspace_transport) configured from a wg-quick file, for
// bench/mesh.sh and by hand. Without --conf, `load` dials host TCP (the
// no-tunnel baseline).
//
//   coral-mesh-bench --conf FILE bulk-serve [--port 9001]
//   coral-mesh-bench --conf FILE bulk --target HOST [--port 9001] --direction up|down [--seconds 10]
//   coral-mesh-bench --conf FILE status-serve [--port 9000]
//   coral-mesh-bench [--conf FILE] load --target URL [-c 16] [-m 16] [--seconds 10] [--warmup 2]
//                                      [--cpu-pid PID]...
//
// The wg-quick file: [Interface] PrivateKey, Address (the node's mesh IPv4
// and/or IPv6; the prefix length is ignored), ListenPort (optional); its
// [Peer]s become the device's peers (PublicKey, Endpoint, AllowedIPs,
// PersistentKeepalive).
//
// bulk-serve: raw TCP on port 9001 of both mesh addresses. The client sends
// one byte, 'U' or 'D', and the duration in ms (4 bytes, big endian):
//   U  the client streams; from the first data byte on, the server counts
//      for the duration, then answers bytes (8 B) and elapsed µs (8 B, both
//      big endian) and goes on discarding until the client closes;
//   D  the server streams until the client closes; the client counts from
//      its first data byte for the duration.
// So the rate is always the receiver's. On SIGUSR1, and when it stops, the
// server prints its stack's counters ("stats: ..."), as bulk and load do at
// their end.
//
// status-serve: coral's RPC server on port 9000 of both mesh addresses,
// answering coral.colony.v1.ColonyService/GetStatus with a fixed status (a
// stand-in colony, as coral-rpc-bench-server does on host TCP).
//
// load: unary Connect JSON GetStatus ({} as the request) over h2c, -c
// connections (one rpc::HttpChannel each) x -m calls in flight on each,
// WARMUP s unrecorded, then SECONDS s measured: calls completed in that
// window, their latency (p50/p90/p99/max), failures, this process's CPU in
// the window, and that of each --cpu-pid (utime+stime from /proc, so the
// colony's CPU per request covers exactly the same window).
//
// Output: one "key=value ..." line per result on stdout; errors on stderr,
// exit status 1 on any failure, 2 on bad usage.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "coral/colony/v1/colony.coral.h"
#include "http/server.h"
#include "http/url.h"
#include "mesh/wireguard_transport.h"
#include "rpc/http_channel.h"
#include "rpc/server.h"
#include "wireguard/conf_file.h"

namespace asio = boost::asio;
namespace cv1 = coral::colony::v1;
namespace net = coral::net;
namespace rpc = coral::rpc;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::string_view kUsage =
    "usage: coral-mesh-bench [--conf FILE] COMMAND [options]\n"
    "  --conf FILE     wg-quick file of this node ([Interface] PrivateKey, Address, ListenPort; [Peer]s)\n"
    "commands:\n"
    "  bulk-serve   [--port 9001]                 raw TCP bulk server on the mesh addresses\n"
    "  bulk         --target HOST [--port 9001] --direction up|down [--seconds 10]\n"
    "  status-serve [--port 9000]                 GetStatus (coral's RPC server) on the mesh addresses\n"
    "  load         --target URL [-c 16] [-m 16] [--seconds 10] [--warmup 2] [--cpu-pid PID]...\n"
    "               unary Connect JSON GetStatus over h2c; without --conf over host TCP\n";

struct Args {
  std::string conf;
  std::string command;
  std::string target;
  std::uint16_t port = 0;
  std::string direction;
  double seconds = 10;
  double warmup = 2;
  unsigned connections = 16;
  unsigned streams = 16;
  std::vector<int> cpu_pids;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "coral-mesh-bench: " << message << "\n" << kUsage;
  std::exit(2);
}

double cpu_seconds_self() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// utime + stime of a process (all threads), in clock ticks; -1 if gone.
long long cpu_ticks(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return utime + stime;
}

// Time a process's threads spent runnable but waiting for a CPU (the run
// queue delay of /proc/PID/task/*/schedstat), seconds; -1 if unknown. On a
// shared machine this is what other load costs a run.
double run_delay_seconds(const std::string& pid) {
  std::error_code ec;
  double total = 0;
  bool any = false;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + pid + "/task", ec)) {
    std::ifstream in(task.path() / "schedstat");
    unsigned long long run = 0, wait = 0;
    if (in >> run >> wait) {
      total += double(wait) / 1e9;
      any = true;
    }
  }
  return any ? total : -1;
}

// ------------------------------------------------------------------ the node
struct Node {
  std::unique_ptr<coral::mesh::WireGuardTransport> transport;
  std::string ipv4, ipv6;

  std::string stats_line() const {
    const auto s = transport->stack_stats();
    char line[512];
    std::snprintf(line, sizeof line,
                  "packets_in=%" PRIu64 " packets_out=%" PRIu64 " bytes_in=%" PRIu64 " bytes_out=%" PRIu64
                  " packets_dropped=%" PRIu64 " retransmits=%" PRIu64 " receive_deferred=%" PRIu64,
                  s.packets_in, s.packets_out, s.bytes_in, s.bytes_out, s.packets_dropped, s.retransmits,
                  s.receive_deferred);
    return line;
  }
};

Node make_node(asio::io_context& io, const std::string& conf_path) {
  auto parsed = coral::wireguard::read_conf_file(conf_path);
  if (!parsed) {
    std::cerr << "coral-mesh-bench: " << parsed.error().to_string() << "\n";
    std::exit(2);
  }
  auto& settings = parsed->settings;
  coral::mesh::WireGuardTransportOptions options;
  options.private_key = settings.interface.private_key;
  options.listen_port = settings.interface.listen_port;
  options.mtu = settings.interface.mtu;
  for (const auto& address : settings.interface.addresses) {
    if (address.address.is_ipv4() && options.ipv4.empty()) options.ipv4 = address.address.to_string();
    if (address.address.is_ipv6() && options.ipv6.empty()) options.ipv6 = address.address.to_string();
  }
  if (options.ipv4.empty() && options.ipv6.empty()) usage_error(conf_path + ": no Address in [Interface]");
  Node node;
  node.ipv4 = options.ipv4;
  node.ipv6 = options.ipv6;
  auto transport = coral::mesh::make_userspace_transport(io, std::move(options));
  if (!transport) {
    std::cerr << "coral-mesh-bench: " << transport.error() << "\n";
    std::exit(1);
  }
  node.transport = std::move(*transport);
  if (auto set = node.transport->set_peers(settings.peers); !set) {
    std::cerr << "coral-mesh-bench: peers: " << set.error() << "\n";
    std::exit(1);
  }
  std::cerr << "mesh node " << node.ipv4 << " " << node.ipv6 << " on UDP " << node.transport->listen_port() << ", "
            << settings.peers.size() << " peer(s)\n";
  return node;
}

std::vector<std::unique_ptr<net::Listener>> listen_all(Node& node, std::uint16_t port) {
  std::vector<std::unique_ptr<net::Listener>> listeners;
  for (const std::string& address : {node.ipv4, node.ipv6}) {
    if (address.empty()) continue;
    auto listener = node.transport->listen(address, port);
    if (!listener) {
      std::cerr << "coral-mesh-bench: " << net::describe_listen_error(address, port, listener.error()) << "\n";
      std::exit(1);
    }
    listeners.push_back(std::move(*listener));
  }
  return listeners;
}

// Reads exactly `buffer.size()` bytes.
net::Awaitable<std::error_code> read_exact(net::ByteStream& stream, std::span<std::byte> buffer) {
  std::size_t got = 0;
  while (got < buffer.size()) {
    auto n = co_await stream.read_some(buffer.subspan(got));
    if (!n) co_return n.error();
    got += *n;
  }
  co_return std::error_code();
}

void put_be(std::byte* out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, value >>= 8) out[i] = std::byte(value & 0xff);
}
std::uint64_t get_be(const std::byte* in, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | std::uint64_t(in[i]);
  return value;
}

constexpr std::size_t kChunk = 128 * 1024;

// Streams zeros until a write fails (the other end closed).
net::Awaitable<void> stream_out(std::shared_ptr<net::ByteStream> stream, std::shared_ptr<bool> stop) {
  std::vector<std::byte> zeros(kChunk);
  while (!*stop) {
    if (co_await stream->write(zeros)) break;
  }
}

struct Counted {
  std::uint64_t bytes = 0;
  double seconds = 0;
  std::error_code error;
};

// Reads for `duration` from the first byte on (bytes already read before
// are not counted); stops early on an error.
net::Awaitable<Counted> count_in(net::ByteStream& stream, std::chrono::milliseconds duration) {
  std::vector<std::byte> buffer(256 * 1024);
  Counted counted;
  std::optional<Clock::time_point> first;
  while (true) {
    auto n = co_await stream.read_some(buffer);
    const auto now = Clock::now();
    if (!n) {
      counted.error = n.error();
      break;
    }
    if (!first) {
      first = now;
      continue;  // the clock starts with this read; its bytes are not timed
    }
    counted.bytes += *n;
    if (now - *first >= duration) break;
  }
  if (first) counted.seconds = std::chrono::duration<double>(Clock::now() - *first).count();
  co_return counted;
}

// ------------------------------------------------------------------ bulk-serve
net::Awaitable<void> serve_bulk_connection(std::shared_ptr<net::ByteStream> stream) {
  std::array<std::byte, 5> header{};
  if (co_await read_exact(*stream, header)) co_return;
  const auto duration = std::chrono::milliseconds(get_be(header.data() + 1, 4));
  if (header[0] == std::byte('U')) {
    auto counted = co_await count_in(*stream, duration);
    if (counted.error) co_return;
    std::array<std::byte, 16> reply{};
    put_be(reply.data(), counted.bytes, 8);
    put_be(reply.data() + 8, std::uint64_t(counted.seconds * 1e6), 8);
    if (co_await stream->write(reply)) co_return;
    // Discard until the client closes: closing with unread data would reset
    // the connection before the reply arrives.
    std::vector<std::byte> sink(256 * 1024);
    while (true) {
      auto n = co_await stream->read_some(sink);
      if (!n) break;
    }
  } else if (header[0] == std::byte('D')) {
    auto stop = std::make_shared<bool>(false);
    co_await stream_out(stream, stop);
  }
  stream->close();
}

net::Awaitable<void> accept_bulk(std::unique_ptr<net::Listener> listener) {
  while (true) {
    auto stream = co_await listener->accept();
    if (!stream) co_return;
    std::shared_ptr<net::ByteStream> shared(std::move(*stream));
    asio::co_spawn(co_await asio::this_coro::executor, serve_bulk_connection(std::move(shared)), asio::detached);
  }
}

// Runs `io` until SIGTERM/SIGINT; SIGUSR1 prints the node's stats.
void run_server(asio::io_context& io, Node& node) {
  asio::signal_set stop(io, SIGTERM, SIGINT);
  stop.async_wait([&](boost::system::error_code, int) { io.stop(); });
  asio::signal_set usr1(io, SIGUSR1);
  std::function<void(boost::system::error_code, int)> on_usr1 = [&](boost::system::error_code error, int) {
    if (error) return;
    std::printf("stats: %s cpu_s=%.3f\n", node.stats_line().c_str(), cpu_seconds_self());
    std::fflush(stdout);
    usr1.async_wait(on_usr1);
  };
  usr1.async_wait(on_usr1);
  std::printf("ready\n");
  std::fflush(stdout);
  io.run();
  std::printf("stats: %s cpu_s=%.3f\n", node.stats_line().c_str(), cpu_seconds_self());
}

int bulk_serve(const Args& args) {
  asio::io_context io(1);
  Node node = make_node(io, args.conf);
  for (auto& listener : listen_all(node, args.port ? args.port : 9001))
    asio::co_spawn(io, accept_bulk(std::move(listener)), asio::detached);
  run_server(io, node);
  return 0;
}

// ------------------------------------------------------------------ bulk
net::Awaitable<std::string> bulk_client(Node& node, const Args& args, Counted& result) {
  const net::Target target{args.target, args.port ? args.port : std::uint16_t(9001)};
  auto dialer = node.transport->dialer();
  auto dialed = co_await dialer(target);
  if (!dialed) co_return "dial " + target.authority() + ": " + dialed.error().message();
  std::shared_ptr<net::ByteStream> stream(std::move(*dialed));
  const auto duration = std::chrono::milliseconds(std::int64_t(args.seconds * 1000));
  std::array<std::byte, 5> header{};
  header[0] = std::byte(args.direction == "up" ? 'U' : 'D');
  put_be(header.data() + 1, std::uint64_t(duration.count()), 4);
  if (auto error = co_await stream->write(header)) co_return "write: " + error.message();
  if (args.direction == "up") {
    auto stop = std::make_shared<bool>(false);
    asio::co_spawn(co_await asio::this_coro::executor, stream_out(stream, stop), asio::detached);
    std::array<std::byte, 16> reply{};
    auto error = co_await read_exact(*stream, reply);
    *stop = true;
    stream->close();
    if (error) co_return "reading the server's count: " + error.message();
    result.bytes = get_be(reply.data(), 8);
    result.seconds = double(get_be(reply.data() + 8, 8)) / 1e6;
  } else {
    result = co_await count_in(*stream, duration);
    stream->close();
    if (result.error) co_return "read: " + result.error.message();
  }
  co_return std::string();
}

int bulk(const Args& args) {
  if (args.target.empty()) usage_error("bulk needs --target");
  if (args.direction != "up" && args.direction != "down") usage_error("--direction up|down");
  asio::io_context io(1);
  Node node = make_node(io, args.conf);
  Counted result;
  std::string error = "did not finish";
  const double cpu0 = cpu_seconds_self();
  const double wait0 = run_delay_seconds("self");
  // Once done, a moment for the close to leave (else the server retransmits
  // to a node that is gone).
  asio::steady_timer linger(io);
  asio::co_spawn(io, bulk_client(node, args, result), [&](std::exception_ptr thrown, std::string outcome) {
    error = thrown ? "threw" : outcome;
    linger.expires_after(std::chrono::milliseconds(300));
    linger.async_wait([&](boost::system::error_code) { io.stop(); });
  });
  asio::steady_timer deadline(io, std::chrono::milliseconds(std::int64_t(args.seconds * 1000) + 60'000));
  deadline.async_wait([&](boost::system::error_code ec) {
    if (!ec) io.stop();
  });
  io.run();
  const double cpu = cpu_seconds_self() - cpu0;
  const double waited = run_delay_seconds("self") - wait0;
  if (!error.empty() || result.seconds <= 0) {
    std::cerr << "coral-mesh-bench: bulk " << args.direction << " to " << args.target << ": " << error << "\n";
    std::printf("stats: %s cpu_s=%.3f\n", node.stats_line().c_str(), cpu_seconds_self());
    return 1;
  }
  std::printf("bulk direction=%s target=%s bytes=%" PRIu64 " seconds=%.3f mbps=%.1f cpu_s=%.3f run_delay_s=%.3f\n",
              args.direction.c_str(), args.target.c_str(), result.bytes, result.seconds,
              double(result.bytes) * 8 / result.seconds / 1e6, cpu, waited);
  std::printf("stats: %s cpu_s=%.3f\n", node.stats_line().c_str(), cpu_seconds_self());
  return 0;
}

// ------------------------------------------------------------------ status-serve
class BenchColony final : public cv1::ColonyServiceHandler {
 public:
  rpc::Awaitable<rpc::Result<cv1::GetStatusResponse>> GetStatus(rpc::Context&, const cv1::GetStatusRequest&) override {
    cv1::GetStatusResponse status;
    status.set_colony_id("bench-colony-0001");
    status.set_app_name("coral-bench");
    status.set_environment("dev");
    status.set_status("running");
    status.mutable_started_at()->set_seconds(1735689600);
    status.set_uptime_seconds(86400);
    status.set_agent_count(3);
    status.set_mesh_ipv4("10.42.0.1");
    co_return status;
  }
};

int status_serve(const Args& args) {
  asio::io_context io(1);
  Node node = make_node(io, args.conf);
  BenchColony colony;
  rpc::Server rpc_server(io.get_executor());
  rpc_server.add(colony);
  coral::http::Server server(io, rpc_server);
  for (auto& listener : listen_all(node, args.port ? args.port : 9000)) server.add_listener(std::move(listener));
  server.start();
  run_server(io, node);
  return 0;
}

// ------------------------------------------------------------------ load
struct LoadState {
  Clock::time_point window_start, window_end, stop_at;
  std::vector<std::uint32_t> latencies_us;  // calls completed inside the window
  std::uint64_t completed_total = 0;
  std::uint64_t failures = 0;
  std::string first_failure;
  bool stopping = false;
};

net::Awaitable<void> load_worker(cv1::ColonyServiceClient& client, LoadState& state) {
  const rpc::CallOptions options{.timeout = std::chrono::seconds(10), .headers = {}};
  const cv1::GetStatusRequest request;
  while (!state.stopping) {
    const auto start = Clock::now();
    auto call = client.GetStatus(request, options);  // g++ 12: name the awaitable
    auto result = co_await std::move(call);
    const auto end = Clock::now();
    if (!result) {
      if (state.failures++ == 0)
        state.first_failure = std::string(rpc::to_string(result.error().code)) + ": " + result.error().message;
      state.stopping = true;  // a failure ends the run (exit status 1)
      co_return;
    }
    ++state.completed_total;
    if (start >= state.window_start && end <= state.window_end)
      state.latencies_us.push_back(
          std::uint32_t(std::chrono::duration_cast<std::chrono::microseconds>(end - start).count()));
  }
}

int load(const Args& args) {
  if (args.target.empty()) usage_error("load needs --target URL");
  auto url = coral::http::parse_url(args.target);
  if (!url) usage_error("--target: " + url.error());
  asio::io_context io(1);
  std::optional<Node> node;
  if (!args.conf.empty()) node.emplace(make_node(io, args.conf));

  std::vector<std::unique_ptr<rpc::HttpChannel>> channels;
  std::vector<std::unique_ptr<cv1::ColonyServiceClient>> clients;
  for (unsigned i = 0; i < args.connections; ++i) {
    rpc::ChannelOptions options{.url = *url,
                                .version = coral::http::Version::http2,
                                .encoding = rpc::Encoding::json,
                                .gzip_requests = false,
                                .max_message_bytes = 4 << 20,
                                .connect_timeout = std::chrono::seconds(10),
                                .dialer = node ? node->transport->dialer() : net::Dialer{}};
    channels.push_back(std::make_unique<rpc::HttpChannel>(io.get_executor(), std::move(options)));
    clients.push_back(std::make_unique<cv1::ColonyServiceClient>(*channels.back()));
  }

  // One call first (the WireGuard handshake, the first connection), then
  // every worker starts; the window begins after the warm-up.
  std::string first_error = "did not finish";
  asio::co_spawn(
      io,
      [&]() -> net::Awaitable<void> {
        const rpc::CallOptions options{.timeout = std::chrono::seconds(20), .headers = {}};
        const cv1::GetStatusRequest request;
        auto call = clients[0]->GetStatus(request, options);
        auto result = co_await std::move(call);
        if (result) {
          first_error.clear();
        } else {
          first_error = std::string(rpc::to_string(result.error().code)) + ": " + result.error().message;
        }
      },
      [&](std::exception_ptr) { io.stop(); });
  io.run();
  if (!first_error.empty()) {
    std::cerr << "coral-mesh-bench: the first GetStatus failed: " << first_error << "\n";
    return 1;
  }
  io.restart();

  LoadState state;
  const auto now = Clock::now();
  state.window_start = now + std::chrono::microseconds(std::int64_t(args.warmup * 1e6));
  state.window_end = state.window_start + std::chrono::microseconds(std::int64_t(args.seconds * 1e6));
  unsigned workers_left = args.connections * args.streams;
  // Once every worker is done: close the connections, and give the closes
  // a moment to leave (else the colony retransmits to a node that is gone).
  asio::steady_timer linger(io);
  for (auto& client : clients)
    for (unsigned s = 0; s < args.streams; ++s)
      asio::co_spawn(io, load_worker(*client, state), [&](std::exception_ptr thrown) {
        if (thrown && state.failures++ == 0) state.first_failure = "a worker threw";
        if (--workers_left > 0) return;
        asio::post(io, [&] {
          clients.clear();
          channels.clear();
          linger.expires_after(std::chrono::milliseconds(300));
          linger.async_wait([&](boost::system::error_code) { io.stop(); });
        });
      });

  double cpu0 = 0, cpu1 = 0, wait0 = 0, wait1 = 0;
  std::vector<long long> ticks0(args.cpu_pids.size()), ticks1(args.cpu_pids.size());
  std::vector<double> pid_wait0(args.cpu_pids.size()), pid_wait1(args.cpu_pids.size());
  asio::steady_timer window(io, state.window_start);
  window.async_wait([&](boost::system::error_code) {
    cpu0 = cpu_seconds_self();
    wait0 = run_delay_seconds("self");
    for (std::size_t i = 0; i < args.cpu_pids.size(); ++i) {
      ticks0[i] = cpu_ticks(args.cpu_pids[i]);
      pid_wait0[i] = run_delay_seconds(std::to_string(args.cpu_pids[i]));
    }
    window.expires_at(state.window_end);
    window.async_wait([&](boost::system::error_code) {
      cpu1 = cpu_seconds_self();
      wait1 = run_delay_seconds("self");
      for (std::size_t i = 0; i < args.cpu_pids.size(); ++i) {
        ticks1[i] = cpu_ticks(args.cpu_pids[i]);
        pid_wait1[i] = run_delay_seconds(std::to_string(args.cpu_pids[i]));
      }
      state.stopping = true;  // the workers finish their calls in flight
    });
  });
  asio::steady_timer deadline(io, state.window_end + std::chrono::seconds(30));
  deadline.async_wait([&](boost::system::error_code ec) {
    if (!ec) io.stop();
  });
  io.run();

  auto& lat = state.latencies_us;
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) -> std::uint32_t {
    if (lat.empty()) return 0;
    std::size_t k = std::size_t(p * double(lat.size()) + 0.999999);
    k = std::clamp<std::size_t>(k, 1, lat.size());
    return lat[k - 1];
  };
  const double n = double(lat.size());
  double mean = 0;
  for (auto v : lat) mean += v;
  mean = lat.empty() ? 0 : mean / n;
  const double tick_us = 1e6 / double(sysconf(_SC_CLK_TCK));
  std::printf("load c=%u m=%u window_s=%.3f completed=%zu rps=%.0f mean_us=%.0f p50_us=%u p90_us=%u p99_us=%u "
              "max_us=%u failures=%" PRIu64 " client_cpu_us_per_req=%.1f client_cpu_pct=%.0f client_wait_pct=%.0f",
              args.connections, args.streams, args.seconds, lat.size(), n / args.seconds, mean, pct(.5), pct(.9),
              pct(.99), lat.empty() ? 0 : lat.back(), state.failures, n > 0 ? (cpu1 - cpu0) * 1e6 / n : 0.0,
              (cpu1 - cpu0) * 100 / args.seconds, (wait1 - wait0) * 100 / args.seconds);
  for (std::size_t i = 0; i < args.cpu_pids.size(); ++i) {
    const bool ok = ticks0[i] >= 0 && ticks1[i] >= 0 && n > 0;
    if (ok)
      std::printf(" pid%d_cpu_us_per_req=%.1f pid%d_wait_pct=%.0f", args.cpu_pids[i],
                  double(ticks1[i] - ticks0[i]) * tick_us / n, args.cpu_pids[i],
                  (pid_wait1[i] - pid_wait0[i]) * 100 / args.seconds);
    else
      std::printf(" pid%d_cpu_us_per_req=-", args.cpu_pids[i]);
  }
  std::printf("\n");
  if (node) std::printf("stats: %s cpu_s=%.3f\n", node->stats_line().c_str(), cpu_seconds_self());
  if (state.failures) {
    std::cerr << "coral-mesh-bench: " << state.failures << " failed calls; first: " << state.first_failure << "\n";
    return 1;
  }
  if (lat.empty()) {
    std::cerr << "coral-mesh-bench: no call completed in the window\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  Args args;
  std::vector<std::string_view> rest(argv + 1, argv + argc);
  auto value = [&](std::size_t& i) -> std::string {
    if (i + 1 >= rest.size()) usage_error(std::string(rest[i]) + " needs a value");
    return std::string(rest[++i]);
  };
  auto number = [&](std::size_t& i) -> double {
    const std::string text = value(i);
    try {
      std::size_t used = 0;
      const double v = std::stod(text, &used);
      if (used != text.size() || v < 0) throw std::invalid_argument(text);
      return v;
    } catch (const std::exception&) {
      usage_error(std::string(rest[i - 1]) + ": not a number: " + text);
    }
  };
  for (std::size_t i = 0; i < rest.size(); ++i) {
    const auto arg = rest[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--conf") {
      args.conf = value(i);
    } else if (arg == "--target") {
      args.target = value(i);
    } else if (arg == "--port") {
      args.port = std::uint16_t(number(i));
    } else if (arg == "--direction") {
      args.direction = value(i);
    } else if (arg == "--seconds") {
      args.seconds = number(i);
    } else if (arg == "--warmup") {
      args.warmup = number(i);
    } else if (arg == "-c") {
      args.connections = unsigned(number(i));
    } else if (arg == "-m") {
      args.streams = unsigned(number(i));
    } else if (arg == "--cpu-pid") {
      args.cpu_pids.push_back(int(number(i)));
    } else if (args.command.empty() && !arg.starts_with("-")) {
      args.command = std::string(arg);
    } else {
      usage_error("unknown argument " + std::string(arg));
    }
  }
  if (args.seconds <= 0) usage_error("--seconds must be > 0");
  if (args.connections == 0 || args.streams == 0) usage_error("-c and -m must be >= 1");
  if (args.command != "load" && args.conf.empty() && !args.command.empty()) usage_error(args.command + " needs --conf");
  if (args.command == "bulk-serve") return bulk_serve(args);
  if (args.command == "bulk") return bulk(args);
  if (args.command == "status-serve") return status_serve(args);
  if (args.command == "load") return load(args);
  usage_error(args.command.empty() ? "no command" : "unknown command " + args.command);
}
