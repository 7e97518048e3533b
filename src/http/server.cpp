#include "http/server.h"

#include <list>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace coral::http {

namespace asio = boost::asio;

struct Server::Impl {
  asio::io_context& io;
  Application& app;
  ServerOptions options;
  std::vector<std::unique_ptr<Listener>> listeners;
  std::list<std::shared_ptr<Connection>> connections;
  bool started = false;
  bool stopping = false;
  // False once the server is destroyed. Accept loops hold a copy: a loop
  // whose accept() completes (operation_aborted) after the server and its
  // listeners are gone must not touch them.
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  // `server_alive` is a parameter, copied when the loop is spawned: the
  // loop's first step may run after the server is gone.
  asio::awaitable<void> accept_loop(Listener& listener, std::shared_ptr<bool> server_alive) {
    while (*server_alive && !stopping) {
      auto stream = co_await listener.accept();
      if (!*server_alive) break;
      if (!stream) {
        if (stopping || stream.error() == std::errc::operation_canceled) break;
        // e.g. EMFILE: keep serving the connections we have, and try again
        // once some may have closed.
        asio::steady_timer pause(io, std::chrono::milliseconds(50));
        boost::system::error_code ec;
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      serve(std::move(*stream));
    }
  }

  void serve(std::unique_ptr<ByteStream> stream) {
    auto connection = std::make_shared<Connection>(io.get_executor(), std::move(stream), options.connection);
    auto it = connections.insert(connections.end(), connection);
    connection->on_closed = [this, it] { connections.erase(it); };
    connection->start(
        make_server_codec(app, connection->waker(), options.limits, connection->stream().remote_address()));
  }
};

Server::Server(asio::io_context& io, Application& app, ServerOptions options)
    : impl_(std::make_unique<Impl>(Impl{io, app, options, {}, {}, false, false})) {}

Server::~Server() {
  *impl_->alive = false;
  for (auto& connection : impl_->connections) {
    connection->on_closed = nullptr;
    connection->close();
  }
}

std::expected<void, std::string> Server::listen(const std::string& host, std::uint16_t port) {
  auto listeners = listen_tcp(impl_->io.get_executor(), host, port);
  if (!listeners) return std::unexpected(listeners.error());
  for (auto& listener : *listeners) add_listener(std::move(listener));
  return {};
}

void Server::add_listener(std::unique_ptr<Listener> listener) {
  Listener& added = *impl_->listeners.emplace_back(std::move(listener));
  if (impl_->started) asio::co_spawn(impl_->io, impl_->accept_loop(added, impl_->alive), asio::detached);
}

std::uint16_t Server::port() const {
  return impl_->listeners.empty() ? 0 : impl_->listeners.front()->local_port();
}

std::vector<std::string> Server::addresses() const {
  std::vector<std::string> addresses;
  for (const auto& listener : impl_->listeners) addresses.push_back(listener->local_address());
  return addresses;
}

void Server::start() {
  impl_->started = true;
  for (auto& listener : impl_->listeners) asio::co_spawn(impl_->io, impl_->accept_loop(*listener, impl_->alive), asio::detached);
}

std::size_t Server::connection_count() const { return impl_->connections.size(); }

asio::awaitable<void> Server::shutdown(std::chrono::milliseconds grace) {
  impl_->stopping = true;
  for (auto& listener : impl_->listeners) listener->close();
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
