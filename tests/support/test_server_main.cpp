// coral-test-server: serves coral.testing.v1.EchoService for the interop and
// end-to-end tests. Usage:
//   coral-test-server [--listen HOST:PORT] [--port-file FILE] [--max-message-bytes N]
// Port 0 picks a free port; it is printed ("listening on http://HOST:PORT")
// and written to --port-file. Stops on SIGTERM or SIGINT.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "echo_service.h"
#include "http/server.h"
#include "rpc/server.h"

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  std::string port = "0";
  std::string port_file;
  coral::rpc::ServerOptions rpc_options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << arg << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--listen") {
      const std::string listen = value();
      const auto colon = listen.rfind(':');
      host = listen.substr(0, colon);
      if (host.starts_with('[')) host = host.substr(1, host.size() - 2);
      port = listen.substr(colon + 1);
    } else if (arg == "--port-file") {
      port_file = value();
    } else if (arg == "--max-message-bytes") {
      rpc_options.max_message_bytes = std::stoull(value());
    } else {
      std::cerr << "usage: coral-test-server [--listen HOST:PORT] [--port-file FILE] [--max-message-bytes N]\n";
      return arg == "--help" ? 0 : 2;
    }
  }

  boost::asio::io_context io(1);
  coral::testing::EchoService echo;
  coral::rpc::Server rpc(io.get_executor(), rpc_options);
  rpc.add(echo);
  coral::http::Server server(io, rpc);
  if (auto listening = server.listen(host, std::uint16_t(std::stoi(port))); !listening) {
    std::cerr << "coral-test-server: cannot listen on " << listening.error().message() << "\n";
    return 1;
  }
  server.start();
  const auto bound = server.port();
  std::cout << "listening on http://" << (host.find(':') != std::string::npos ? "[" + host + "]" : host) << ":" << bound
            << std::endl;
  if (!port_file.empty()) {
    const std::string temp = port_file + ".tmp";
    std::ofstream(temp) << bound << "\n";
    std::rename(temp.c_str(), port_file.c_str());
  }
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code, int) {
    boost::asio::co_spawn(io, server.shutdown(std::chrono::seconds(5)), [&](std::exception_ptr) { io.stop(); });
  });
  io.run();
  return 0;
}
