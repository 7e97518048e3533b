#pragma once
// A connection to a running colony's admin socket (colony/admin_server.h),
// for the commands that call its AdminService: `coral colony peers`,
// `peers add`, `revoke`, `rotate-secret` and `invite`.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>

#include "cli/context.h"
#include "rpc/channel.h"
#include "rpc/error.h"
#include "rpc/http_channel.h"

namespace coral::cli {

struct AdminConnection {
  ColonyTarget target;
  std::filesystem::path socket;
  std::unique_ptr<rpc::HttpChannel> channel;
  rpc::CallOptions call;
};

// The colony named (else the current one), which must run here and serve
// its admin socket; fails (exit 1, saying what to do) otherwise.
std::optional<AdminConnection> connect_admin(Context& context, const std::string& colony_id,
                                             boost::asio::any_io_executor executor, std::string_view name_it);
// The same for a colony already resolved.
std::optional<AdminConnection> connect_admin(Context& context, ColonyTarget target,
                                             boost::asio::any_io_executor executor);

// A failed admin call: the colony's own refusal as it says it, or a socket
// that does not answer.
void fail_admin_call(Context& context, const AdminConnection& admin, const rpc::Error& error);

}  // namespace coral::cli
