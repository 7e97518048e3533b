#pragma once
// The device's UDP socket: WireGuard's outer packets to and from peers, in
// batches (recvmmsg / sendmmsg: one system call per batch, not per packet)
// and with socket buffers sized for bursts. With the default 208 KiB
// receive buffer, every TCP retransmit measured over Debian's wireguard-go
// was a UDP receive-buffer drop (shared/anchors/wireguard-go/README.md).
//
// One socket serves both families: an IPv6 socket with IPV6_V6ONLY off, so
// that IPv4 peers arrive as ::ffff:a.b.c.d. That form stops here: sources
// handed out are canonical (IPv4 as IPv4, wireguard/endpoint.h), and IPv4
// destinations are mapped on the way out.
//
// Threading: the socket lives on one io_context; call everything on its
// thread, and destroy the socket before the io_context.

#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "wireguard/endpoint.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace coral::wireguard::device {

enum class UdpFamily : std::uint8_t {
  // An IPv6 socket that takes IPv4 peers too; on a host without IPv6, an
  // IPv4 socket (family() tells which one was opened).
  dual_stack,
  // An IPv4 socket, for hosts whose IPv6 is disabled or unwanted.
  ipv4_only,
};
std::string_view to_string(UdpFamily family);

struct UdpSocketOptions {
  // 0: any free port (port() reports the one bound).
  std::uint16_t port = 0;
  UdpFamily family = UdpFamily::dual_stack;
  // Bind ::1 (dual_stack; IPv4 peers then cannot reach it) or 127.0.0.1
  // (ipv4_only) instead of every address: for tests.
  bool loopback_only = false;
  // Socket buffer sizes to ask for, in the units of setsockopt(SO_RCVBUF)
  // (the kernel reserves twice as much for bookkeeping). Asked with
  // SO_RCVBUFFORCE / SO_SNDBUFFORCE, which need CAP_NET_ADMIN and ignore
  // net.core.rmem_max / wmem_max; without it, the plain options, which the
  // kernel caps at those sysctls. 0 or less: the system default.
  int receive_buffer_bytes = 8 << 20;
  int send_buffer_bytes = 8 << 20;
  // SO_MARK for routing policy (wg's fwmark); 0: none. See set_fwmark().
  std::uint32_t fwmark = 0;
  // Datagrams per recvmmsg / sendmmsg call.
  std::size_t batch_size = 64;
  // Receive buffer per datagram. Larger datagrams are truncated by the
  // kernel, then dropped and counted (receive_truncated). WireGuard's
  // largest message is a transport message of MTU + 32 bytes.
  std::size_t max_datagram_bytes = 2048;
  // Batches handed to the receive handler per readiness wake-up, before the
  // socket yields to the event loop's other work (the TUN device).
  std::size_t max_batches_per_wakeup = 16;
  // Datagrams copied aside while the kernel's send buffer is full; beyond
  // this, send() drops them (send_dropped).
  std::size_t max_queued_datagrams = 4096;
};

enum class UdpErrorCode : std::uint8_t {
  // Another socket is bound to the port.
  address_in_use,
  // Binding was refused (a port below 1024 without CAP_NET_BIND_SERVICE, or
  // a security policy), or setting a fwmark without CAP_NET_ADMIN.
  permission_denied,
  // socket(), setsockopt() or bind() failed otherwise; the message has the
  // system's reason.
  system,
};
std::string_view to_string(UdpErrorCode code);

struct UdpError {
  UdpErrorCode code = UdpErrorCode::system;
  // For people: what failed and, where there is one, what to do, e.g.
  // "UDP port 51820 is already in use (is another WireGuard device
  // listening on it? choose another ListenPort)".
  std::string message;
};

struct ReceivedDatagram {
  // Canonical (an IPv4 peer is an IPv4 endpoint, never ::ffff:a.b.c.d).
  Endpoint source;
  // Inside the socket's receive batch; valid until the handler returns. The
  // handler may write into it (decrypt in place).
  std::span<std::uint8_t> data;
};

struct OutgoingDatagram {
  // IPv4, IPv6 or IPv4-mapped IPv6.
  Endpoint destination;
  // The caller's; send() copies what it cannot send at once.
  std::span<const std::uint8_t> data;
};

// What send() did with each datagram; the four add up to the number given.
struct SendResult {
  // Handed to the kernel.
  std::size_t sent = 0;
  // Copied aside because the send buffer was full; they go out, in order,
  // when the socket becomes writable (or fail then, and are counted in
  // UdpStats).
  std::size_t queued = 0;
  // Refused by the kernel (unreachable network, port 0, IPv6 destination on
  // an IPv4 socket, ...): dropped. The others went on regardless.
  std::size_t failed = 0;
  // Dropped because the queue was full or the socket closed.
  std::size_t dropped = 0;
};

// Running totals, for logs and tests.
struct UdpStats {
  std::uint64_t datagrams_received = 0;
  std::uint64_t datagrams_sent = 0;
  // Longer than max_datagram_bytes: dropped.
  std::uint64_t receive_truncated = 0;
  // recvmmsg failures other than "nothing to read".
  std::uint64_t receive_errors = 0;
  std::uint64_t send_failed = 0;
  std::uint64_t send_dropped = 0;
  // errno of the latest failed datagram (0: none yet).
  int last_send_errno = 0;
};

class UdpSocket {
 public:
  // Called with the datagrams of one recvmmsg call (one or more). The
  // handler may call send() and close(), and may even destroy the socket.
  using ReceiveHandler = std::function<void(std::span<ReceivedDatagram> datagrams)>;

  // Opens and binds the socket; it receives nothing until start(). Logs a
  // warning when the buffers come out smaller than asked (without
  // CAP_NET_ADMIN, raise net.core.rmem_max / wmem_max).
  static std::expected<std::unique_ptr<UdpSocket>, UdpError> open(boost::asio::io_context& io,
                                                                  const UdpSocketOptions& options);
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  // Closes (see close()).
  ~UdpSocket();

  std::uint16_t port() const;
  // The family of the socket actually opened (see UdpFamily::dual_stack).
  UdpFamily family() const;
  // The buffer sizes in effect, in the units of receive_buffer_bytes (half
  // of what getsockopt reports).
  int receive_buffer_bytes() const;
  int send_buffer_bytes() const;

  // Sets (or, with 0, clears) the socket's SO_MARK, as `wg set fwmark`
  // does; needs CAP_NET_ADMIN. The error names the mark and the reason.
  std::expected<void, UdpError> set_fwmark(std::uint32_t mark);

  // Starts receiving: each time the socket becomes readable, batches go to
  // `handler` until the socket is drained or max_batches_per_wakeup is
  // reached. Call once.
  void start(ReceiveHandler handler);

  // Sends the datagrams in order with as few system calls as the batch size
  // allows; never blocks. A datagram the kernel refuses is dropped and the
  // rest still go. When the kernel's send buffer is full, the rest are
  // queued (copied) and sent when the socket becomes writable; datagrams
  // sent while a queue exists join its end, so the order holds.
  SendResult send(std::span<const OutgoingDatagram> datagrams);
  // Datagrams waiting for the socket to become writable. A caller can stop
  // reading its own input while this is high.
  std::size_t queued() const;

  const UdpStats& stats() const;

  // Closes the socket: no handler call after this returns, queued datagrams
  // are dropped, send() drops everything. Idempotent.
  void close();

 private:
  struct Impl;
  explicit UdpSocket(std::shared_ptr<Impl> impl);
  // Shared with the pending waits, which may outlive this object.
  std::shared_ptr<Impl> impl_;
};

}  // namespace coral::wireguard::device
