#pragma once
// A userspace TCP/IP stack (docs/netstack.md): one point-to-point interface
// with a mesh IPv4 and/or IPv6 address, whose IP packets come from and go
// to a WireGuard device (packet_interface()), and whose TCP connections are
// net/'s streams, listeners and dialers. Answers ICMP and ICMPv6 echo;
// forwards nothing.
//
// lwIP underneath, compiled with coral's options (src/netstack/lwip). All
// stacks of a process share one lwIP core and run on one io_context's
// thread, the WireGuard device's: no thread of their own, no hand-off
// between threads. Connections are bound to their stack's interface, so
// two stacks may hold the same addresses (two colonies on 10.42.0.0/16).
//
// Bounded: connections, half-open connections and received-but-unread
// bytes are capped per stack and per peer (remote address); what is
// refused is counted in stats().

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <system_error>

#include <boost/asio/io_context.hpp>

#include "net/dialer.h"
#include "net/stream.h"
#include "wireguard/device/packet_interface.h"

namespace coral::netstack {

using Packet = wireguard::device::Packet;

struct StackLimits {
  std::size_t max_connections = 1024;             // established + half-open, accepted ones
  std::size_t max_half_open = 256;                // SYN received, handshake not complete
  std::size_t max_connections_per_peer = 64;
  std::size_t max_half_open_per_peer = 16;
  std::size_t max_buffered_bytes = 256u << 20;    // received, not yet read by the application
  std::size_t max_buffered_bytes_per_peer = 32u << 20;
  // Per listener: half-open, or established and not yet accept()ed (at most
  // 255); beyond it, SYNs are dropped and the peer retries.
  std::size_t listen_backlog = 128;
};

struct StackOptions {
  std::string ipv4;   // "10.42.0.1"; empty: none
  std::string ipv6;   // "fd42::1"; empty: none
  // A second IPv6 address, link-local (fe80::/10): a member's registration
  // address before it has mesh addresses (mesh/registration_address.h).
  // Used only by dialer_from(); empty: none. See set_link_local().
  std::string link_local;
  // Non-zero: packets from link-local sources reach only this TCP port
  // (restrict_link_local()). 0: no restriction.
  std::uint16_t link_local_tcp_port = 0;
  std::size_t mtu = 1420;
  std::chrono::milliseconds connect_timeout{5000};
  StackLimits limits;
};

struct StackStats {
  std::uint64_t packets_in = 0;   // handed to the stack
  std::uint64_t packets_out = 0;  // emitted by the stack
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t packets_dropped = 0;          // malformed, not ours, bad checksum (lwIP's counters)
  std::uint64_t connections_refused = 0;      // a cap on connections was reached
  std::uint64_t half_open_refused = 0;        // a cap on half-open connections was reached
  std::uint64_t receive_deferred = 0;         // data held back: a cap on buffered bytes was reached
  std::uint64_t retransmits = 0;              // TCP segments sent again (sequence space sent before)
  std::uint64_t restricted_dropped = 0;       // from a link-local source, not TCP to the allowed port
  std::size_t connections = 0;                // now, accepted and dialed
  std::size_t half_open = 0;                  // now
  std::size_t buffered_bytes = 0;             // now
};

class Stack {
 public:
  // A stack on `io` (the WireGuard device's). Errors: not_an_ip_address for
  // an address that is not an IPv4 (ipv4) or IPv6 (ipv6) literal;
  // std::errc::resource_unavailable_try_again when the process's stacks run
  // on another io_context.
  static std::expected<std::shared_ptr<Stack>, std::error_code> create(boost::asio::io_context& io,
                                                                       StackOptions options);
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  // The stack as the WireGuard device's packet interface: the device writes
  // the packets peers sent into the stack and sends what the stack emits.
  // The interface keeps the stack alive.
  std::unique_ptr<wireguard::device::PacketInterface> packet_interface();

  // For tests and tools without a device: packets in, and where packets
  // out go (one call per batch; the spans are valid during the call).
  using Output = std::function<void(std::span<const Packet> packets)>;
  void set_output(Output output);
  void input(std::span<const Packet> packets);

  // Listens on one of the stack's addresses (or "0.0.0.0" / "::": both
  // of that family's) at `port` (0: a free one). Errors: not_an_ip_address;
  // net::Errc::mesh_address_not_local (not an address of this stack);
  // std::errc::address_in_use.
  std::expected<std::unique_ptr<net::Listener>, std::error_code> listen(const std::string& address,
                                                                       std::uint16_t port);
  // Opens connections from the stack's address of the target's family.
  // The target's host must be an IP literal (not_an_ip_address);
  // no_address_of_family when the stack has none of that family;
  // connect_timed_out; std::errc::connection_refused on a reset.
  // The link-local address is never chosen here (dialer_from() uses it).
  net::Dialer dialer();
  // As dialer(), with `source` as the connections' local address: one of
  // the stack's addresses (IPv4, IPv6 or link-local) when the dial starts,
  // else net::Errc::source_address_not_local; no_address_of_family when
  // the target's family is not the source's. A source that goes away
  // later ends its connections (set_addresses, set_link_local).
  net::Dialer dialer_from(const std::string& source);

  // Changes the stack's addresses (a proxy's, once registered). Open
  // connections on an address that goes away are reset.
  std::error_code set_addresses(const std::string& ipv4, const std::string& ipv6);
  std::string ipv4() const;
  std::string ipv6() const;

  // Sets the link-local address (StackOptions::link_local; "" removes it).
  // set_addresses() leaves it alone. Connections bound to an address that
  // goes away are reset. Errors: not_an_ip_address for what is not an IPv6
  // literal; std::errc::invalid_argument for one outside fe80::/10.
  std::error_code set_link_local(const std::string& address);
  std::string link_local() const;

  // With `tcp_port` non-zero, an IPv6 packet from a link-local source
  // (fe80::/10) is taken only when it is TCP (no extension headers) to
  // `tcp_port`; anything else from such a source (ICMPv6 echo, other
  // ports, other protocols, extension headers) is dropped before the
  // TCP/IP stack sees it, without an answer, and counted in
  // stats().restricted_dropped. 0 lifts the restriction. A colony's stack
  // uses it so that provisional peers, whose WireGuard AllowedIPs are their
  // registration address, reach its registration port and nothing else.
  void restrict_link_local(std::uint16_t tcp_port);

  StackStats stats() const;

  // Resets every connection, closes every listener and stops taking and
  // emitting packets. The destructor closes too.
  void close();

  struct Impl;

 private:
  explicit Stack(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace coral::netstack
