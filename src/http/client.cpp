#include "http/client.h"

#include <list>
#include <map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/connection.h"
#include "net/tcp.h"

namespace coral::http {

namespace asio = boost::asio;

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
  struct Pooled {
    std::shared_ptr<Connection> connection;
    ClientCodec* codec;
  };
  struct Pool {
    std::list<Pooled> connections;
    bool dialing = false;
    std::shared_ptr<asio::steady_timer> dial_done;  // waiters sleep on it; cancelled when the dial ends
  };

  asio::any_io_executor executor;
  ClientOptions options;
  std::map<net::Target, Pool> pools;

  ClientCodec* usable(Pool& pool) {
    for (auto& pooled : pool.connections) {
      if (!pooled.connection->closed() && pooled.codec->can_start_request()) return pooled.codec;
    }
    return nullptr;
  }

  net::Awaitable<std::expected<ClientCodec*, std::string>> acquire(const net::Target& target) {
    for (int attempt = 0;; ++attempt) {
      Pool& pool = pools[target];
      if (ClientCodec* codec = usable(pool)) co_return codec;
      // HTTP/2 multiplexes: while a dial to this target is under way, wait
      // for it rather than opening a second connection.
      if (options.version == Version::http2 && pool.dialing && attempt < 2) {
        auto done = pool.dial_done;
        boost::system::error_code ec;
        co_await done->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      co_return co_await dial(target);
    }
  }

  net::Awaitable<std::expected<ClientCodec*, std::string>> dial(const net::Target& target) {
    auto self = shared_from_this();
    {
      Pool& pool = pools[target];
      pool.dialing = true;
      pool.dial_done = std::make_shared<asio::steady_timer>(executor, asio::steady_timer::time_point::max());
    }
    auto stream = co_await options.dialer(target);
    Pool& pool = pools[target];
    pool.dialing = false;
    pool.dial_done->cancel();
    if (!stream) co_return std::unexpected(net::describe_dial_error(target, stream.error(), options.connect_timeout));
    auto connection = std::make_shared<Connection>(executor, std::move(*stream));
    auto codec = options.version == Version::http2 ? make_h2_client_codec(connection->waker())
                                                   : make_h1_client_codec(connection->waker());
    ClientCodec* raw = codec.get();
    auto it = pool.connections.insert(pool.connections.end(), Pooled{connection, raw});
    std::weak_ptr<Impl> weak = self;
    connection->on_closed = [weak, target, it] {
      if (auto impl = weak.lock()) impl->pools[target].connections.erase(it);
    };
    connection->start(std::move(codec));
    co_return raw;
  }
};

Client::Client(asio::any_io_executor executor, ClientOptions options) : impl_(std::make_shared<Impl>()) {
  impl_->executor = executor;
  if (!options.dialer) options.dialer = net::tcp_dialer(executor, options.connect_timeout);
  impl_->options = std::move(options);
}

Client::~Client() { close(); }

void Client::close() {
  for (auto& [target, pool] : impl_->pools) {
    for (auto& pooled : std::list(pool.connections)) pooled.connection->close();
  }
}

RequestWriter* Client::try_start(const net::Target& target, RequestHead& head, bool end_stream,
                                 std::shared_ptr<ResponseHandler>& handler) {
  const auto pool = impl_->pools.find(target);
  if (pool == impl_->pools.end()) return nullptr;
  ClientCodec* codec = impl_->usable(pool->second);
  if (!codec) return nullptr;
  if (head.authority.empty()) head.authority = target.authority();
  head.version = impl_->options.version;
  return &codec->start_request(std::move(head), end_stream, std::move(handler));
}

net::Awaitable<std::expected<RequestWriter*, std::string>> Client::start(const net::Target& target,
                                                                         RequestHead head, bool end_stream,
                                                                         std::shared_ptr<ResponseHandler> handler) {
  auto impl = impl_;
  auto codec = co_await impl->acquire(target);
  if (!codec) co_return std::unexpected(codec.error());
  if (head.authority.empty()) head.authority = target.authority();
  head.version = impl->options.version;
  co_return &(*codec)->start_request(std::move(head), end_stream, std::move(handler));
}

}  // namespace coral::http
