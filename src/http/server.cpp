#include "http/server.h"

#include <list>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace coral::http {

namespace asio = boost::asio;
using asio::ip::tcp;

struct Server::Impl {
  asio::io_context& io;
  Application& app;
  ServerOptions options;
  std::vector<tcp::acceptor> acceptors;
  std::list<std::shared_ptr<Connection>> connections;
  bool stopping = false;

  asio::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
    while (!stopping) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (stopping || ec == asio::error::operation_aborted) break;
        continue;  // e.g. EMFILE: keep serving the connections we have
      }
      serve(std::move(socket));
    }
  }

  void serve(tcp::socket socket) {
    auto connection = std::make_shared<Connection>(io.get_executor(), std::make_unique<TcpStream>(std::move(socket)),
                                                   options.connection);
    auto it = connections.insert(connections.end(), connection);
    connection->on_closed = [this, it] { connections.erase(it); };
    connection->start(
        make_server_codec(app, connection->waker(), options.limits, connection->stream().remote_address()));
  }
};

Server::Server(asio::io_context& io, Application& app, ServerOptions options)
    : impl_(std::make_unique<Impl>(Impl{io, app, options, {}, {}, false})) {}

Server::~Server() {
  for (auto& connection : impl_->connections) {
    connection->on_closed = nullptr;
    connection->close();
  }
}

std::expected<void, std::string> Server::listen(const std::string& host, std::uint16_t port) {
  const std::string where = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  boost::system::error_code ec;
  tcp::resolver resolver(impl_->io);
  const auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) return std::unexpected(where + ": " + ec.message());
  std::string failure;
  std::size_t bound = 0;
  for (const auto& entry : results) {
    tcp::acceptor acceptor(impl_->io);
    const tcp::endpoint endpoint = entry.endpoint();
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && endpoint.address().is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
    if (!ec) acceptor.bind(tcp::endpoint(endpoint.address(), port), ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      failure = format_endpoint(tcp::endpoint(endpoint.address(), port)) + ": " + ec.message();
      continue;
    }
    impl_->acceptors.push_back(std::move(acceptor));
    ++bound;
    // "localhost" resolves to 127.0.0.1 and ::1; with port 0 both must get
    // the same port, so later ones reuse the first one's.
    if (port == 0) port = impl_->acceptors.front().local_endpoint().port();
  }
  if (bound == 0) return std::unexpected(failure.empty() ? where + ": no address to listen on" : failure);
  return {};
}

std::uint16_t Server::port() const {
  return impl_->acceptors.empty() ? 0 : impl_->acceptors.front().local_endpoint().port();
}

void Server::start() {
  for (auto& acceptor : impl_->acceptors) {
    asio::co_spawn(impl_->io, impl_->accept_loop(acceptor), asio::detached);
  }
}

std::size_t Server::connection_count() const { return impl_->connections.size(); }

asio::awaitable<void> Server::shutdown(std::chrono::milliseconds grace) {
  impl_->stopping = true;
  for (auto& acceptor : impl_->acceptors) {
    boost::system::error_code ec;
    acceptor.close(ec);
  }
  for (auto& connection : impl_->connections) {
    connection->codec().shutdown();
    connection->waker()();
  }
  asio::steady_timer timer(impl_->io);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (!impl_->connections.empty() && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(20));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  for (auto& connection : std::list(impl_->connections)) connection->close();
}

}  // namespace coral::http
