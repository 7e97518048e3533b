// coral-rpc-bench-server: coral's RPC server answering
// coral.colony.v1.ColonyService/GetStatus with a fixed status, the method
// the benchmark (bench/rpc_unary.sh) calls on coral, connect-node and the
// bare Go h2c backend alike. Usage: coral-rpc-bench-server [--listen HOST:PORT]
// [--port-file FILE]; stops on SIGTERM.

#include <fstream>
#include <iostream>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "coral/colony/v1/colony.coral.h"
#include "http/server.h"
#include "rpc/server.h"

namespace {

namespace v1 = coral::colony::v1;

class BenchColony final : public v1::ColonyServiceHandler {
 public:
  coral::rpc::Awaitable<coral::rpc::Result<v1::GetStatusResponse>> GetStatus(
      coral::rpc::Context&, const v1::GetStatusRequest&) override {
    v1::GetStatusResponse status;
    status.set_colony_id("bench-colony-0001");
    status.set_app_name("coral-bench");
    status.set_environment("dev");
    status.set_status("running");
    status.mutable_started_at()->set_seconds(1735689600);
    status.set_uptime_seconds(86400);
    status.set_agent_count(3);
    status.set_mesh_ipv4("127.42.0.1");
    co_return status;
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string port_file;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--listen") {
      const std::string listen = argv[i + 1];
      host = listen.substr(0, listen.rfind(':'));
      port = std::uint16_t(std::stoi(listen.substr(listen.rfind(':') + 1)));
    } else if (arg == "--port-file") {
      port_file = argv[i + 1];
    }
  }
  boost::asio::io_context io(1);
  BenchColony colony;
  coral::rpc::Server rpc(io.get_executor());
  rpc.add(colony);
  coral::http::Server server(io, rpc);
  if (auto listening = server.listen(host, port); !listening) {
    std::cerr << "cannot listen on " << listening.error().message() << "\n";
    return 1;
  }
  server.start();
  std::cout << "listening on http://" << host << ":" << server.port() << std::endl;
  if (!port_file.empty()) std::ofstream(port_file) << server.port() << "\n";
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code, int) { io.stop(); });
  io.run();
}
