// `coral colony invite` and `coral colony import`: member files
// (config/member_file.h), so that other machines join a colony's mesh
// without its private key. See docs/cli.md and docs/configuration.md.

#include <iostream>
#include <memory>

#include "base/address.h"
#include "base/file.h"
#include "base/pid_file.h"
#include "cli/colony_admin.h"
#include "cli/colony_commands.h"
#include "cli/terminal.h"
#include "config/member_file.h"
#include "coral/colony/v1/admin.coral.h"
#include "crypto/keys.h"

namespace coral::cli {

namespace asio = boost::asio;
namespace cv1 = coral::colony::v1;

namespace {

struct InviteFlags {
  std::string colony_id;
  std::string out;
  std::vector<std::string> public_endpoints;
  bool force = false;
};

struct ImportFlags {
  std::string file;
  bool force = false;
};

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// The running colony's public endpoints (what it announces to discovery),
// asked on its admin socket; nullopt when it does not run here or does not
// answer (nothing is printed: the caller falls back).
asio::awaitable<std::optional<std::vector<std::string>>> running_endpoints(const ColonyTarget& target) {
  if (!base::read_pid_file(target.dir.colony_pid_file(target.id)).held()) co_return std::nullopt;
  Context quiet;  // connect_admin's failures are not this command's
  std::streambuf* saved = std::cerr.rdbuf(nullptr);
  auto admin = connect_admin(quiet, target, co_await asio::this_coro::executor);
  std::cerr.rdbuf(saved);
  if (!admin) co_return std::nullopt;
  cv1::AdminServiceClient client(*admin->channel);
  const cv1::ListPeersRequest request;
  auto peers = co_await client.ListPeers(request, admin->call);
  if (!peers) co_return std::nullopt;
  co_return std::vector<std::string>(peers->colony_endpoints().begin(), peers->colony_endpoints().end());
}

asio::awaitable<void> run_invite(Context& context, const InviteFlags& flags) {
  for (const auto& endpoint : flags.public_endpoints) {
    if (auto parsed = base::parse_host_port(endpoint); !parsed) {
      co_return context.usage("--public-endpoint \"" + endpoint + "\": " + parsed.error());
    }
  }
  if (flags.force && flags.out.empty()) co_return context.usage("--force replaces the --out file: give --out FILE");
  auto target = resolve_colony(context, flags.colony_id, ConfigUse::required, "coral colony invite <colony-id>");
  if (!target) co_return;
  config::ColonyConfig& colony = *target->config;

  // The endpoints: the flags, else the colony file's, else what the
  // running colony announces, else (a WireGuard colony) this host's
  // addresses at its listen port, as `coral colony start` picks them.
  std::vector<std::string> endpoints = flags.public_endpoints;
  std::string source = "--public-endpoint";
  if (endpoints.empty() && !colony.wireguard.public_endpoints.empty()) {
    endpoints = colony.wireguard.public_endpoints;
    source = "the colony file";
  }
  if (endpoints.empty()) {
    if (auto running = co_await running_endpoints(*target); running && !running->empty()) {
      endpoints = std::move(*running);
      source = "the running colony";
    }
  }
  if (endpoints.empty() && colony.wireguard.mesh != config::MeshTransport::host) {
    endpoints = host_endpoints(colony.wireguard, colony.wireguard.listen_port);
    source = "this host's addresses";
  }

  config::MemberConfig member = config::member_view(colony, endpoints);
  crypto::wipe(colony.colony_secret);
  std::string text = config::to_yaml(member);
  crypto::wipe(member.colony_secret);
  const std::string shown = endpoints.empty() ? std::string("none (the member finds them in discovery)")
                                              : joined(endpoints) + " (from " + source + ")";
  if (flags.out.empty()) {
    std::cerr << "warning: this member file holds colony " << target->id
              << "'s secret: keep it private (--out FILE writes it with mode 0600)\n";
    if (!write_stdout_unbuffered(text)) context.fail("cannot write to stdout");
    crypto::wipe(text);
    co_return;
  }
  auto written = base::write_file_atomically(flags.out, text, 0600,
                                             flags.force ? base::Overwrite::yes : base::Overwrite::no);
  crypto::wipe(text);
  if (!written) {
    // Refused because the file is there (Overwrite::no), as save_colony tells it.
    std::error_code ignored;
    const bool exists = !flags.force && std::filesystem::exists(flags.out, ignored);
    co_return context.fail(written.error(), exists ? "use --force to replace it" : "");
  }
  std::cout << "✓ Member file for colony " << target->id << ": " << flags.out << " (mode 0600)\n"
            << "  ├─ Public endpoints: " << shown << "\n"
            << "  ├─ It holds the colony secret, never the colony's private key: keep it private\n"
            << "  └─ On the other machine: coral colony import " << flags.out << "\n";
}

void run_import(Context& context, const ImportFlags& flags) {
  auto dir = context.config_dir();
  if (!dir) return context.fail(dir.error());
  auto member = config::load_member_file(flags.file);
  if (!member) return context.fail(member.error());
  if (auto warning = config::permission_warning(flags.file)) std::cerr << "warning: " << *warning << "\n";
  auto saved = dir->save_member(*member, flags.force);
  const std::string id = member->colony_id;
  const std::string app = member->app_name + " / " + member->environment;
  const std::string mesh = base::format_ipv4(member->mesh_ipv4) + " / " + base::format_ipv6(member->mesh_ipv6);
  const std::string key = member->colony_public_key.to_base64();
  const std::string endpoints = member->public_endpoints.empty() ? std::string("none (from discovery)")
                                                                 : joined(member->public_endpoints);
  crypto::wipe(member->colony_secret);
  if (!saved) return context.fail(saved.error());
  if (auto used = dir->use(id); !used) {
    return context.fail("imported into " + saved->string() + ", but it could not be made the current colony: " +
                        used.error());
  }
  std::cout << "✓ Imported colony " << id << " (" << app << ") as a member entry: " << saved->string()
            << " (mode 0600)\n"
            << "  ├─ Colony key: " << key << "\n"
            << "  ├─ Colony mesh IPs: " << mesh << ", endpoints: " << endpoints << "\n"
            << "  └─ Current colony: " << id << " (coral proxy start " << id << ")\n";
}

}  // namespace

void add_colony_member_commands(CLI::App& colony, Context& context) {
  auto invite_flags = std::make_shared<InviteFlags>();
  CLI::App* invite = colony.add_subcommand(
      "invite",
      "Write a member file: what another machine needs to join this colony (its public key, endpoints, subnets, "
      "secret; never its private key)");
  invite->add_option("colony-id", invite_flags->colony_id, "the colony (default: the current one)");
  invite->add_option("--out", invite_flags->out, "write it to FILE (mode 0600) instead of stdout");
  invite->add_option("--public-endpoint", invite_flags->public_endpoints,
                     "HOST:PORT of the colony's WireGuard listener for members (repeatable; default: the colony "
                     "file's wireguard.public_endpoints, else what the running colony announces, else this host's "
                     "addresses at the listen port)");
  invite->add_flag("--force", invite_flags->force, "replace an existing --out file");
  invite->callback([&context, invite_flags] { run_command(context, *invite_flags, &run_invite); });

  auto import_flags = std::make_shared<ImportFlags>();
  CLI::App* import = colony.add_subcommand(
      "import", "Store a member file (coral colony invite) in the config directory and make its colony current");
  import->add_option("file", import_flags->file, "the member file")->required();
  import->add_flag("--force", import_flags->force,
                   "replace a member entry of another colony with the same id (another WireGuard key)");
  import->callback([&context, import_flags] { run_import(context, *import_flags); });
}

}  // namespace coral::cli
