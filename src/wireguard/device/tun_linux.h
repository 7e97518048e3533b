#pragma once
// A Linux TUN device (/dev/net/tun, IFF_TUN | IFF_NO_PI) as the device's
// packet interface: the kernel's TCP/IP stack routes packets for the mesh
// into it, and the packets peers send come out of it.
//
// open() creates the interface (a new one: a name that exists is an error),
// sets its MTU and addresses over rtnetlink and brings it up. IPv6
// addresses are added without duplicate address detection (IFA_F_NODAD;
// the kernel skips DAD on NOARP devices such as TUN anyway), and open()
// returns once the kernel stopped calling them tentative (a work queue does
// that a moment after the link came up): they work as soon as open()
// returns, instead of dropping the first packets. The interface is not
// persistent: it disappears when the device closes its file descriptor
// (close(), destruction, or the process ending, even by a crash).
//
// Needs CAP_NET_ADMIN in the network namespace's user namespace.

#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "wireguard/device/packet_interface.h"
#include "wireguard/settings.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace coral::wireguard::device {

// IFNAMSIZ - 1: the kernel's limit on interface names.
inline constexpr std::size_t kMaxInterfaceNameBytes = 15;

// A name the kernel takes for a new interface: 1-15 bytes, not "." or "..",
// and none of '/', ':', '%' (a pattern to the kernel) or whitespace. Errors
// name the input: interface name "coral-colony-a-0" is longer than 15 bytes.
std::expected<void, std::string> check_interface_name(std::string_view name);

struct TunOptions {
  // The interface's name (see check_interface_name); callers choose it
  // (coral-<name>0 by default).
  std::string name;
  std::uint16_t mtu = kDefaultMtu;
  // Added in order, both families allowed.
  std::vector<InterfaceAddress> addresses;
  // Packets per receive-handler call at most (one read() each).
  std::size_t batch_size = 64;
  // Batches per readiness wake-up before yielding to the event loop.
  std::size_t max_batches_per_wakeup = 8;
};

enum class TunErrorCode : std::uint8_t {
  // The name is not one the kernel takes (check_interface_name).
  invalid_name,
  // No CAP_NET_ADMIN (or /dev/net/tun is not accessible).
  permission_denied,
  // /dev/net/tun is missing or has no driver behind it.
  no_tun_device,
  // An interface with that name exists already.
  name_in_use,
  // The interface was created but setting its MTU, an address or its link
  // state failed; the message says which (and the interface is gone again).
  configuration_failed,
  // Anything else the system refused; the message has its reason.
  system,
};
std::string_view to_string(TunErrorCode code);

struct TunError {
  TunErrorCode code = TunErrorCode::system;
  // For people, naming the interface and what to do, e.g. "creating TUN
  // device coral-x0 needs CAP_NET_ADMIN (run as root or grant the
  // capability)".
  std::string message;
};

// Running totals, for logs and tests.
struct TunStats {
  std::uint64_t packets_read = 0;
  // Writes to the device: a run of TCP segments coalesced into one
  // super-packet counts once.
  std::uint64_t packets_written = 0;
  // Packets the kernel refused in write() (malformed, link down): dropped.
  std::uint64_t write_errors = 0;
  // Longer than the MTU (someone raised it behind our back): dropped.
  std::uint64_t read_oversize = 0;
  // read() failures other than "nothing to read".
  std::uint64_t read_errors = 0;
};

class TunDevice final : public PacketInterface {
 public:
  // Creates and configures the interface; packets are read only after
  // start(). Destroy the device before `io`.
  static std::expected<std::unique_ptr<TunDevice>, TunError> open(boost::asio::io_context& io,
                                                                  const TunOptions& options);
  TunDevice(const TunDevice&) = delete;
  TunDevice& operator=(const TunDevice&) = delete;
  // Closes (the interface disappears).
  ~TunDevice() override;

  const std::string& name() const;
  // The interface index (as if_nametoindex gives it).
  unsigned index() const;
  const TunStats& stats() const;

  // PacketInterface. The handler may also destroy the device.
  void start(ReceiveHandler handler) override;
  void write(std::span<const Packet> packets) override;
  std::size_t mtu() const override;
  void close() override;

 private:
  struct Impl;
  explicit TunDevice(std::shared_ptr<Impl> impl);
  // Shared with the pending wait, which may outlive this object.
  std::shared_ptr<Impl> impl_;
};

}  // namespace coral::wireguard::device
