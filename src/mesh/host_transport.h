#pragma once
// The `host` mesh transport: mesh addresses are reached with the host's own
// sockets. Right when the host already routes the mesh (a kernel WireGuard
// interface, the reference implementation's simplified mode) and in tests,
// where colonies get loopback subnets (127.42.0.0/16) or addresses on the
// lo of a network namespace.

#include <chrono>
#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "mesh/transport.h"

namespace coral::mesh {

struct HostTransportOptions {
  std::chrono::milliseconds connect_timeout{5000};
};

std::unique_ptr<Transport> make_host_transport(boost::asio::any_io_executor executor,
                                               HostTransportOptions options = {});

}  // namespace coral::mesh
