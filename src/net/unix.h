#pragma once
// Unix-domain stream sockets under the byte-stream contract (net/stream.h):
// what a process offers only to its own user on this host (the colony's
// admin socket). A listener on a path, and a dialer that connects to that
// path whatever the Target says.
//
// The socket file is created with mode 0600 (owner only): bound, chmod-ed,
// then listened on, so nobody can connect between the bind and the chmod
// (connect() to a socket that does not listen yet is refused). A socket
// file left behind by a process that died is replaced, but only when
// nothing answers on it; a live one is address_in_use, and a path that is
// not a socket is never removed (file_exists).
//
// Paths longer than sun_path (107 bytes and a NUL) work too: the socket is
// bound and reached through its directory's descriptor
// (/proc/self/fd/N/NAME), so only the file name must be short.
//
// Errors are std::error_code values, compared by value:
//   std::errc::filename_too_long     the file name is too long even for that
//   std::errc::address_in_use        another process listens on the path
//   std::errc::file_exists           the path exists and is no socket
//   std::errc::no_such_file_or_directory (dial) no socket file: nothing listens
//   std::errc::connection_refused    (dial) a socket file nobody listens on
// and the system's others (permission_denied, ...).

#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "net/dialer.h"
#include "net/stream.h"

namespace coral::net {

// The longest path a Unix socket may have: sun_path less its NUL.
inline constexpr std::size_t kMaxUnixPathBytes = 107;

class UnixStream final : public ByteStream {
 public:
  explicit UnixStream(boost::asio::local::stream_protocol::socket socket);
  Awaitable<std::expected<std::size_t, std::error_code>> read_some(std::span<std::byte> buffer) override;
  Awaitable<std::error_code> write(std::span<const std::byte> data) override;
  void close() override;
  // "unix": the other end has no address worth logging.
  std::string remote_address() const override;

 private:
  boost::asio::local::stream_protocol::socket socket_;
};

class UnixListener final : public Listener {
 public:
  // Takes a listening acceptor bound to `path`. The file is not removed by
  // the listener: its owner removes it (remove_unix_socket) when it stops.
  UnixListener(boost::asio::local::stream_protocol::acceptor acceptor, std::filesystem::path path);
  Awaitable<std::expected<std::unique_ptr<ByteStream>, std::error_code>> accept() override;
  void close() override;
  // The socket's path.
  std::string local_address() const override;
  // 0: a Unix socket has no port.
  std::uint16_t local_port() const override;

 private:
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::filesystem::path path_;
};

// Listens on `path` (see the header comment for the mode, stale files and
// errors). The parent directory must exist.
std::expected<std::unique_ptr<UnixListener>, std::error_code> listen_unix(boost::asio::any_io_executor executor,
                                                                          const std::filesystem::path& path);

// Removes the socket file at `path` if it is one (never another kind of
// file). For the listener's owner, after closing it.
void remove_unix_socket(const std::filesystem::path& path);

// A Dialer that connects to the Unix socket at `path`, whatever the target.
Dialer unix_dialer(boost::asio::any_io_executor executor, std::filesystem::path path);

// What a Unix socket error at `path` says to people: "/x/c.sock: File name
// too long (a Unix socket's file name is at most about 90 bytes ...)",
// "/x/c.sock: Address already in use (another process listens on it)".
std::string describe_unix_error(const std::filesystem::path& path, std::error_code error);

}  // namespace coral::net
