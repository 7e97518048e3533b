#pragma once
// The device's UAPI socket: the cross-platform userspace API that `wg`
// and wireguard-go speak (wireguard/uapi.h has the protocol), served on
// the Unix socket /var/run/wireguard/NAME.sock so that `wg show NAME` and
// `wg set NAME ...` work against coral's device.
//
// The socket file is created with mode 0600 (a get returns the private
// key) and removed on close(). A socket file left by a dead process is
// replaced; one that a live process still answers on is an error, as two
// devices cannot share a name.

#include <expected>
#include <filesystem>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace coral::wireguard::device {

class Device;

// Where the UAPI sockets live (wg looks there).
inline constexpr const char* kUapiDirectory = "/var/run/wireguard";

class UapiServer {
 public:
  // Serves `device` (which must outlive the server, or the server be
  // closed first) on `<directory>/<name>.sock`.
  static std::expected<std::unique_ptr<UapiServer>, std::string> open(boost::asio::io_context& io, Device& device,
                                                                       const std::string& name,
                                                                       const std::filesystem::path& directory = kUapiDirectory);
  ~UapiServer();
  UapiServer(const UapiServer&) = delete;
  UapiServer& operator=(const UapiServer&) = delete;

  const std::filesystem::path& path() const;
  // Stops accepting, ends open connections and removes the socket file.
  void close();

 private:
  struct Impl;
  explicit UapiServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace coral::wireguard::device
