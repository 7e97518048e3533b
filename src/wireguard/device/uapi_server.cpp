#include "wireguard/device/uapi_server.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <system_error>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "base/log.h"
#include "wireguard/device/device.h"
#include "wireguard/uapi.h"

namespace coral::wireguard::device {

namespace asio = boost::asio;
using asio::local::stream_protocol;

namespace {

// A set request against the device: the operations applied to a copy of
// its settings, which then become the device's. Nothing changes when the
// request does not parse or the device refuses the result.
std::string handle_set(Device& device, const std::string& body) {
  auto operations = uapi::parse_set(body);
  if (!operations) {
    log::warn("UAPI set refused", {{"line", std::to_string(operations.error().line)},
                                   {"error", operations.error().detail}});
    return uapi::format_errno_response(operations.error().errno_value());
  }
  DeviceSettings settings = device.settings();
  uapi::apply_set(settings, *operations);
  if (auto applied = device.configure(settings); !applied) {
    log::warn("UAPI set failed", {{"error", applied.error()}});
    return uapi::format_errno_response(EADDRINUSE);
  }
  return uapi::format_errno_response(0);
}

}  // namespace

struct UapiServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, Device& served, std::filesystem::path socket_path)
      : acceptor(io), device(served), path(std::move(socket_path)) {}

  stream_protocol::acceptor acceptor;
  Device& device;
  std::filesystem::path path;
  std::vector<std::weak_ptr<stream_protocol::socket>> connections;
  bool closed = false;

  asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self) {
    while (!closed) {
      boost::system::error_code ec;
      auto socket = std::make_shared<stream_protocol::socket>(co_await acceptor.async_accept(
          asio::redirect_error(asio::use_awaitable, ec)));
      if (ec) break;
      // Connections end on their own (a `wg show` is one request): keep
      // only the live ones, so that the list does not grow with every call.
      std::erase_if(connections, [](const auto& weak) { return weak.expired(); });
      connections.push_back(socket);
      asio::co_spawn(acceptor.get_executor(), serve(self, socket), asio::detached);
    }
  }

  // `self` keeps the server state alive while the connection lasts.
  asio::awaitable<void> serve([[maybe_unused]] std::shared_ptr<Impl> self,
                              std::shared_ptr<stream_protocol::socket> socket) {
    uapi::RequestFramer framer;
    std::array<char, 4096> buffer;
    while (!closed) {
      boost::system::error_code ec;
      const std::size_t n =
          co_await socket->async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
      if (ec || closed) break;
      framer.feed(std::string_view(buffer.data(), n));
      for (;;) {
        auto request = framer.next();
        std::string answer;
        bool last = false;
        if (!request) {
          answer = uapi::framing_error_response(request.error()).value_or("");
          last = true;
        } else if (!*request) {
          break;
        } else if ((*request)->kind == uapi::RequestKind::get) {
          answer = uapi::format_get_response(device.snapshot());
        } else {
          answer = handle_set(device, (*request)->body);
        }
        co_await asio::async_write(*socket, asio::buffer(answer), asio::redirect_error(asio::use_awaitable, ec));
        // A get answer holds the private key: wipe our copy.
        std::fill(answer.begin(), answer.end(), '\0');
        if (ec || last) co_return;
      }
    }
  }
};

std::expected<std::unique_ptr<UapiServer>, std::string> UapiServer::open(asio::io_context& io, Device& device,
                                                                         const std::string& name,
                                                                         const std::filesystem::path& directory) {
  std::error_code fs_error;
  std::filesystem::create_directories(directory, fs_error);
  if (fs_error) return std::unexpected("UAPI directory " + directory.string() + ": " + fs_error.message());
  const std::filesystem::path path = directory / (name + ".sock");
  if (std::filesystem::exists(path, fs_error)) {
    stream_protocol::socket probe(io);
    boost::system::error_code ec;
    probe.connect(stream_protocol::endpoint(path.string()), ec);
    if (!ec) return std::unexpected("UAPI socket " + path.string() + " is in use: another device is called " + name);
    std::filesystem::remove(path, fs_error);  // left by a process that is gone
  }
  auto impl = std::make_shared<Impl>(io, device, path);
  boost::system::error_code ec;
  impl->acceptor.open(stream_protocol(), ec);
  // The file is created by bind() with the process umask: make it 0600 from
  // the start rather than chmod an already reachable socket.
  const mode_t old_mask = ::umask(0077);
  if (!ec) impl->acceptor.bind(stream_protocol::endpoint(path.string()), ec);
  ::umask(old_mask);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return std::unexpected("UAPI socket " + path.string() + ": " + ec.message());
  asio::co_spawn(io, impl->accept_loop(impl), asio::detached);
  return std::unique_ptr<UapiServer>(new UapiServer(std::move(impl)));
}

UapiServer::UapiServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

UapiServer::~UapiServer() { close(); }

const std::filesystem::path& UapiServer::path() const { return impl_->path; }

void UapiServer::close() {
  if (impl_->closed) return;
  impl_->closed = true;
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  for (const auto& weak : impl_->connections) {
    if (auto socket = weak.lock()) socket->close(ec);
  }
  std::error_code fs_error;
  std::filesystem::remove(impl_->path, fs_error);
}

}  // namespace coral::wireguard::device
