#include "wireguard/device/udp_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "base/log.h"

namespace coral::wireguard::device {
namespace {

// The kernel's limit on messages per sendmmsg / recvmmsg call (UIO_MAXIOV).
constexpr std::size_t kMaxBatch = 1024;

// UDP segmentation offload (Linux 4.18+) and receive coalescing (5.0+):
// one send carries up to kMaxSegments datagrams of one size (the last may
// be shorter) to one destination, and one receive may return up to as many
// coalesced ones. Either cuts the kernel's per-datagram work (routing,
// socket buffer accounting, the veth or NIC hop) to once per group.
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
constexpr std::size_t kMaxSegments = 64;
// A UDP payload over IPv4 is at most 65507 bytes: a group stays below.
constexpr std::size_t kMaxGroupBytes = 65000;
constexpr std::size_t kCoalescedBufferBytes = 65536;

std::string errno_text(int error) { return std::strerror(error); }

// A datagram address as the kernel takes it, or nullopt when this socket
// cannot send there (IPv6 on an IPv4 socket).
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

bool to_socket_address(const Endpoint& destination, int socket_family, SocketAddress& out) {
  const Endpoint endpoint = canonical(destination);
  if (socket_family == AF_INET6) {
    auto* address = reinterpret_cast<sockaddr_in6*>(&out.storage);
    *address = sockaddr_in6{};
    address->sin6_family = AF_INET6;
    address->sin6_port = htons(endpoint.port);
    if (endpoint.address.is_ipv4()) {
      // ::ffff:a.b.c.d, the dual-stack socket's spelling of an IPv4 peer.
      address->sin6_addr.s6_addr[10] = 0xff;
      address->sin6_addr.s6_addr[11] = 0xff;
      std::copy_n(endpoint.address.bytes.begin(), 4, &address->sin6_addr.s6_addr[12]);
    } else {
      std::copy_n(endpoint.address.bytes.begin(), 16, address->sin6_addr.s6_addr);
    }
    out.length = sizeof(sockaddr_in6);
    return true;
  }
  if (!endpoint.address.is_ipv4()) return false;
  auto* address = reinterpret_cast<sockaddr_in*>(&out.storage);
  *address = sockaddr_in{};
  address->sin_family = AF_INET;
  address->sin_port = htons(endpoint.port);
  std::copy_n(endpoint.address.bytes.begin(), 4, reinterpret_cast<std::uint8_t*>(&address->sin_addr.s_addr));
  out.length = sizeof(sockaddr_in);
  return true;
}

// Canonical, so that an IPv4 peer of the dual-stack socket is IPv4.
std::optional<Endpoint> to_endpoint(const sockaddr_storage& storage) {
  if (storage.ss_family == AF_INET) {
    const auto* address = reinterpret_cast<const sockaddr_in*>(&storage);
    base::Ipv4Bytes bytes{};
    std::copy_n(reinterpret_cast<const std::uint8_t*>(&address->sin_addr.s_addr), 4, bytes.begin());
    return Endpoint{IpAddress::v4(bytes), ntohs(address->sin_port)};
  }
  if (storage.ss_family == AF_INET6) {
    const auto* address = reinterpret_cast<const sockaddr_in6*>(&storage);
    base::Ipv6Bytes bytes{};
    std::copy_n(address->sin6_addr.s6_addr, 16, bytes.begin());
    return canonical(Endpoint{IpAddress::v6(bytes), ntohs(address->sin6_port)});
  }
  return std::nullopt;
}

// Asks for `bytes` of buffer, forcefully when privileged; the size in
// effect, in setsockopt's units.
int size_buffer(int fd, int force_option, int option, int bytes) {
  if (bytes > 0 && setsockopt(fd, SOL_SOCKET, force_option, &bytes, sizeof bytes) != 0) {
    // EPERM without CAP_NET_ADMIN: the kernel caps this one at
    // net.core.rmem_max / wmem_max. A failure leaves the default in place.
    (void)setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof bytes);
  }
  int value = 0;
  socklen_t length = sizeof value;
  if (getsockopt(fd, SOL_SOCKET, option, &value, &length) != 0) return 0;
  // The kernel doubles the request to cover its own overhead.
  return value / 2;
}

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

}  // namespace

std::string_view to_string(UdpFamily family) {
  switch (family) {
    case UdpFamily::dual_stack:
      return "dual_stack";
    case UdpFamily::ipv4_only:
      return "ipv4_only";
  }
  return "unknown";
}

std::string_view to_string(UdpErrorCode code) {
  switch (code) {
    case UdpErrorCode::address_in_use:
      return "address_in_use";
    case UdpErrorCode::permission_denied:
      return "permission_denied";
    case UdpErrorCode::system:
      return "system";
  }
  return "unknown";
}

struct UdpSocket::Impl : std::enable_shared_from_this<Impl> {
  struct Queued {
    Endpoint destination;
    std::vector<std::uint8_t> data;
  };

  Impl(boost::asio::io_context& io, int fd, int socket_family, const UdpSocketOptions& options)
      : descriptor(io, fd),
        socket_family(socket_family),
        batch_size(std::clamp<std::size_t>(options.batch_size, 1, kMaxBatch)),
        max_datagram_bytes(std::max<std::size_t>(options.max_datagram_bytes, 1)),
        max_batches_per_wakeup(std::max<std::size_t>(options.max_batches_per_wakeup, 1)),
        max_queued(options.max_queued_datagrams),
        coalesced_receive(enable_receive_coalescing(fd)),
        receive_buffer_size(coalesced_receive ? kCoalescedBufferBytes : max_datagram_bytes),
        receive_storage(batch_size * receive_buffer_size),
        receive_iovecs(batch_size),
        receive_names(batch_size),
        receive_controls(batch_size),
        receive_messages(batch_size),
        received(batch_size * (coalesced_receive ? kMaxSegments : 1)),
        send_iovecs(batch_size),
        send_names(batch_size),
        send_controls(batch_size),
        send_groups(batch_size),
        send_messages(batch_size) {
    for (std::size_t i = 0; i < batch_size; ++i) {
      receive_iovecs[i] = iovec{receive_storage.data() + i * receive_buffer_size, receive_buffer_size};
      receive_messages[i].msg_hdr.msg_iov = &receive_iovecs[i];
      receive_messages[i].msg_hdr.msg_iovlen = 1;
      receive_messages[i].msg_hdr.msg_name = &receive_names[i];
      send_messages[i].msg_hdr.msg_name = &send_names[i].storage;
    }
  }

  static bool enable_receive_coalescing(int fd) {
    const int on = 1;
    return setsockopt(fd, IPPROTO_UDP, UDP_GRO, &on, sizeof on) == 0;
  }

  // The size of each datagram coalesced into a received message, from its
  // UDP_GRO control message; 0 when it holds a single datagram.
  static std::size_t coalesced_size(const msghdr& header) {
    for (const cmsghdr* control = CMSG_FIRSTHDR(&header); control != nullptr;
         control = CMSG_NXTHDR(const_cast<msghdr*>(&header), const_cast<cmsghdr*>(control))) {
      if (control->cmsg_level == IPPROTO_UDP && control->cmsg_type == UDP_GRO) {
        int size = 0;
        std::memcpy(&size, CMSG_DATA(control), sizeof size);
        return size > 0 ? static_cast<std::size_t>(size) : 0;
      }
    }
    return 0;
  }

  void wait_readable() {
    descriptor.async_wait(boost::asio::posix::descriptor_base::wait_read,
                          [self = shared_from_this()](boost::system::error_code error) {
                            if (!error && !self->closed) self->drain();
                          });
  }

  void wait_writable() {
    if (waiting_writable) return;
    waiting_writable = true;
    descriptor.async_wait(boost::asio::posix::descriptor_base::wait_write,
                          [self = shared_from_this()](boost::system::error_code error) {
                            self->waiting_writable = false;
                            if (!error && !self->closed) self->flush_queue();
                          });
  }

  // Reads batches until the socket is empty or the wake-up's share is used.
  void drain() {
    for (std::size_t batch = 0; batch < max_batches_per_wakeup; ++batch) {
      for (std::size_t i = 0; i < batch_size; ++i) {
        // recvmmsg overwrites the name and control lengths.
        msghdr& header = receive_messages[i].msg_hdr;
        header.msg_namelen = sizeof(sockaddr_storage);
        header.msg_control = coalesced_receive ? receive_controls[i].data() : nullptr;
        header.msg_controllen = coalesced_receive ? receive_controls[i].size() : 0;
      }
      const int count = recvmmsg(descriptor.native_handle(), receive_messages.data(), static_cast<unsigned>(batch_size),
                                 MSG_DONTWAIT, nullptr);
      if (count < 0) {
        if (errno == EINTR) continue;
        if (!would_block(errno)) ++stats.receive_errors;
        break;
      }
      std::size_t kept = 0;
      for (int i = 0; i < count; ++i) {
        const msghdr& header = receive_messages[i].msg_hdr;
        if ((header.msg_flags & MSG_TRUNC) != 0) {
          ++stats.receive_truncated;
          continue;
        }
        const auto source = to_endpoint(receive_names[i]);
        if (!source) continue;  // not an IP datagram: cannot happen on an IP socket
        auto* bytes = static_cast<std::uint8_t*>(receive_iovecs[i].iov_base);
        const std::size_t length = receive_messages[i].msg_len;
        const std::size_t size = coalesced_receive ? coalesced_size(header) : 0;
        const std::size_t step = size == 0 ? std::max<std::size_t>(length, 1) : size;
        for (std::size_t offset = 0; offset < length || (length == 0 && offset == 0); offset += step) {
          const std::size_t piece = std::min(step, length - offset);
          if (piece > max_datagram_bytes) {
            ++stats.receive_truncated;
          } else {
            received[kept++] = ReceivedDatagram{*source, std::span<std::uint8_t>(bytes + offset, piece)};
          }
          if (length == 0) break;
        }
      }
      stats.datagrams_received += kept;
      if (kept > 0) {
        handler(std::span<ReceivedDatagram>(received.data(), kept));
        if (closed) return;
      }
      // Fewer than asked for: the queue is empty now.
      if (static_cast<std::size_t>(count) < batch_size) break;
    }
    wait_readable();
  }

  // Sends a prefix of `datagrams` with sendmmsg, counting into `result`;
  // returns how many it dealt with (sent or failed). Stops early only when
  // the send buffer is full (`blocked`). Consecutive datagrams to one
  // destination go as one segmented send (UDP_SEGMENT) while the kernel
  // takes it: equal sizes, only the last of a group shorter.
  std::size_t transmit(std::span<const OutgoingDatagram> datagrams, SendResult& result, bool& blocked) {
    blocked = false;
    std::size_t done = 0;
    while (done < datagrams.size()) {
      // Groups of datagrams this socket can address; one it cannot ends
      // the batch (and fails on its own when the batch reaches it).
      std::size_t used = 0;
      std::size_t groups = 0;
      while (used < batch_size && done + used < datagrams.size()) {
        const OutgoingDatagram& datagram = datagrams[done + used];
        send_iovecs[used] = iovec{const_cast<std::uint8_t*>(datagram.data.data()), datagram.data.size()};
        if (groups > 0 && joins(send_groups[groups - 1], datagram)) {
          Group& group = send_groups[groups - 1];
          ++group.count;
          group.bytes += datagram.data.size();
          group.closed = datagram.data.size() < group.segment;
          ++used;
          continue;
        }
        if (!to_socket_address(datagram.destination, socket_family, send_names[groups])) break;
        send_groups[groups] = Group{&datagram.destination, used, 1, datagram.data.size(), datagram.data.size(), false};
        ++groups;
        ++used;
      }
      if (groups == 0) {
        fail(result, EAFNOSUPPORT);
        ++done;
        continue;
      }
      for (std::size_t g = 0; g < groups; ++g) prepare_message(g);
      const int sent =
          sendmmsg(descriptor.native_handle(), send_messages.data(), static_cast<unsigned>(groups), MSG_DONTWAIT);
      if (sent > 0) {
        std::size_t datagrams_sent = 0;
        for (int g = 0; g < sent; ++g) datagrams_sent += send_groups[static_cast<std::size_t>(g)].count;
        result.sent += datagrams_sent;
        stats.datagrams_sent += datagrams_sent;
        done += datagrams_sent;
        continue;
      }
      // sendmmsg reports an error only for the first message; those after
      // it were not tried.
      const int error = errno;
      if (error == EINTR) continue;
      if (would_block(error)) {
        blocked = true;
        return done;
      }
      if (segmentation && send_groups[0].count > 1 && (error == EIO || error == EINVAL || error == ENOPROTOOPT)) {
        // The kernel or the route's device cannot segment: send one by one.
        segmentation = false;
        log::info("UDP segmentation offload unavailable: sending datagrams one by one",
                  {{"error", errno_text(error)}});
        continue;
      }
      for (std::size_t i = 0; i < send_groups[0].count; ++i) fail(result, error);
      done += send_groups[0].count;
    }
    return done;
  }

  // A run of datagrams sent as one message: send_iovecs[first, first+count).
  struct Group {
    const Endpoint* destination;
    std::size_t first;
    std::size_t count;
    std::size_t segment;  // the size of each datagram but the last
    std::size_t bytes;
    bool closed;          // a shorter datagram ended it
  };

  bool joins(const Group& group, const OutgoingDatagram& datagram) const {
    return segmentation && !group.closed && group.count < kMaxSegments && datagram.data.size() <= group.segment &&
           group.bytes + datagram.data.size() <= kMaxGroupBytes && datagram.destination == *group.destination;
  }

  void prepare_message(std::size_t g) {
    const Group& group = send_groups[g];
    msghdr& header = send_messages[g].msg_hdr;
    header.msg_namelen = send_names[g].length;
    header.msg_iov = &send_iovecs[group.first];
    header.msg_iovlen = group.count;
    if (group.count == 1) {
      header.msg_control = nullptr;
      header.msg_controllen = 0;
      return;
    }
    header.msg_control = send_controls[g].data();
    header.msg_controllen = send_controls[g].size();
    cmsghdr* control = CMSG_FIRSTHDR(&header);
    control->cmsg_level = IPPROTO_UDP;
    control->cmsg_type = UDP_SEGMENT;
    control->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
    const auto segment = static_cast<std::uint16_t>(group.segment);
    std::memcpy(CMSG_DATA(control), &segment, sizeof segment);
  }

  void fail(SendResult& result, int error) {
    ++result.failed;
    ++stats.send_failed;
    stats.last_send_errno = error;
  }

  // Copies datagrams to the queue's end; drops what does not fit.
  void enqueue(std::span<const OutgoingDatagram> datagrams, SendResult& result) {
    for (const OutgoingDatagram& datagram : datagrams) {
      if (queue.size() >= max_queued) {
        ++result.dropped;
        ++stats.send_dropped;
        continue;
      }
      queue.push_back(
          Queued{datagram.destination, std::vector<std::uint8_t>(datagram.data.begin(), datagram.data.end())});
      ++result.queued;
    }
  }

  void flush_queue() {
    std::vector<OutgoingDatagram> views;
    while (!queue.empty()) {
      views.clear();
      for (std::size_t i = 0; i < queue.size() && i < batch_size; ++i) {
        views.push_back(OutgoingDatagram{queue[i].destination, queue[i].data});
      }
      SendResult ignored;  // the totals are in stats
      bool blocked = false;
      const std::size_t done = transmit(views, ignored, blocked);
      queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(done));
      if (blocked) {
        wait_writable();
        return;
      }
    }
  }

  std::expected<void, UdpError> set_fwmark(std::uint32_t mark) {
    if (setsockopt(descriptor.native_handle(), SOL_SOCKET, SO_MARK, &mark, sizeof mark) == 0) return {};
    const int error = errno;
    return std::unexpected(UdpError{error == EPERM ? UdpErrorCode::permission_denied : UdpErrorCode::system,
                                    "setting fwmark " + std::to_string(mark) + " on the UDP socket: " +
                                        errno_text(error) + (error == EPERM ? " (needs CAP_NET_ADMIN)" : "")});
  }

  void close() {
    if (closed) return;
    closed = true;
    stats.send_dropped += queue.size();
    queue.clear();
    boost::system::error_code ignored;
    descriptor.close(ignored);
  }

  boost::asio::posix::stream_descriptor descriptor;
  const int socket_family;
  const std::size_t batch_size;
  const std::size_t max_datagram_bytes;
  const std::size_t max_batches_per_wakeup;
  const std::size_t max_queued;
  std::uint16_t port = 0;
  UdpFamily family = UdpFamily::dual_stack;
  int receive_buffer_bytes = 0;
  int send_buffer_bytes = 0;
  // Not cleared by close(): close() may run inside the handler.
  ReceiveHandler handler;
  bool started = false;
  bool closed = false;
  bool waiting_writable = false;
  UdpStats stats;

  // Whether sends may be segmented (UDP_SEGMENT); off for good after the
  // kernel refused once.
  bool segmentation = true;
  // Whether the kernel may coalesce received datagrams (UDP_GRO).
  const bool coalesced_receive;
  const std::size_t receive_buffer_size;
  // recvmmsg's batch: message i lands in receive_storage at
  // i * receive_buffer_size, its source in receive_names[i]; with
  // coalescing, it may hold several datagrams of the size its control
  // message gives.
  std::vector<std::uint8_t> receive_storage;
  std::vector<iovec> receive_iovecs;
  std::vector<sockaddr_storage> receive_names;
  std::vector<std::array<char, CMSG_SPACE(sizeof(int))>> receive_controls;
  std::vector<mmsghdr> receive_messages;
  std::vector<ReceivedDatagram> received;
  // sendmmsg's batch, pointing into the caller's bytes during transmit():
  // one message per group of datagrams.
  std::vector<iovec> send_iovecs;
  std::vector<SocketAddress> send_names;
  std::vector<std::array<char, CMSG_SPACE(sizeof(std::uint16_t))>> send_controls;
  std::vector<Group> send_groups;
  std::vector<mmsghdr> send_messages;
  // Datagrams that met a full send buffer, oldest first.
  std::deque<Queued> queue;
};

std::expected<std::unique_ptr<UdpSocket>, UdpError> UdpSocket::open(boost::asio::io_context& io,
                                                                    const UdpSocketOptions& options) {
  const std::string port_text = std::to_string(options.port);
  UdpFamily family = options.family;
  int fd = -1;
  if (family == UdpFamily::dual_stack) {
    fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 && errno == EAFNOSUPPORT) {
      log::info("IPv6 is not available: the WireGuard UDP socket takes IPv4 only", {{"port", port_text}});
      family = UdpFamily::ipv4_only;
    } else if (fd < 0) {
      return std::unexpected(UdpError{UdpErrorCode::system, "opening a UDP socket: " + errno_text(errno)});
    }
  }
  if (family == UdpFamily::ipv4_only) {
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::unexpected(UdpError{UdpErrorCode::system, "opening a UDP socket: " + errno_text(errno)});
  }
  const int socket_family = family == UdpFamily::dual_stack ? AF_INET6 : AF_INET;
  auto fail = [&](UdpErrorCode code, std::string message) {
    ::close(fd);
    return std::unexpected(UdpError{code, std::move(message)});
  };

  if (socket_family == AF_INET6) {
    const int off = 0;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) != 0) {
      return fail(UdpErrorCode::system, "making the UDP socket dual-stack (IPV6_V6ONLY off): " + errno_text(errno));
    }
  }
  SocketAddress local;
  if (socket_family == AF_INET6) {
    auto* address = reinterpret_cast<sockaddr_in6*>(&local.storage);
    address->sin6_family = AF_INET6;
    address->sin6_port = htons(options.port);
    address->sin6_addr = options.loopback_only ? in6addr_loopback : in6addr_any;
    local.length = sizeof(sockaddr_in6);
  } else {
    auto* address = reinterpret_cast<sockaddr_in*>(&local.storage);
    address->sin_family = AF_INET;
    address->sin_port = htons(options.port);
    address->sin_addr.s_addr = htonl(options.loopback_only ? INADDR_LOOPBACK : INADDR_ANY);
    local.length = sizeof(sockaddr_in);
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&local.storage), local.length) != 0) {
    const int error = errno;
    if (error == EADDRINUSE) {
      return fail(UdpErrorCode::address_in_use,
                  "UDP port " + port_text +
                      " is already in use (is another WireGuard device listening on it? choose another ListenPort)");
    }
    if (error == EACCES || error == EPERM) {
      return fail(UdpErrorCode::permission_denied, "binding UDP port " + port_text +
                                                       " was refused: " + errno_text(error) +
                                                       " (ports below 1024 need CAP_NET_BIND_SERVICE)");
    }
    return fail(UdpErrorCode::system, "binding UDP port " + port_text + ": " + errno_text(error));
  }
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0) {
    return fail(UdpErrorCode::system, "reading the UDP socket's port: " + errno_text(errno));
  }
  const auto bound_endpoint = to_endpoint(bound);

  auto impl = std::make_shared<Impl>(io, fd, socket_family, options);
  impl->family = family;
  impl->port = bound_endpoint ? bound_endpoint->port : 0;
  impl->receive_buffer_bytes = size_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, options.receive_buffer_bytes);
  impl->send_buffer_bytes = size_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, options.send_buffer_bytes);
  if (options.fwmark != 0) {
    if (auto marked = impl->set_fwmark(options.fwmark); !marked) {
      impl->close();
      return std::unexpected(marked.error());
    }
  }
  if (impl->receive_buffer_bytes < options.receive_buffer_bytes ||
      impl->send_buffer_bytes < options.send_buffer_bytes) {
    log::warn(
        "UDP socket buffers are smaller than asked for: bursts may be dropped (run with CAP_NET_ADMIN, or "
        "raise net.core.rmem_max and net.core.wmem_max)",
        {{"port", std::to_string(impl->port)},
         {"receive_buffer", std::to_string(impl->receive_buffer_bytes)},
         {"receive_buffer_wanted", std::to_string(options.receive_buffer_bytes)},
         {"send_buffer", std::to_string(impl->send_buffer_bytes)},
         {"send_buffer_wanted", std::to_string(options.send_buffer_bytes)}});
  }
  return std::unique_ptr<UdpSocket>(new UdpSocket(std::move(impl)));
}

UdpSocket::UdpSocket(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

UdpSocket::~UdpSocket() { impl_->close(); }

std::uint16_t UdpSocket::port() const { return impl_->port; }
UdpFamily UdpSocket::family() const { return impl_->family; }
int UdpSocket::receive_buffer_bytes() const { return impl_->receive_buffer_bytes; }
int UdpSocket::send_buffer_bytes() const { return impl_->send_buffer_bytes; }
std::size_t UdpSocket::queued() const { return impl_->queue.size(); }
const UdpStats& UdpSocket::stats() const { return impl_->stats; }
void UdpSocket::close() { impl_->close(); }
std::expected<void, UdpError> UdpSocket::set_fwmark(std::uint32_t mark) { return impl_->set_fwmark(mark); }

void UdpSocket::start(ReceiveHandler handler) {
  if (impl_->started || impl_->closed) return;
  impl_->started = true;
  impl_->handler = std::move(handler);
  impl_->wait_readable();
}

SendResult UdpSocket::send(std::span<const OutgoingDatagram> datagrams) {
  SendResult result;
  Impl& impl = *impl_;
  if (impl.closed) {
    result.dropped = datagrams.size();
    impl.stats.send_dropped += datagrams.size();
    return result;
  }
  if (!impl.queue.empty()) {
    impl.enqueue(datagrams, result);
    return result;
  }
  bool blocked = false;
  const std::size_t done = impl.transmit(datagrams, result, blocked);
  if (blocked) {
    impl.enqueue(datagrams.subspan(done), result);
    impl.wait_writable();
  }
  return result;
}

}  // namespace coral::wireguard::device
