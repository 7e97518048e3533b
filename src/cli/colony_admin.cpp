#include "cli/colony_admin.h"

#include <sys/stat.h>

#include "base/pid_file.h"
#include "cli/colony_reach.h"
#include "net/unix.h"

namespace coral::cli {

std::optional<AdminConnection> connect_admin(Context& context, const std::string& colony_id,
                                             boost::asio::any_io_executor executor, std::string_view name_it) {
  auto target = resolve_colony(context, colony_id, ConfigUse::unloaded, name_it);
  if (!target) return std::nullopt;
  return connect_admin(context, std::move(*target), std::move(executor));
}

std::optional<AdminConnection> connect_admin(Context& context, ColonyTarget target,
                                             boost::asio::any_io_executor executor) {
  const std::string id = target.id;  // a copy: target is moved below
  const auto process = base::read_pid_file(target.dir.colony_pid_file(id));
  if (!process.held()) {
    context.fail("colony " + id + " is not running, so it has no admin socket",
                 "start it with: coral colony start " + id);
    return std::nullopt;
  }
  AdminConnection admin{.target = std::move(target), .socket = {}, .channel = {}, .call = {}};
  admin.socket = admin.target.dir.admin_socket(id);
  struct stat st {};
  if (::lstat(admin.socket.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
    context.fail("colony " + id + " runs (" + process.holder_text() + ") but its admin socket " +
                     admin.socket.string() + " is unavailable",
                 "see its log (" + admin.target.dir.colony_log_file(id).string() +
                     ") for why; restarting it creates the socket again");
    return std::nullopt;
  }
  http::Url url;
  url.host = "localhost";  // the Host header only: the dialer ignores it
  admin.channel = std::make_unique<rpc::HttpChannel>(
      executor, rpc::h2c_proto_options(url, net::unix_dialer(executor, admin.socket),
                                       std::chrono::duration_cast<std::chrono::milliseconds>(kCallTimeout)));
  admin.call = rpc::CallOptions{.timeout = kCallTimeout, .headers = {}};
  return admin;
}

void fail_admin_call(Context& context, const AdminConnection& admin, const rpc::Error& error) {
  if (error.code == rpc::Code::unavailable || error.code == rpc::Code::deadline_exceeded) {
    return context.fail("colony " + admin.target.id + " does not answer on its admin socket " + admin.socket.string() +
                            ": " + error.message,
                        "check the colony: coral colony status " + admin.target.id);
  }
  context.fail(error.message);
}

}  // namespace coral::cli
