#include "colony/admin_server.h"

#include <boost/asio/io_context.hpp>

#include "base/log.h"
#include "http/server.h"
#include "net/unix.h"
#include "rpc/server.h"

namespace coral::colony {

struct AdminServer::Impl {
  std::filesystem::path socket_path;
  // Declared in the order they depend on each other: destroyed http first.
  std::unique_ptr<AdminService> service;
  std::unique_ptr<rpc::Server> rpc;
  std::unique_ptr<http::Server> http;
  bool removed = false;

  void remove_socket() {
    if (removed) return;
    removed = true;
    net::remove_unix_socket(socket_path);
  }
};

AdminServer::AdminServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AdminServer::~AdminServer() {
  if (impl_) impl_->remove_socket();
}

std::expected<std::unique_ptr<AdminServer>, std::string> AdminServer::start(boost::asio::io_context& io,
                                                                            std::filesystem::path socket_path,
                                                                            PeerRegistry& registry,
                                                                            AdminServiceOptions options) {
  auto listener = net::listen_unix(io.get_executor(), socket_path);
  if (!listener) return std::unexpected(net::describe_unix_error(socket_path, listener.error()));
  auto impl = std::make_unique<Impl>();
  impl->socket_path = std::move(socket_path);
  impl->service = std::make_unique<AdminService>(registry, std::move(options));
  impl->rpc = std::make_unique<rpc::Server>(io.get_executor());
  impl->rpc->add(*impl->service);
  impl->rpc->on_call([](const rpc::CallRecord& call) {
    log::debug("admin call", {{"procedure", std::string(call.procedure)},
                              {"code", std::string(rpc::to_string(call.code))},
                              {"duration_us", std::to_string(call.duration.count())}});
  });
  // The operator's own socket: a few connections at a time at most.
  http::ServerOptions http_options;
  http_options.max_connections = 64;
  impl->http = std::make_unique<http::Server>(io, *impl->rpc, http_options);
  impl->http->add_listener(std::move(*listener));
  impl->http->start();
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl)));
}

const std::filesystem::path& AdminServer::socket_path() const { return impl_->socket_path; }

boost::asio::awaitable<void> AdminServer::shutdown(std::chrono::milliseconds grace) {
  co_await impl_->http->shutdown(grace);
  impl_->remove_socket();
}

}  // namespace coral::colony
