// `coral colony rotate-secret`: a new colony secret, written to the colony
// file and, when the colony runs, put in force at once through its admin
// socket (AdminService.RotateSecret), so that the running process and the
// file never disagree.

#include <iostream>
#include <memory>

#include "base/pid_file.h"
#include "cli/colony_admin.h"
#include "cli/colony_commands.h"
#include "cli/render.h"
#include "cli/terminal.h"
#include "coral/cli/v1/documents.pb.h"
#include "coral/colony/v1/admin.coral.h"
#include "crypto/keys.h"

namespace coral::cli {

namespace asio = boost::asio;
namespace cv1 = coral::colony::v1;

namespace {

struct RotateFlags {
  std::string colony_id;
  bool json = false;
};

struct Rotation {
  std::string colony_id;
  std::string secret;  // wiped by the caller
  std::string file;
  bool running = false;
  std::uint32_t peers_kept = 0;
};

asio::awaitable<void> run_rotate(Context& context, const RotateFlags& flags) {
  auto target = resolve_colony(context, flags.colony_id, ConfigUse::required, "coral colony rotate-secret <colony-id>");
  if (!target) co_return;
  Rotation rotation{.colony_id = target->id, .secret = {}, .file = target->dir.colony_file(target->id).string(),
                    .running = false, .peers_kept = 0};
  if (base::read_pid_file(target->dir.colony_pid_file(target->id)).held()) {
    // The running colony writes the file and switches in one step; writing
    // the file here would leave it accepting the old secret.
    auto admin = connect_admin(context, std::move(*target), co_await asio::this_coro::executor);
    if (!admin) co_return;
    cv1::AdminServiceClient client(*admin->channel);
    const cv1::RotateSecretRequest request;
    auto rotated = co_await client.RotateSecret(request, admin->call);
    if (!rotated) {
      fail_admin_call(context, *admin, rotated.error());
      co_return;
    }
    rotation.secret = rotated->colony_secret();
    crypto::wipe(*rotated->mutable_colony_secret());
    rotation.file = rotated->colony_file();
    rotation.running = true;
    rotation.peers_kept = rotated->peers_kept();
  } else {
    auto rotated = config::rotate_secret(target->dir.colony_file(target->id), target->config->wireguard.public_key);
    if (!rotated) co_return context.fail(rotated.error(), "the colony secret is unchanged");
    rotation.secret = std::move(rotated->colony_secret);
    crypto::wipe(rotated->colony_secret);
  }

  std::string text;
  if (flags.json) {
    coral::cli::v1::SecretRotation document;
    document.set_colony_id(rotation.colony_id);
    document.set_colony_secret(rotation.secret);
    document.set_colony_file(rotation.file);
    document.set_running(rotation.running);
    if (rotation.running) document.set_peers_kept(rotation.peers_kept);
    text = proto_json(document) + "\n";
    crypto::wipe(*document.mutable_colony_secret());
  } else {
    text = "✓ New colony secret for colony " + rotation.colony_id + " (printed this once):\n    " + rotation.secret +
           "\n  ├─ Written to: " + rotation.file + " (mode 0600)\n";
    if (rotation.running) {
      text += "  ├─ Running colony: switched at once; " + count(rotation.peers_kept, "peer stays", "peers stay") +
              " registered, Register with the old secret is refused\n";
    } else {
      text += "  ├─ Colony: not running; it uses the new secret when it starts\n";
    }
    text += "  └─ Members joining from now on need it: give them a new member file (coral colony invite " +
            rotation.colony_id + " --out FILE)\n";
  }
  if (!write_stdout_unbuffered(text)) {
    context.fail("cannot write to stdout (the new secret is in " + rotation.file + ")");
  }
  crypto::wipe(text);
  crypto::wipe(rotation.secret);
}

}  // namespace

void add_colony_secret_command(CLI::App& colony, Context& context) {
  auto flags = std::make_shared<RotateFlags>();
  CLI::App* rotate = colony.add_subcommand(
      "rotate-secret",
      "Give the colony a new colony secret (the lockout after a revocation): written to its file (0600), in force "
      "at once if it runs; registered peers stay, Register with the old secret is refused");
  rotate->add_option("colony-id", flags->colony_id, "the colony (default: the current one)");
  rotate->add_flag("--json", flags->json, "print {colony_id, colony_secret, colony_file, running, peers_kept}");
  rotate->callback([&context, flags] { run_command(context, *flags, &run_rotate); });
}

}  // namespace coral::cli
