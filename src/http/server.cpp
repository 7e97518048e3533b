#include "http/server.h"

#include <list>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/log.h"
#include "base/memory.h"
#include "net/tcp.h"

namespace coral::http {

namespace asio = boost::asio;

namespace {
using Clock = std::chrono::steady_clock;
// At most one "over capacity" warning per this period (it says how many).
constexpr auto kWarningPeriod = std::chrono::seconds(10);
// After this many connections closed, the heap is trimmed (once the burst
// of closes is over), so that memory taken by an attack is given back.
constexpr std::size_t kTrimAfterCloses = 256;
constexpr auto kTrimDelay = std::chrono::seconds(1);
// Descriptors of the open-files limit that connections never take.
constexpr std::uint64_t kDescriptorHeadroom = 256;

std::size_t connection_cap(std::size_t wanted) {
  const std::uint64_t limit = base::open_files_limit();
  const std::uint64_t room = limit > 2 * kDescriptorHeadroom ? limit - kDescriptorHeadroom : limit / 2;
  return std::size_t(std::min<std::uint64_t>(wanted, room));
}
}  // namespace

struct Server::Impl {
  asio::io_context& io;
  Application& app;
  ServerOptions options;
  std::vector<std::unique_ptr<net::Listener>> listeners;
  std::list<std::shared_ptr<Connection>> connections;
  ServerStats stats;
  bool started = false;
  bool stopping = false;
  Clock::time_point last_warning{};
  std::uint64_t refused_at_last_warning = 0;
  std::uint64_t evicted_at_last_warning = 0;
  std::size_t closed_since_trim = 0;
  asio::steady_timer trim_timer{io};
  bool trim_pending = false;
  // False once the server is destroyed. Accept loops hold a copy: a loop
  // whose accept() completes (operation_aborted) after the server and its
  // listeners are gone must not touch them.
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  Impl(asio::io_context& io_context, Application& application, ServerOptions server_options)
      : io(io_context), app(application), options(server_options) {
    options.max_connections = connection_cap(options.max_connections);
  }

  // `server_alive` is a parameter, copied when the loop is spawned: the
  // loop's first step may run after the server is gone.
  asio::awaitable<void> accept_loop(net::Listener& listener, std::shared_ptr<bool> server_alive) {
    while (*server_alive && !stopping) {
      auto stream = co_await listener.accept();
      if (!*server_alive) break;
      if (!stream) {
        if (stopping || stream.error() == std::errc::operation_canceled) break;
        // e.g. EMFILE (max_connections should leave room): keep serving the
        // connections we have, and try again once some may have closed.
        asio::steady_timer pause(io, std::chrono::milliseconds(50));
        boost::system::error_code ec;
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      if (connections.size() >= options.max_connections && !evict_one()) {
        refuse(**stream);
        continue;
      }
      serve(std::move(*stream));
    }
  }

  // Closes the open connection that has waited longest on its client;
  // false when every one is busy. Closed connections leave the list once
  // their loops end; their descriptors are released at once.
  bool evict_one() {
    Connection* oldest = nullptr;
    Clock::time_point oldest_since = Clock::time_point::max();
    std::size_t open = 0;
    for (const auto& connection : connections) {
      if (connection->closed()) continue;
      ++open;
      const auto since = connection->waiting_since();
      if (since && *since < oldest_since) {
        oldest_since = *since;
        oldest = connection.get();
      }
    }
    if (open < options.max_connections) return true;  // the cap counts open ones
    if (!oldest) return false;
    oldest->expire(CloseReason::evicted);
    ++stats.evicted;
    warn_over_capacity();
    return true;
  }

  void refuse(net::ByteStream& stream) {
    stream.close();
    ++stats.refused_over_capacity;
    warn_over_capacity();
  }

  void warn_over_capacity() {
    const auto now = Clock::now();
    if (last_warning != Clock::time_point{} && now - last_warning < kWarningPeriod) return;
    log::warn("too many connections: the longest-waiting closed, or new ones refused",
              {{"max_connections", std::to_string(options.max_connections)},
               {"evicted", std::to_string(stats.evicted - evicted_at_last_warning)},
               {"refused", std::to_string(stats.refused_over_capacity - refused_at_last_warning)}});
    last_warning = now;
    refused_at_last_warning = stats.refused_over_capacity;
    evicted_at_last_warning = stats.evicted;
  }

  void serve(std::unique_ptr<net::ByteStream> stream) {
    ++stats.accepted;
    auto connection = std::make_shared<Connection>(io.get_executor(), std::move(stream), options.connection);
    auto it = connections.insert(connections.end(), connection);
    Connection* raw = connection.get();
    connection->on_closed = [this, it, raw] {
      switch (raw->close_reason()) {
        case CloseReason::head_timeout: ++stats.head_timeouts; break;
        case CloseReason::idle_timeout: ++stats.idle_timeouts; break;
        case CloseReason::send_stall: ++stats.send_stalls; break;
        case CloseReason::slow_body: ++stats.slow_bodies; break;
        case CloseReason::evicted:  // counted when evicted
        case CloseReason::none: break;
      }
      connections.erase(it);
      closed();
    };
    connection->start(
        make_server_codec(app, connection->waker(), options.limits, connection->stream().remote_address()));
  }

  void closed() {
    if (++closed_since_trim < kTrimAfterCloses || trim_pending) return;
    trim_pending = true;
    trim_timer.expires_after(kTrimDelay);
    trim_timer.async_wait([this, alive = alive](boost::system::error_code ec) {
      if (ec || !*alive) return;
      trim_pending = false;
      closed_since_trim = 0;
      base::release_free_memory();
    });
  }
};

Server::Server(asio::io_context& io, Application& app, ServerOptions options)
    : impl_(std::make_unique<Impl>(io, app, options)) {}

Server::~Server() {
  *impl_->alive = false;
  impl_->trim_timer.cancel();
  for (auto& connection : impl_->connections) {
    connection->on_closed = nullptr;
    connection->close();
  }
}

std::expected<void, net::ListenError> Server::listen(const std::string& host, std::uint16_t port) {
  auto listeners = net::listen_tcp(impl_->io.get_executor(), host, port);
  if (!listeners) return std::unexpected(listeners.error());
  for (auto& listener : *listeners) add_listener(std::move(listener));
  return {};
}

void Server::add_listener(std::unique_ptr<net::Listener> listener) {
  net::Listener& added = *impl_->listeners.emplace_back(std::move(listener));
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

const ServerStats& Server::stats() const { return impl_->stats; }

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
