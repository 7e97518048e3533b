#include "wireguard/device/tun_linux.h"

#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "base/log.h"
#include "base/text.h"
#include "wireguard/device/tun_offload.h"

namespace coral::wireguard::device {
namespace {

std::string errno_text(int error) { return std::strerror(error); }

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

// One rtnetlink request being built: the netlink header, a fixed family
// header, then attributes, each 4-byte aligned.
class NetlinkMessage {
 public:
  // `flags` besides NLM_F_REQUEST: NLM_F_ACK for changes, NLM_F_DUMP for
  // listings.
  NetlinkMessage(std::uint16_t type, std::uint16_t flags) : bytes_(NLMSG_HDRLEN) {
    header().nlmsg_type = type;
    header().nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | flags);
  }

  template <class Fixed>
  void append(const Fixed& fixed) {
    append_bytes(&fixed, sizeof fixed);
  }

  void attribute(std::uint16_t type, const void* data, std::size_t size) {
    rtattr attribute{};
    attribute.rta_len = static_cast<unsigned short>(RTA_LENGTH(size));
    attribute.rta_type = type;
    append_bytes(&attribute, sizeof attribute);
    append_bytes(data, size);
  }

  // The finished message, stamped with `sequence`.
  std::span<const std::uint8_t> finish(std::uint32_t sequence) {
    header().nlmsg_len = static_cast<std::uint32_t>(bytes_.size());
    header().nlmsg_seq = sequence;
    return bytes_;
  }

 private:
  nlmsghdr& header() { return *reinterpret_cast<nlmsghdr*>(bytes_.data()); }

  void append_bytes(const void* data, std::size_t size) {
    const std::size_t at = bytes_.size();
    bytes_.resize(at + NLMSG_ALIGN(size));
    std::memcpy(bytes_.data() + at, data, size);
  }

  // nlmsghdr at the front; vector storage is aligned for it.
  std::vector<std::uint8_t> bytes_;
};

// A NETLINK_ROUTE socket for a few synchronous requests.
class Netlink {
 public:
  Netlink() : fd_(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)), buffer_(64 * 1024) {
    if (fd_ < 0) {
      open_error_ = errno;
      return;
    }
    // The kernel answers at once; a bound wait keeps a wedged kernel from
    // hanging start-up forever.
    const timeval timeout{.tv_sec = 5, .tv_usec = 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;
  ~Netlink() {
    if (fd_ >= 0) ::close(fd_);
  }

  // 0 or the errno of opening the socket.
  int open_error() const { return open_error_; }

  // Sends a change (NLM_F_ACK) and waits for its acknowledgement: 0 or the
  // errno the kernel answered with.
  int request(NetlinkMessage& message) {
    return exchange(message, [](const nlmsghdr&) {});
  }

  // Sends a request and passes each answer to `on_answer` until the kernel
  // says it is done (a dump's NLMSG_DONE, or an acknowledgement): 0 or the
  // errno the kernel answered with.
  template <class OnAnswer>
  int exchange(NetlinkMessage& message, OnAnswer on_answer) {
    const std::uint32_t sequence = ++sequence_;
    const auto bytes = message.finish(sequence);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel) < 0) {
      return errno;
    }
    while (true) {
      const ssize_t received = recv(fd_, buffer_.data(), buffer_.size(), 0);
      if (received < 0) {
        if (errno == EINTR) continue;
        return errno;
      }
      std::size_t left = static_cast<std::size_t>(received);
      for (auto* header = reinterpret_cast<const nlmsghdr*>(buffer_.data()); NLMSG_OK(header, left);
           header = NLMSG_NEXT(header, left)) {
        if (header->nlmsg_seq != sequence) continue;
        if (header->nlmsg_type == NLMSG_DONE) return 0;
        if (header->nlmsg_type == NLMSG_ERROR) return -static_cast<const nlmsgerr*>(NLMSG_DATA(header))->error;
        on_answer(*header);
      }
    }
  }

 private:
  int fd_ = -1;
  int open_error_ = 0;
  std::uint32_t sequence_ = 0;
  // Room for one read of a dump (the kernel fills up to 32 KiB at a time).
  std::vector<std::uint8_t> buffer_;
};

int set_mtu(Netlink& netlink, unsigned index, std::uint32_t mtu) {
  NetlinkMessage message(RTM_NEWLINK, NLM_F_ACK);
  ifinfomsg link{};
  link.ifi_family = AF_UNSPEC;
  link.ifi_index = static_cast<int>(index);
  message.append(link);
  message.attribute(IFLA_MTU, &mtu, sizeof mtu);
  return netlink.request(message);
}

int set_up(Netlink& netlink, unsigned index) {
  NetlinkMessage message(RTM_NEWLINK, NLM_F_ACK);
  ifinfomsg link{};
  link.ifi_family = AF_UNSPEC;
  link.ifi_index = static_cast<int>(index);
  link.ifi_flags = IFF_UP;
  link.ifi_change = IFF_UP;
  message.append(link);
  return netlink.request(message);
}

// As `ip address add ADDRESS/LENGTH dev NAME [nodad]` does it: the local
// and the "peer" address are the same, which gives the on-link route to the
// prefix even on a point-to-point device.
int add_address(Netlink& netlink, unsigned index, const InterfaceAddress& address) {
  NetlinkMessage message(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  ifaddrmsg header{};
  header.ifa_family = address.address.is_ipv4() ? AF_INET : AF_INET6;
  header.ifa_prefixlen = static_cast<std::uint8_t>(address.prefix_length);
  header.ifa_scope = RT_SCOPE_UNIVERSE;
  header.ifa_index = index;
  const std::uint32_t flags = address.address.is_ipv6() ? IFA_F_NODAD : 0;
  header.ifa_flags = static_cast<std::uint8_t>(flags);
  message.append(header);
  const std::size_t size = address.address.is_ipv4() ? 4 : 16;
  message.attribute(IFA_LOCAL, address.address.bytes.data(), size);
  message.attribute(IFA_ADDRESS, address.address.bytes.data(), size);
  if (flags != 0) message.attribute(IFA_FLAGS, &flags, sizeof flags);
  return netlink.request(message);
}

// Whether any IPv6 address of interface `index` is still tentative; the
// errno of the listing, if it failed.
std::expected<bool, int> has_tentative_ipv6_address(Netlink& netlink, unsigned index) {
  NetlinkMessage message(RTM_GETADDR, NLM_F_DUMP);
  ifaddrmsg filter{};
  filter.ifa_family = AF_INET6;
  message.append(filter);
  bool tentative = false;
  const int error = netlink.exchange(message, [&](const nlmsghdr& header) {
    if (header.nlmsg_type != RTM_NEWADDR || header.nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg))) return;
    const auto* address = static_cast<const ifaddrmsg*>(NLMSG_DATA(&header));
    if (address->ifa_index != index) return;
    // The 8-bit header field holds the old flags; IFA_FLAGS, when present,
    // all of them.
    std::uint32_t flags = address->ifa_flags;
    auto length = static_cast<unsigned>(IFA_PAYLOAD(&header));
    for (const rtattr* attribute = IFA_RTA(address); RTA_OK(attribute, length);
         attribute = RTA_NEXT(attribute, length)) {
      if (attribute->rta_type == IFA_FLAGS && RTA_PAYLOAD(attribute) >= sizeof flags) {
        std::memcpy(&flags, RTA_DATA(attribute), sizeof flags);
      }
    }
    tentative = tentative || (flags & IFA_F_TENTATIVE) != 0;
  });
  if (error != 0) return std::unexpected(error);
  return tentative;
}

// The kernel finishes (or, with IFA_F_NODAD or on a NOARP device, skips)
// duplicate address detection in a work queue after the address was added
// and the link came up: until then the address is tentative and packets to
// it are dropped. Wait for that, so that the device works once open()
// returns. Bounded: on a kernel that never finishes, go on regardless.
void wait_for_ipv6_addresses(Netlink& netlink, const std::string& name, unsigned index) {
  using namespace std::chrono_literals;
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto tentative = has_tentative_ipv6_address(netlink, index);
    if (!tentative || !*tentative) return;
    std::this_thread::sleep_for(1ms);
  }
  log::warn("the IPv6 addresses of the TUN device are still tentative; IPv6 may not work for a while",
            {{"interface", name}});
}

std::string needs_cap_net_admin(const std::string& name) {
  return "creating TUN device " + name + " needs CAP_NET_ADMIN (run as root or grant the capability)";
}

// The reasons the interface cannot be configured, with a hint where there
// is a likely one.
std::string address_failure(const std::string& name, const InterfaceAddress& address, int error) {
  std::string text = "adding address " + address.to_string() + " to " + name + ": " + errno_text(error);
  if (address.address.is_ipv6() && (error == EACCES || error == ENOBUFS || error == ENODEV)) {
    text += " (is IPv6 disabled on this host, or the MTU below 1280?)";
  } else if (error == EEXIST) {
    text += " (the address is given twice)";
  }
  return text;
}


}  // namespace

std::expected<void, std::string> check_interface_name(std::string_view name) {
  const std::string quoted = "interface name " + base::quote(name);
  if (name.empty()) return std::unexpected("the interface name is empty");
  if (name.size() > kMaxInterfaceNameBytes) {
    return std::unexpected(quoted + " is longer than " + std::to_string(kMaxInterfaceNameBytes) + " bytes");
  }
  if (name == "." || name == "..") return std::unexpected(quoted + " is not allowed");
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '/' || c == ':' || c == '%' || byte <= 0x20 || byte == 0x7f) {
      return std::unexpected(quoted + " contains a space, a control character, '/', ':' or '%'");
    }
  }
  return {};
}

std::string_view to_string(TunErrorCode code) {
  switch (code) {
    case TunErrorCode::invalid_name:
      return "invalid_name";
    case TunErrorCode::permission_denied:
      return "permission_denied";
    case TunErrorCode::no_tun_device:
      return "no_tun_device";
    case TunErrorCode::name_in_use:
      return "name_in_use";
    case TunErrorCode::configuration_failed:
      return "configuration_failed";
    case TunErrorCode::system:
      return "system";
  }
  return "unknown";
}

struct TunDevice::Impl : std::enable_shared_from_this<Impl> {
  Impl(boost::asio::io_context& io, int fd, std::string name, unsigned index, const TunOptions& options)
      : descriptor(io, fd),
        name(std::move(name)),
        index(index),
        mtu(options.mtu),
        batch_size(std::max<std::size_t>(options.batch_size, 1)),
        max_batches_per_wakeup(std::max<std::size_t>(options.max_batches_per_wakeup, 1)),
        // A read is a virtio_net_hdr and a packet, or up to 64 KiB of TCP
        // to segment (TSO).
        slot_bytes(kVirtioNetHeaderBytes + 65536),
        storage(batch_size * slot_bytes),
        packets(batch_size) {}

  void wait_readable() {
    descriptor.async_wait(boost::asio::posix::descriptor_base::wait_read,
                          [self = shared_from_this()](boost::system::error_code error) {
                            if (!error && !self->closed) self->drain();
                          });
  }

  // Reads until the device is empty or the wake-up's share is used. Each
  // read is split into the packets it stands for (segments of a TCP
  // super-packet, checksums completed) in `segments`; packets longer than
  // the MTU are dropped and counted.
  void drain() {
    for (std::size_t batch = 0; batch < max_batches_per_wakeup; ++batch) {
      std::size_t count = 0;
      bool empty = false;
      segments.clear();
      slices.clear();
      while (count < batch_size) {
        std::uint8_t* slot = storage.data() + count * slot_bytes;
        const ssize_t size = ::read(descriptor.native_handle(), slot, slot_bytes);
        if (size < 0 && errno == EINTR) continue;
        if (size < 0 && !would_block(errno)) {
          // The interface was deleted under us (EBADFD) or worse. The fd
          // would stay readable and the loop would spin: stop reading.
          ++stats.read_errors;
          log::error("reading from the TUN device failed; no longer reading from it",
                     {{"interface", name}, {"error", errno_text(errno)}});
          failed = true;
        }
        if (size <= 0) {
          empty = true;
          break;
        }
        const auto read = std::span<const std::uint8_t>(slot, static_cast<std::size_t>(size));
        if (!split_offloaded_packet(read, segments, slices)) ++stats.read_errors;
        ++count;
      }
      // Offsets become pointers only now: `segments` grew during the batch.
      std::size_t ready = 0;
      packets.resize(std::max(packets.size(), slices.size()));
      for (const PacketSlice& slice : slices) {
        if (slice.size > mtu) {
          ++stats.read_oversize;
          continue;
        }
        packets[ready++] = Packet(segments.data() + slice.offset, slice.size);
      }
      stats.packets_read += ready;
      if (ready > 0) {
        handler(std::span<const Packet>(packets.data(), ready));
        if (closed) return;
      }
      if (failed) return;
      if (empty) break;
    }
    wait_readable();
  }

  // One write per packet, or per run of TCP segments coalesced into one
  // super-packet (coalesce_for_tun).
  void write(std::span<const Packet> to_write) {
    if (closed) {
      stats.write_errors += to_write.size();
      return;
    }
    coalesced.clear();
    writes.clear();
    coalesce_for_tun(to_write, coalesced, writes);
    for (const PacketSlice& slice : writes) {
      ssize_t written = 0;
      do {
        written = ::write(descriptor.native_handle(), coalesced.data() + slice.offset, slice.size);
      } while (written < 0 && errno == EINTR);
      if (written < 0) {
        ++stats.write_errors;
      } else {
        ++stats.packets_written;
      }
    }
  }

  void close() {
    if (closed) return;
    closed = true;
    boost::system::error_code ignored;
    descriptor.close(ignored);
  }

  boost::asio::posix::stream_descriptor descriptor;
  const std::string name;
  const unsigned index;
  const std::size_t mtu;
  const std::size_t batch_size;
  const std::size_t max_batches_per_wakeup;
  const std::size_t slot_bytes;
  // Not cleared by close(): close() may run inside the handler.
  ReceiveHandler handler;
  bool started = false;
  bool closed = false;
  // A read failed for good (see drain()).
  bool failed = false;
  TunStats stats;
  // Packet i of a batch is read into storage at i * slot_bytes.
  std::vector<std::uint8_t> storage;
  std::vector<Packet> packets;
  // With offloads: the packets of a batch, back to back, and where each is.
  std::vector<std::uint8_t> segments;
  std::vector<PacketSlice> slices;
  // What write() hands the device, headers included, and where each is.
  std::vector<std::uint8_t> coalesced;
  std::vector<PacketSlice> writes;
};

std::expected<std::unique_ptr<TunDevice>, TunError> TunDevice::open(boost::asio::io_context& io,
                                                                    const TunOptions& options) {
  if (auto valid = check_interface_name(options.name); !valid) {
    return std::unexpected(TunError{TunErrorCode::invalid_name, "creating TUN device: " + valid.error()});
  }
  const std::string& name = options.name;
  const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    if (error == EACCES || error == EPERM) {
      return std::unexpected(TunError{TunErrorCode::permission_denied, needs_cap_net_admin(name)});
    }
    if (error == ENOENT || error == ENODEV || error == ENXIO) {
      return std::unexpected(
          TunError{TunErrorCode::no_tun_device, "creating TUN device " + name + ": /dev/net/tun is not available (" +
                                                    errno_text(error) + "; load the tun module: modprobe tun)"});
    }
    return std::unexpected(
        TunError{TunErrorCode::system, "creating TUN device " + name + ": opening /dev/net/tun: " + errno_text(error)});
  }
  auto fail = [fd](TunErrorCode code, std::string message) {
    // Closing the only fd of a non-persistent TUN device removes it.
    ::close(fd);
    return std::unexpected(TunError{code, std::move(message)});
  };

  ifreq request{};
  std::memcpy(request.ifr_name, name.data(), name.size());
  // IFF_TUN_EXCL: fail on an existing name instead of attaching to it (an
  // attached persistent device would outlive us).
  request.ifr_flags = static_cast<short>(IFF_TUN | IFF_NO_PI | IFF_TUN_EXCL | IFF_VNET_HDR);
  if (ioctl(fd, TUNSETIFF, &request) != 0) {
    const int error = errno;
    if (error == EPERM || error == EACCES) return fail(TunErrorCode::permission_denied, needs_cap_net_admin(name));
    if (error == EBUSY || error == EEXIST) {
      return fail(TunErrorCode::name_in_use, "creating TUN device " + name +
                                                 ": an interface of that name exists already (choose another name, "
                                                 "or stop whatever created it)");
    }
    return fail(TunErrorCode::system, "creating TUN device " + name + ": " + errno_text(error));
  }
  // Let the host's TCP hand us 64 KiB super-packets to segment (TSO) and
  // leave checksums to us: far fewer reads and less work in its stack. A
  // kernel that refuses sends ordinary packets, still with headers.
  const unsigned offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
  if (ioctl(fd, TUNSETOFFLOAD, offloads) != 0) {
    log::info("TUN offloads unavailable: reading one packet at a time", {{"interface", name}, {"error", errno_text(errno)}});
  }
  const unsigned index = if_nametoindex(name.c_str());
  if (index == 0) return fail(TunErrorCode::system, "finding TUN device " + name + ": " + errno_text(errno));

  Netlink netlink;
  if (const int error = netlink.open_error(); error != 0) {
    return fail(TunErrorCode::configuration_failed,
                "configuring TUN device " + name + ": opening a netlink socket: " + errno_text(error));
  }
  if (const int error = set_mtu(netlink, index, options.mtu); error != 0) {
    return fail(TunErrorCode::configuration_failed,
                "setting the MTU of " + name + " to " + std::to_string(options.mtu) + ": " + errno_text(error));
  }
  for (const InterfaceAddress& address : options.addresses) {
    if (const int error = add_address(netlink, index, address); error != 0) {
      return fail(TunErrorCode::configuration_failed, address_failure(name, address, error));
    }
  }
  if (const int error = set_up(netlink, index); error != 0) {
    return fail(TunErrorCode::configuration_failed, "bringing " + name + " up: " + errno_text(error));
  }
  if (std::ranges::any_of(options.addresses,
                          [](const InterfaceAddress& address) { return address.address.is_ipv6(); })) {
    wait_for_ipv6_addresses(netlink, name, index);
  }
  return std::unique_ptr<TunDevice>(new TunDevice(std::make_shared<Impl>(io, fd, name, index, options)));
}

TunDevice::TunDevice(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

TunDevice::~TunDevice() { impl_->close(); }

const std::string& TunDevice::name() const { return impl_->name; }
unsigned TunDevice::index() const { return impl_->index; }
const TunStats& TunDevice::stats() const { return impl_->stats; }
std::size_t TunDevice::mtu() const { return impl_->mtu; }
void TunDevice::close() { impl_->close(); }
void TunDevice::write(std::span<const Packet> packets) { impl_->write(packets); }

void TunDevice::start(ReceiveHandler handler) {
  if (impl_->started || impl_->closed) return;
  impl_->started = true;
  impl_->handler = std::move(handler);
  impl_->wait_readable();
}

}  // namespace coral::wireguard::device
