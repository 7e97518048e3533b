#pragma once
// Serves the colony's AdminService on its admin socket: a Unix socket in
// the config directory (ConfigDir::admin_socket, mode 0600, inside the 0700
// colonies/ directory), with its own rpc::Server and http::Server, so that
// nothing of it is reachable from the mesh. Connect, gRPC and gRPC-Web over
// HTTP/1.1 and h2c, as on the mesh.
//
// The socket file is removed on shutdown (and when the server is destroyed
// without one). A stale file of a colony that died is replaced; see
// net/unix.h.

#include <chrono>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "colony/admin_service.h"

namespace boost::asio {
class io_context;
}

namespace coral::colony {

class AdminServer {
 public:
  // Listens on `socket_path` and starts serving. The error says what failed
  // and where ("/x/colonies/c.sock: File name too long (...)").
  static std::expected<std::unique_ptr<AdminServer>, std::string> start(boost::asio::io_context& io,
                                                                        std::filesystem::path socket_path,
                                                                        PeerRegistry& registry,
                                                                        AdminServiceOptions options);
  ~AdminServer();

  const std::filesystem::path& socket_path() const;

  // Stops accepting, lets calls in flight finish (up to `grace`) and
  // removes the socket file.
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds grace);

 private:
  struct Impl;
  explicit AdminServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace coral::colony
