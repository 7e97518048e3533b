#include "net/unix.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <utility>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace coral::net {

namespace asio = boost::asio;
using asio::local::stream_protocol;

static_assert(sizeof(sockaddr_un{}.sun_path) == kMaxUnixPathBytes + 1);

namespace {

std::error_code errno_code(int error) { return {error, std::system_category()}; }

// The name to bind or connect a Unix socket at `path` by: the path itself
// when it fits sun_path; else, for a path in a deep directory, the same
// file reached through the directory's descriptor
// ("/proc/self/fd/7/c.sock"), which Linux resolves like any path. The
// descriptor stays open as long as the name is used.
class SocketName {
 public:
  static std::expected<SocketName, std::error_code> of(const std::filesystem::path& path) {
    SocketName name;
    if (path.native().size() <= kMaxUnixPathBytes) {
      name.text_ = path.native();
      return name;
    }
    const std::string file = path.filename().native();
    const std::string parent = path.parent_path().native();
    if (file.empty() || parent.empty()) return std::unexpected(std::make_error_code(std::errc::filename_too_long));
    name.dir_fd_ = ::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (name.dir_fd_ < 0) return std::unexpected(errno_code(errno));
    name.text_ = "/proc/self/fd/" + std::to_string(name.dir_fd_) + "/" + file;
    if (name.text_.size() > kMaxUnixPathBytes) return std::unexpected(std::make_error_code(std::errc::filename_too_long));
    return name;
  }
  SocketName() = default;
  SocketName(SocketName&& other) noexcept
      : text_(std::move(other.text_)), dir_fd_(std::exchange(other.dir_fd_, -1)) {}
  SocketName& operator=(SocketName&&) = delete;
  ~SocketName() {
    if (dir_fd_ >= 0) ::close(dir_fd_);
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  int dir_fd_ = -1;
};

// Whether a process accepts connections on the socket at `name` (a plain,
// blocking connect: on a Unix socket it completes or fails at once).
// connection_refused: nobody (the file is stale); other errors are returned.
std::error_code probe(const SocketName& name) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_code(errno);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  name.text().copy(address.sun_path, name.text().size());
  const int result = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  const int saved = errno;
  ::close(fd);
  return result == 0 ? std::error_code() : errno_code(saved);
}

}  // namespace

UnixStream::UnixStream(stream_protocol::socket socket) : socket_(std::move(socket)) {}

Awaitable<std::expected<std::size_t, std::error_code>> UnixStream::read_some(std::span<std::byte> buffer) {
  boost::system::error_code ec;
  const std::size_t n = co_await socket_.async_read_some(asio::buffer(buffer.data(), buffer.size()),
                                                         asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return std::unexpected(std::error_code(ec));
  co_return n;
}

Awaitable<std::error_code> UnixStream::write(std::span<const std::byte> data) {
  boost::system::error_code ec;
  co_await asio::async_write(socket_, asio::buffer(data.data(), data.size()),
                             asio::redirect_error(asio::use_awaitable, ec));
  co_return std::error_code(ec);
}

void UnixStream::close() {
  boost::system::error_code ec;
  socket_.shutdown(stream_protocol::socket::shutdown_both, ec);
  socket_.close(ec);
}

std::string UnixStream::remote_address() const { return "unix"; }

UnixListener::UnixListener(stream_protocol::acceptor acceptor, std::filesystem::path path)
    : acceptor_(std::move(acceptor)), path_(std::move(path)) {}

Awaitable<std::expected<std::unique_ptr<ByteStream>, std::error_code>> UnixListener::accept() {
  boost::system::error_code ec;
  stream_protocol::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return std::unexpected(std::error_code(ec));
  co_return std::make_unique<UnixStream>(std::move(socket));
}

void UnixListener::close() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

std::string UnixListener::local_address() const { return path_.string(); }

std::uint16_t UnixListener::local_port() const { return 0; }

std::expected<std::unique_ptr<UnixListener>, std::error_code> listen_unix(asio::any_io_executor executor,
                                                                          const std::filesystem::path& path) {
  if (path.empty()) return std::unexpected(std::make_error_code(std::errc::invalid_argument));
  auto name = SocketName::of(path);
  if (!name) return std::unexpected(name.error());

  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return std::unexpected(std::make_error_code(std::errc::file_exists));
    const std::error_code answered = probe(*name);
    if (!answered) return std::unexpected(std::make_error_code(std::errc::address_in_use));
    if (answered != std::errc::connection_refused) return std::unexpected(answered);
    // A socket file nobody listens on: left by a process that died.
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return std::unexpected(errno_code(errno));
  } else if (errno != ENOENT) {
    return std::unexpected(errno_code(errno));
  }

  boost::system::error_code ec;
  stream_protocol::acceptor acceptor(executor);
  acceptor.open(stream_protocol(), ec);
  if (ec) return std::unexpected(std::error_code(ec));
  acceptor.bind(stream_protocol::endpoint(name->text()), ec);
  if (ec) return std::unexpected(std::error_code(ec));
  // Owner only, before anyone can connect: connect() is refused until listen().
  if (::chmod(path.c_str(), 0600) != 0) {
    const int saved = errno;
    ::unlink(path.c_str());
    return std::unexpected(errno_code(saved));
  }
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    ::unlink(path.c_str());
    return std::unexpected(std::error_code(ec));
  }
  return std::make_unique<UnixListener>(std::move(acceptor), path);
}

void remove_unix_socket(const std::filesystem::path& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
}

Dialer unix_dialer(asio::any_io_executor executor, std::filesystem::path path) {
  return [executor, path = std::move(path)](const Target&)
             -> Awaitable<std::expected<std::unique_ptr<ByteStream>, std::error_code>> {
    auto name = SocketName::of(path);
    if (!name) co_return std::unexpected(name.error());
    boost::system::error_code ec;
    stream_protocol::socket socket(executor);
    const stream_protocol::endpoint endpoint(name->text());
    co_await socket.async_connect(endpoint, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return std::unexpected(std::error_code(ec));
    co_return std::make_unique<UnixStream>(std::move(socket));
  };
}

std::string describe_unix_error(const std::filesystem::path& path, std::error_code error) {
  std::string text = path.string() + ": " + error.message();
  if (error == std::errc::filename_too_long) {
    text += " (a Unix socket's file name is at most about 90 bytes when its path is longer than " +
            std::to_string(kMaxUnixPathBytes) + " bytes; this one's is " +
            std::to_string(path.filename().native().size()) + ")";
  } else if (error == std::errc::address_in_use) {
    text += " (another process listens on it)";
  } else if (error == std::errc::file_exists) {
    text += " (it is not a socket; it was left as it is)";
  }
  return text;
}

}  // namespace coral::net
