#include "wireguard/device/tun_linux.h"

#include <gtest/gtest.h>

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bit>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "bounded_io.h"
#include "net_namespace.h"

namespace coral::wireguard::device {
namespace {

static_assert(std::is_base_of_v<PacketInterface, TunDevice>);

using Bytes = std::vector<std::uint8_t>;

// The Internet checksum (RFC 1071) of `data`, continuing from `sum`.
std::uint16_t internet_checksum(const std::uint8_t* data, std::size_t size, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < size; i += 2) sum += std::uint32_t(data[i]) << 8 | data[i + 1];
  if (size % 2 == 1) sum += std::uint32_t(data[size - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

void put16(Bytes& bytes, std::size_t at, std::uint16_t value) {
  bytes[at] = static_cast<std::uint8_t>(value >> 8);
  bytes[at + 1] = static_cast<std::uint8_t>(value & 0xff);
}

std::uint16_t get16(const Bytes& bytes, std::size_t at) {
  return static_cast<std::uint16_t>(bytes[at] << 8 | bytes[at + 1]);
}

// The ICMP(v6) echo message: type, code 0, checksum 0 (filled in later),
// identifier, sequence number, payload.
Bytes echo_message(std::uint8_t type, std::uint16_t id, std::uint16_t sequence, std::string_view payload) {
  Bytes message(8 + payload.size());
  message[0] = type;
  put16(message, 4, id);
  put16(message, 6, sequence);
  std::copy(payload.begin(), payload.end(), message.begin() + 8);
  return message;
}

Bytes ipv4_echo_request(const IpAddress& source, const IpAddress& destination, std::uint16_t sequence,
                        std::string_view payload) {
  Bytes message = echo_message(8, 0x4242, sequence, payload);
  put16(message, 2, internet_checksum(message.data(), message.size()));
  Bytes packet(20);
  packet[0] = 0x45;  // version 4, 5 words of header
  put16(packet, 2, static_cast<std::uint16_t>(20 + message.size()));
  packet[8] = 64;  // TTL
  packet[9] = 1;   // ICMP
  std::copy_n(source.bytes.begin(), 4, packet.begin() + 12);
  std::copy_n(destination.bytes.begin(), 4, packet.begin() + 16);
  put16(packet, 10, internet_checksum(packet.data(), 20));
  packet.insert(packet.end(), message.begin(), message.end());
  return packet;
}

// ICMPv6's checksum covers a pseudo-header: source, destination, upper-layer
// length and next header (RFC 8200 section 8.1).
std::uint16_t icmpv6_checksum(const IpAddress& source, const IpAddress& destination, const Bytes& message) {
  Bytes pseudo(source.bytes.begin(), source.bytes.end());
  pseudo.insert(pseudo.end(), destination.bytes.begin(), destination.bytes.end());
  const auto length = static_cast<std::uint32_t>(message.size());
  pseudo.insert(pseudo.end(), {std::uint8_t(length >> 24), std::uint8_t(length >> 16), std::uint8_t(length >> 8),
                               std::uint8_t(length), 0, 0, 0, 58});
  pseudo.insert(pseudo.end(), message.begin(), message.end());
  return internet_checksum(pseudo.data(), pseudo.size());
}

Bytes ipv6_echo_request(const IpAddress& source, const IpAddress& destination, std::uint16_t sequence,
                        std::string_view payload) {
  Bytes message = echo_message(128, 0x4242, sequence, payload);
  put16(message, 2, icmpv6_checksum(source, destination, message));
  Bytes packet(40);
  packet[0] = 0x60;  // version 6
  put16(packet, 4, static_cast<std::uint16_t>(message.size()));
  packet[6] = 58;  // ICMPv6
  packet[7] = 64;  // hop limit
  std::copy(source.bytes.begin(), source.bytes.end(), packet.begin() + 8);
  std::copy(destination.bytes.begin(), destination.bytes.end(), packet.begin() + 24);
  packet.insert(packet.end(), message.begin(), message.end());
  return packet;
}

// An echo request or reply as it came out of the TUN device.
struct Echo {
  std::string source;
  std::string destination;
  std::uint8_t type = 0;
  std::uint16_t id = 0;
  std::uint16_t sequence = 0;
  std::string payload;
  bool checksums_valid = false;
};

std::optional<Echo> parse_echo(Packet bytes) {
  const Bytes packet(bytes.begin(), bytes.end());
  Echo echo;
  Bytes message;
  if (packet.size() >= 28 && packet[0] >> 4 == 4 && packet[9] == 1) {
    const std::size_t header = (packet[0] & 0x0f) * 4u;
    echo.source = IpAddress::v4({packet[12], packet[13], packet[14], packet[15]}).to_string();
    echo.destination = IpAddress::v4({packet[16], packet[17], packet[18], packet[19]}).to_string();
    message.assign(packet.begin() + header, packet.end());
    echo.checksums_valid =
        internet_checksum(packet.data(), header) == 0 && internet_checksum(message.data(), message.size()) == 0;
  } else if (packet.size() >= 48 && packet[0] >> 4 == 6 && packet[6] == 58) {
    IpAddress source = IpAddress::v6({});
    IpAddress destination = IpAddress::v6({});
    std::copy_n(packet.begin() + 8, 16, source.bytes.begin());
    std::copy_n(packet.begin() + 24, 16, destination.bytes.begin());
    echo.source = source.to_string();
    echo.destination = destination.to_string();
    message.assign(packet.begin() + 40, packet.end());
    echo.checksums_valid = icmpv6_checksum(source, destination, message) == 0;
  } else {
    return std::nullopt;
  }
  echo.type = message[0];
  echo.id = get16(message, 4);
  echo.sequence = get16(message, 6);
  echo.payload.assign(message.begin() + 8, message.end());
  return echo;
}

IpAddress ip(std::string_view text) { return IpAddress::parse(text).value_or(IpAddress{}); }

TunOptions named(std::string name) {
  TunOptions options;
  options.name = std::move(name);
  return options;
}

TunOptions mesh_options(std::string name) {
  TunOptions options;
  options.name = std::move(name);
  options.addresses = {*InterfaceAddress::parse("10.42.0.1/16"), *InterfaceAddress::parse("fd42::1/64")};
  return options;
}

class TunDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::can_make_network_namespaces()) GTEST_SKIP() << testing::kNeedsNetworkPrivileges;
    ASSERT_EQ(testing::enter_fresh_network_namespace(), std::nullopt);
  }

  std::unique_ptr<TunDevice> open(const TunOptions& options) {
    auto device = TunDevice::open(io_, options);
    EXPECT_TRUE(device) << device.error().message;
    return device ? std::move(*device) : nullptr;
  }

  // Writes `requests` in one call and collects the echo replies among what
  // the device reads until there are `requests.size()` of them.
  std::vector<Echo> ping(TunDevice& device, const std::vector<Bytes>& requests) {
    std::vector<Echo> replies;
    device.start([&](std::span<const Packet> packets) {
      ++batches_with_replies_;
      std::size_t found = 0;
      for (const Packet& packet : packets) {
        const auto echo = parse_echo(packet);
        // The kernel may also send router solicitations and the like.
        if (echo && (echo->type == 0 || echo->type == 129)) {
          replies.push_back(*echo);
          ++found;
        }
      }
      if (found == 0) --batches_with_replies_;
    });
    std::vector<Packet> packets;
    for (const Bytes& request : requests) packets.push_back(Packet(request));
    device.write(packets);
    EXPECT_TRUE(testing::run_until(
        io_, [&] { return replies.size() >= requests.size(); }, std::chrono::seconds(3)));
    return replies;
  }

  boost::asio::io_context io_;
  int batches_with_replies_ = 0;
};

TEST(TunDeviceName, RefusesNamesTheKernelWouldNotTake) {
  EXPECT_TRUE(check_interface_name("coral-colony0"));
  EXPECT_TRUE(check_interface_name("abcdefghijklmno"));  // 15 bytes
  EXPECT_EQ(check_interface_name("abcdefghijklmnop").error(),
            "interface name \"abcdefghijklmnop\" is longer than 15 bytes");
  EXPECT_EQ(check_interface_name("").error(), "the interface name is empty");
  for (const char* bad : {".", "..", "a/b", "a:b", "coral%d", "a b", "tab\t"}) {
    EXPECT_FALSE(check_interface_name(bad)) << bad;
  }
  // Refused before anything is created: no privileges needed to see it.
  boost::asio::io_context io;
  const auto device = TunDevice::open(io, named("coral-much-too-long0"));
  ASSERT_FALSE(device);
  EXPECT_EQ(device.error().code, TunErrorCode::invalid_name);
  EXPECT_EQ(device.error().message,
            "creating TUN device: interface name \"coral-much-too-long0\" is longer than 15 bytes");
}

TEST(TunDeviceName, WithoutCapNetAdminTheErrorSaysWhatIsNeeded) {
  const auto text = testing::run_in_child([]() -> std::string {
    // A namespace of its own first (when it can), so that even a failure to
    // drop the capability cannot make an interface on the host.
    if (testing::can_make_network_namespaces() && testing::enter_fresh_network_namespace()) return "no namespace";
    if (!testing::drop_capability(CAP_NET_ADMIN)) return "could not drop CAP_NET_ADMIN";
    boost::asio::io_context io;
    const auto device = TunDevice::open(io, named("coral-x0"));
    if (device) return "created coral-x0";
    return std::string(to_string(device.error().code)) + ": " + device.error().message;
  });
  ASSERT_TRUE(text);
  EXPECT_EQ(
      *text,
      "permission_denied: creating TUN device coral-x0 needs CAP_NET_ADMIN (run as root or grant the capability)");
}

TEST_F(TunDeviceTest, CreatesTheInterfaceWithItsAddressesMtuAndLinkUp) {
  auto device = open(mesh_options("coral-t0"));
  ASSERT_TRUE(device);
  EXPECT_EQ(device->name(), "coral-t0");
  EXPECT_EQ(device->index(), if_nametoindex("coral-t0"));
  EXPECT_EQ(device->mtu(), 1420U);

  std::set<std::string> addresses;
  ifaddrs* list = nullptr;
  ASSERT_EQ(getifaddrs(&list), 0);
  for (const ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (std::string_view(entry->ifa_name) != "coral-t0" || entry->ifa_addr == nullptr) continue;
    EXPECT_NE(entry->ifa_flags & IFF_UP, 0U);
    if (entry->ifa_addr->sa_family == AF_INET) {
      const auto& address = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr)->sin_addr;
      const auto& mask = reinterpret_cast<const sockaddr_in*>(entry->ifa_netmask)->sin_addr;
      const auto* bytes = reinterpret_cast<const std::uint8_t*>(&address.s_addr);
      addresses.insert(IpAddress::v4({bytes[0], bytes[1], bytes[2], bytes[3]}).to_string() + "/" +
                       std::to_string(std::popcount(mask.s_addr)));
    } else if (entry->ifa_addr->sa_family == AF_INET6) {
      const auto& address = reinterpret_cast<const sockaddr_in6*>(entry->ifa_addr)->sin6_addr;
      const auto& mask = reinterpret_cast<const sockaddr_in6*>(entry->ifa_netmask)->sin6_addr;
      IpAddress v6 = IpAddress::v6({});
      std::copy_n(address.s6_addr, 16, v6.bytes.begin());
      int bits = 0;
      for (const std::uint8_t byte : mask.s6_addr) bits += std::popcount(byte);
      if (v6.bytes[0] == 0xfe && (v6.bytes[1] & 0xc0) == 0x80) continue;  // the kernel's link-local address
      addresses.insert(v6.to_string() + "/" + std::to_string(bits));
    }
  }
  freeifaddrs(list);
  EXPECT_EQ(addresses, (std::set<std::string>{"10.42.0.1/16", "fd42::1/64"}));

  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq request{};
  std::strcpy(request.ifr_name, "coral-t0");
  ASSERT_EQ(ioctl(fd, SIOCGIFMTU, &request), 0);
  close(fd);
  EXPECT_EQ(request.ifr_mtu, 1420);
}

TEST_F(TunDeviceTest, KernelAnswersIpv4PingsWrittenIntoIt) {
  auto device = open(mesh_options("coral-t0"));
  ASSERT_TRUE(device);
  // From a peer in the subnet to the device's own address: the kernel
  // answers, and the replies come back out of the device.
  std::vector<Bytes> requests;
  for (std::uint16_t sequence = 1; sequence <= 4; ++sequence) {
    requests.push_back(
        ipv4_echo_request(ip("10.42.0.2"), ip("10.42.0.1"), sequence, "ping " + std::to_string(sequence)));
  }
  const auto replies = ping(*device, requests);
  ASSERT_EQ(replies.size(), 4U);
  for (std::size_t i = 0; i < replies.size(); ++i) {
    EXPECT_EQ(replies[i].source, "10.42.0.1");
    EXPECT_EQ(replies[i].destination, "10.42.0.2");
    EXPECT_EQ(replies[i].id, 0x4242);
    EXPECT_EQ(replies[i].sequence, i + 1);
    EXPECT_EQ(replies[i].payload, "ping " + std::to_string(i + 1));
    EXPECT_TRUE(replies[i].checksums_valid);
  }
  // The kernel answered during write(): one wake-up read all four.
  EXPECT_EQ(batches_with_replies_, 1);
  EXPECT_EQ(device->stats().packets_written, 4U);
  EXPECT_GE(device->stats().packets_read, 4U);
}

TEST_F(TunDeviceTest, KernelAnswersIpv6PingsWrittenIntoItAtOnce) {
  auto device = open(mesh_options("coral-t0"));
  ASSERT_TRUE(device);
  std::vector<Bytes> requests;
  for (std::uint16_t sequence = 1; sequence <= 3; ++sequence) {
    requests.push_back(ipv6_echo_request(ip("fd42::2"), ip("fd42::1"), sequence, "ping6 " + std::to_string(sequence)));
  }
  const auto replies = ping(*device, requests);
  ASSERT_EQ(replies.size(), 3U);
  for (std::size_t i = 0; i < replies.size(); ++i) {
    EXPECT_EQ(replies[i].source, "fd42::1");
    EXPECT_EQ(replies[i].destination, "fd42::2");
    EXPECT_EQ(replies[i].type, 129);
    EXPECT_EQ(replies[i].sequence, i + 1);
    EXPECT_EQ(replies[i].payload, "ping6 " + std::to_string(i + 1));
    EXPECT_TRUE(replies[i].checksums_valid);
  }
}

TEST_F(TunDeviceTest, MalformedPacketsAreDroppedAndCounted) {
  auto device = open(mesh_options("coral-t0"));
  ASSERT_TRUE(device);
  const Bytes garbage = {0x00, 0x01, 0x02};
  const Bytes good = ipv4_echo_request(ip("10.42.0.2"), ip("10.42.0.1"), 7, "after garbage");
  const Packet packets[] = {Packet(garbage), Packet(good)};
  device->write(packets);
  EXPECT_EQ(device->stats().write_errors, 1U);
  EXPECT_EQ(device->stats().packets_written, 1U);
}

TEST_F(TunDeviceTest, InterfaceDisappearsWhenTheDeviceCloses) {
  auto device = open(mesh_options("coral-t0"));
  ASSERT_TRUE(device);
  ASSERT_NE(if_nametoindex("coral-t0"), 0U);
  device->close();
  EXPECT_EQ(if_nametoindex("coral-t0"), 0U);
  device->close();  // idempotent

  // The name is free again; destruction removes the interface too.
  device = open(mesh_options("coral-t0"));
  ASSERT_TRUE(device);
  device.reset();
  EXPECT_EQ(if_nametoindex("coral-t0"), 0U);
}

TEST_F(TunDeviceTest, ExistingNamesAreInUse) {
  auto device = open(mesh_options("coral-t0"));
  ASSERT_TRUE(device);
  for (const char* taken : {"coral-t0", "lo"}) {
    const auto second = TunDevice::open(io_, mesh_options(taken));
    ASSERT_FALSE(second) << taken;
    EXPECT_EQ(second.error().code, TunErrorCode::name_in_use);
    EXPECT_EQ(second.error().message, "creating TUN device " + std::string(taken) +
                                          ": an interface of that name exists already (choose another name, or "
                                          "stop whatever created it)");
  }
  // The first one is untouched.
  EXPECT_EQ(device->index(), if_nametoindex("coral-t0"));
}

TEST_F(TunDeviceTest, ConfigurationFailureNamesTheStepAndRemovesTheInterface) {
  TunOptions options = mesh_options("coral-t0");
  options.addresses.push_back(*InterfaceAddress::parse("10.42.0.1/16"));  // twice
  const auto device = TunDevice::open(io_, options);
  ASSERT_FALSE(device);
  EXPECT_EQ(device.error().code, TunErrorCode::configuration_failed);
  EXPECT_EQ(device.error().message,
            "adding address 10.42.0.1/16 to coral-t0: File exists (the address is given twice)");
  EXPECT_EQ(if_nametoindex("coral-t0"), 0U);
}

TEST_F(TunDeviceTest, HandlerMayCloseTheDevice) {
  auto device = open(mesh_options("coral-t0"));
  ASSERT_TRUE(device);
  int calls = 0;
  device->start([&](std::span<const Packet>) {
    ++calls;
    device->close();
  });
  const Bytes request = ipv4_echo_request(ip("10.42.0.2"), ip("10.42.0.1"), 1, "x");
  const Packet packet = Packet(request);
  device->write({&packet, 1});
  ASSERT_TRUE(testing::run_until(io_, [&] { return calls > 0; }));
  device->write({&packet, 1});
  testing::run_until(
      io_, [] { return false; }, std::chrono::milliseconds(50));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(if_nametoindex("coral-t0"), 0U);
}

}  // namespace
}  // namespace coral::wireguard::device
