// The userspace stack against the Linux kernel's TCP/IP, with no WireGuard
// in between: in a network namespace made for the test, a TUN device holds
// the kernel's side (10.42.0.2, fd42::2) and the stack (10.42.0.1, fd42::1)
// reads and writes its packets. Kernel sockets connect to the stack's
// listeners and the stack dials kernel listeners; transfers both ways over
// both families, ping of the stack's addresses, and no spurious
// retransmission in either direction (the kernel sees no duplicate segment:
// its D-SACK counters stay 0; it retransmits nothing itself).
//
// Needs root (a network namespace and a TUN device); skips otherwise.

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "bounded_io.h"
#include "stream_helpers.h"
#include "net_namespace.h"
#include "netstack/stack.h"
#include "wireguard/device/tun_linux.h"

namespace coral::netstack {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using coral::testing::run;
using coral::testing::run_until;
using coral::testing::Bytes;
using coral::testing::pattern;
using coral::testing::read_exactly;
using coral::testing::serve_echo;

// TcpExt counters of this namespace (/proc/net/netstat).
std::map<std::string, long> tcp_ext() {
  std::ifstream in("/proc/net/netstat");
  std::string names, values;
  std::map<std::string, long> out;
  while (std::getline(in, names) && std::getline(in, values)) {
    if (!names.starts_with("TcpExt:")) continue;
    std::istringstream n(names), v(values);
    std::string name, value;
    n >> name;
    v >> value;
    while (n >> name && v >> value) out[name] = std::stol(value);
  }
  return out;
}

// Packets the TUN device's queue dropped (the kernel's side of it).
long tun_dropped() {
  std::ifstream in("/sys/class/net/cnsk0/statistics/tx_dropped");
  long value = 0;
  in >> value;
  return value;
}

long duplicates_seen(const std::map<std::string, long>& before, const std::map<std::string, long>& after) {
  long total = 0;
  for (const char* name : {"TCPDSACKOldSent", "TCPDSACKOfoSent"}) total += after.at(name) - before.at(name);
  return total;
}

class KernelInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!coral::testing::can_make_network_namespaces()) GTEST_SKIP() << coral::testing::kNeedsNetworkPrivileges;
    if (auto error = coral::testing::enter_fresh_network_namespace()) GTEST_SKIP() << *error;
    wireguard::device::TunOptions options;
    options.name = "cnsk0";
    options.mtu = 1420;
    options.addresses = {wireguard::InterfaceAddress::parse("10.42.0.2/16").value(),
                         wireguard::InterfaceAddress::parse("fd42::2/64").value()};
    auto tun = wireguard::device::TunDevice::open(io, options);
    ASSERT_TRUE(tun) << tun.error().message;
    tun_ = std::move(*tun);
    StackOptions stack_options;
    stack_options.ipv4 = "10.42.0.1";
    stack_options.ipv6 = "fd42::1";
    auto stack = Stack::create(io, stack_options);
    ASSERT_TRUE(stack);
    stack_ = *stack;
    // The kernel's packets into the stack; the stack's into the kernel.
    tun_->start([this](std::span<const Packet> packets) { stack_->input(packets); });
    stack_->set_output([this](std::span<const Packet> packets) { tun_->write(packets); });
  }
  void TearDown() override {
    if (stack_) stack_->close();
    if (tun_) tun_->close();
  }

  asio::io_context io{1};
  std::unique_ptr<wireguard::device::TunDevice> tun_;
  std::shared_ptr<Stack> stack_;
};

net::Awaitable<void> write_all(tcp::socket& socket, const Bytes& data, bool& wrote) {
  boost::system::error_code error;
  co_await asio::async_write(socket, asio::buffer(data), asio::redirect_error(asio::use_awaitable, error));
  wrote = !error;
}

// A kernel socket writes `data` to host:port and reads the echo, at once.
net::Awaitable<std::pair<Bytes, std::string>> kernel_echo(std::string host, std::uint16_t port, const Bytes& data,
                                                          tcp_info* info) {
  auto executor = co_await asio::this_coro::executor;
  tcp::socket socket(executor);
  boost::system::error_code ec;
  const tcp::endpoint endpoint(asio::ip::make_address(host), port);
  co_await socket.async_connect(endpoint, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return std::pair{Bytes{}, "connect: " + ec.message()};
  socket.set_option(tcp::no_delay(true));
  bool wrote = false;
  asio::co_spawn(executor, write_all(socket, data, wrote), asio::detached);
  Bytes echoed(data.size());
  co_await asio::async_read(socket, asio::buffer(echoed), asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return std::pair{Bytes{}, "read: " + ec.message()};
  socklen_t length = sizeof *info;
  getsockopt(socket.native_handle(), IPPROTO_TCP, TCP_INFO, info, &length);
  co_return std::pair{echoed, wrote ? std::string() : std::string("write did not finish")};
}

TEST_F(KernelInterop, KernelClientsEchoThroughTheStackOverBothFamilies) {
  auto v4 = stack_->listen("10.42.0.1", 9000);
  auto v6 = stack_->listen("fd42::1", 9000);
  ASSERT_TRUE(v4 && v6);
  asio::co_spawn(io, serve_echo(**v4), asio::detached);
  asio::co_spawn(io, serve_echo(**v6), asio::detached);
  const Bytes data = pattern(16 << 20, 1);
  for (const char* host : {"10.42.0.1", "fd42::1"}) {
    const auto before = tcp_ext();
    const long dropped_before = tun_dropped();
    tcp_info info{};
    const auto started = std::chrono::steady_clock::now();
    auto result = run(io, kernel_echo(host, 9000, data, &info));
    const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    ASSERT_TRUE(result) << host;
    EXPECT_EQ(result->second, "") << host;
    EXPECT_TRUE(result->first == data) << host << ": the echo differs";
    // The kernel retransmits nothing the stack should have acknowledged:
    // no timeout, no fast retransmit (which duplicate ACKs from the stack
    // would cause). What it may send again: a tail-loss probe, when this
    // process did not get the CPU for a few milliseconds on a busy machine
    // (its probe timer is 2 RTTs plus 2 jiffies), and what the TUN
    // device's queue dropped meanwhile.
    const auto now = tcp_ext();
    const long probes = now.at("TCPLossProbes") - before.at("TCPLossProbes");
    const long timeouts = now.at("TCPTimeouts") - before.at("TCPTimeouts");
    const long fast = now.at("TCPFastRetrans") - before.at("TCPFastRetrans");
    const long queue_drops = tun_dropped() - dropped_before;
    EXPECT_EQ(timeouts, 0) << host << ": the kernel timed out waiting for the stack's ACKs";
    EXPECT_LE(static_cast<long>(info.tcpi_total_retrans), probes + queue_drops + fast)
        << host << ": retransmissions the probes, drops and fast retransmits do not explain";
    EXPECT_LE(fast, queue_drops) << host << ": fast retransmits with nothing lost";
    std::printf("# %s: kernel retransmissions %u (loss probes %ld, fast %ld, TUN queue drops %ld)\n", host,
                info.tcpi_total_retrans, probes, fast, queue_drops);
    const auto after = tcp_ext();
    EXPECT_EQ(duplicates_seen(before, after), 0)
        << host << ": the stack sent segments twice (D-SACK old " << after.at("TCPDSACKOldSent") - before.at("TCPDSACKOldSent")
        << ", out of order " << after.at("TCPDSACKOfoSent") - before.at("TCPDSACKOfoSent") << "; TUN write errors "
        << tun_->stats().write_errors << ", kernel receive queue drops "
        << after.at("TCPRcvQDrop") - before.at("TCPRcvQDrop") << ", backlog drops "
        << after.at("TCPBacklogDrop") - before.at("TCPBacklogDrop") << ", OFO queue "
        << after.at("TCPOFOQueue") - before.at("TCPOFOQueue") << ")";
    EXPECT_GT(info.tcpi_snd_wscale, 0) << "window scaling agreed";
    std::printf("# %s: 16 MiB each way in %.3f s (%.0f Mbit/s each way), kernel's MSS %u, RTT %u us\n", host,
                seconds, 16 * 8 * 1.048576 / seconds, info.tcpi_snd_mss, info.tcpi_rtt);
  }
}

net::Awaitable<std::string> dial_and_exchange(net::Dialer dialer, const Bytes& data) {
  const net::Target target{"fd42::2", 9100};
  auto stream = co_await dialer(target);
  if (!stream) co_return "dial: " + stream.error().message();
  if (auto error = co_await (*stream)->write(std::as_bytes(std::span(data)))) co_return "write: " + error.message();
  const Bytes back = co_await read_exactly(**stream, data.size());
  co_return back == data ? std::string() : "echo differs (" + std::to_string(back.size()) + " bytes)";
}

TEST_F(KernelInterop, TheStackDialsKernelListeners) {
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("fd42::2"), 9100));
  const Bytes data = pattern(4 << 20, 2);
  std::optional<Bytes> received;
  // The kernel side reads everything, then answers with the same bytes.
  std::thread kernel([&] {
    boost::system::error_code ec;
    tcp::socket peer = acceptor.accept(ec);
    if (ec) return;
    Bytes in(data.size());
    asio::read(peer, asio::buffer(in), ec);
    if (!ec) asio::write(peer, asio::buffer(in), ec);
    received = in;
  });
  const auto before = tcp_ext();
  auto result = run(io, dial_and_exchange(stack_->dialer(), data));
  kernel.join();
  ASSERT_TRUE(result);
  EXPECT_EQ(*result, "");
  ASSERT_TRUE(received);
  EXPECT_TRUE(*received == data);
  EXPECT_EQ(duplicates_seen(before, tcp_ext()), 0) << "the stack sent segments twice";
}

TEST_F(KernelInterop, TheKernelPingsTheStack) {
  // ping(8) in this namespace (a child inherits the test thread's).
  for (const char* address : {"10.42.0.1", "fd42::1"}) {
    std::optional<int> status;
    std::thread child([&] {
      const std::string command = std::string("ping -n -q -c 3 -i 0.2 -W 2 ") + address + " >/dev/null 2>&1";
      status = std::system(command.c_str());
    });
    // The stack answers on the io_context: run it while ping waits.
    run_until(io, [&] { return status.has_value(); }, 10s);
    child.join();
    ASSERT_TRUE(status);
    EXPECT_EQ(*status, 0) << "ping " << address;
  }
}

}  // namespace
}  // namespace coral::netstack
