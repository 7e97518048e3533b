// `coral colony peers`, `coral colony peers add` and `coral colony revoke`:
// calls to the running colony's AdminService on its admin socket.

#include "cli/colony_peers.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <vector>

#include <google/protobuf/util/time_util.h>

#include "base/file.h"
#include "base/pid_file.h"
#include "cli/app.h"
#include "cli/colony_admin.h"
#include "cli/colony_commands.h"
#include "cli/colony_reach.h"
#include "cli/render.h"
#include "cli/terminal.h"
#include "cli/wg_quick.h"
#include "coral/colony/v1/admin.coral.h"
#include "crypto/keys.h"
#include "net/unix.h"
#include "rpc/http_channel.h"

namespace coral::cli {

namespace asio = boost::asio;
namespace cv1 = coral::colony::v1;
using google::protobuf::util::TimeUtil;

namespace {

// A private key file: a key and whitespace, nothing near this size.
constexpr std::size_t kMaxKeyFileBytes = 1024;

struct ListFlags {
  std::string colony_positional;
  std::string colony;
  bool json = false;
  bool revoked = false;
};

struct AddFlags {
  std::string name;
  std::string pubkey;
  std::string colony;
  std::string private_key_file;
  std::string out;
};

struct RevokeFlags {
  std::string selector;
  std::string colony;
};

std::string transfer(const cv1::PeerWireGuard& wireguard) {
  return format_bytes(wireguard.rx_bytes()) + " in, " + format_bytes(wireguard.tx_bytes()) + " out";
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// The private key in `path` (as `wg genkey` writes it), never in the
// process's arguments. Read with read(2) into one buffer, wiped after: no
// stream buffer keeps a copy.
std::expected<crypto::SecretKey, std::string> read_private_key_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected("--private-key-file " + path + ": cannot read it: " + std::strerror(errno));
  std::string buffer(kMaxKeyFileBytes + 1, '\0');
  std::size_t size = 0;
  bool failed = false;
  while (size < buffer.size()) {
    const ssize_t got = ::read(fd, buffer.data() + size, buffer.size() - size);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) failed = true;
    if (got <= 0) break;
    size += static_cast<std::size_t>(got);
  }
  ::close(fd);
  std::expected<crypto::SecretKey, std::string> result = std::unexpected(std::string());
  if (failed) {
    result = std::unexpected("--private-key-file " + path + ": cannot read it");
  } else if (size > kMaxKeyFileBytes) {
    result = std::unexpected("--private-key-file " + path + ": holds more than a private key (over " +
                             std::to_string(kMaxKeyFileBytes) + " bytes)");
  } else {
    std::string_view text(buffer.data(), size);
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    auto key = crypto::SecretKey::from_base64(text);
    if (key) {
      result = std::move(*key);
    } else {
      result = std::unexpected("--private-key-file " + path + ": not a WireGuard private key: " + key.error());
    }
  }
  crypto::wipe(buffer);
  return result;
}


asio::awaitable<void> run_list(Context& context, const ListFlags& flags) {
  if (!flags.colony.empty() && !flags.colony_positional.empty() && flags.colony != flags.colony_positional) {
    co_return context.usage("the colony is named twice: " + flags.colony_positional + " and --colony " + flags.colony);
  }
  auto admin = connect_admin(context, flags.colony.empty() ? flags.colony_positional : flags.colony,
                             co_await asio::this_coro::executor, "coral colony peers <colony-id>");
  if (!admin) co_return;
  cv1::AdminServiceClient client(*admin->channel);
  cv1::ListPeersRequest request;
  request.set_include_revoked(flags.revoked);
  auto peers = co_await client.ListPeers(request, admin->call);
  if (!peers) co_return fail_admin_call(context, *admin, peers.error());
  if (flags.json) {
    std::cout << proto_json(*peers) << "\n";
    co_return;
  }
  std::cout << format_peer_table(*peers, TimeUtil::GetCurrentTime());
  if (flags.revoked) std::cout << format_revoked_table(*peers);
}

asio::awaitable<void> run_add(Context& context, const AddFlags& flags) {
  if (auto valid = config::validate_colony_id(flags.name); !valid) co_return context.usage("NAME: " + valid.error());
  std::optional<crypto::SecretKey> private_key;
  if (!flags.private_key_file.empty()) {
    auto key = read_private_key_file(flags.private_key_file);
    if (!key) co_return context.fail(key.error());
    private_key = std::move(*key);
  }
  std::string pubkey = flags.pubkey;
  if (pubkey.empty() && !private_key) {
    co_return context.usage("--pubkey KEY is required (the device's WireGuard public key: wg pubkey < private.key)",
                            "or give --private-key-file FILE, whose public key is then used");
  }
  if (!pubkey.empty()) {
    auto key = crypto::PublicKey::from_base64(pubkey);
    if (!key) co_return context.usage("--pubkey: not a WireGuard public key: " + key.error());
    if (private_key && private_key->public_key() != *key) {
      co_return context.usage("--pubkey is not the public key of the private key in " + flags.private_key_file);
    }
  } else {
    pubkey = private_key->public_key().to_base64();
  }

  auto admin = connect_admin(context, flags.colony, co_await asio::this_coro::executor, "--colony <colony-id>");
  if (!admin) co_return;
  cv1::AdminServiceClient client(*admin->channel);
  cv1::AddPeerRequest request;
  request.set_name(flags.name);
  request.set_wireguard_pubkey(pubkey);
  auto added = co_await client.AddPeer(request, admin->call);
  if (!added) co_return fail_admin_call(context, *admin, added.error());

  std::string key_text = private_key ? private_key->to_base64() : std::string();
  std::string file = render_wg_quick(admin->target.id, *added, key_text);
  crypto::wipe(key_text);
  const auto& peer = added->peer();
  if (flags.out.empty()) {
    if (!write_stdout_unbuffered(file)) context.fail("cannot write to stdout");
  } else {
    auto written = base::write_file_atomically(flags.out, file, 0600);
    if (!written) {
      context.fail("device " + peer.name() + " was added, but its WireGuard config could not be written: " +
                       written.error(),
                   "write it again elsewhere: coral colony revoke " + peer.name() + ", then add it with another --out");
    } else {
      std::cout << "✓ Device " << peer.name() << " added to colony " << admin->target.id << " (" << peer.peer_id()
                << ")\n"
                << "  ├─ Mesh IPs: " << peer.mesh_ipv4() << " / " << peer.mesh_ipv6() << "\n"
                << "  └─ WireGuard config: " << flags.out << " (mode 0600"
                << (private_key ? ", with its private key" : ", add its private key") << ")\n";
    }
  }
  crypto::wipe(file);
}

asio::awaitable<void> run_revoke(Context& context, const RevokeFlags& flags) {
  if (flags.selector.empty()) co_return context.usage("SELECTOR: must not be empty");
  auto admin = connect_admin(context, flags.colony, co_await asio::this_coro::executor, "--colony <colony-id>");
  if (!admin) co_return;
  cv1::AdminServiceClient client(*admin->channel);
  cv1::RevokePeerRequest request;
  request.set_selector(flags.selector);
  auto revoked = co_await client.RevokePeer(request, admin->call);
  if (!revoked) co_return fail_admin_call(context, *admin, revoked.error());
  const auto& peer = revoked->peer();
  std::cout << "✓ Revoked " << peer.kind() << " " << peer.name() << " (" << peer.peer_id() << ") from colony "
            << admin->target.id << "\n"
            << "  ├─ Mesh IPs " << peer.mesh_ipv4() << " / " << peer.mesh_ipv6() << " are free\n";
  std::cout << "  └─ Its WireGuard key is remembered as revoked: it cannot join again\n";
  if (peer.kind() != "device") {
    std::cout << "note: a member with a fresh key and the colony secret can still join; to lock them out: coral "
                 "colony rotate-secret "
              << admin->target.id << "\n";
  }
}

std::string pad(std::string text, std::size_t width) {
  // Columns hold ASCII (names are a-z0-9-_., keys and addresses are ASCII);
  // a multi-byte name of an agent only shifts its own line.
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

}  // namespace

std::string format_handshake(const cv1::PeerWireGuard& wireguard, const google::protobuf::Timestamp& now) {
  if (!wireguard.has_latest_handshake()) return "never";
  return format_uptime(TimeUtil::DurationToSeconds(now - wireguard.latest_handshake())) + " ago";
}

std::string format_peer_table(const cv1::ListPeersResponse& peers, const google::protobuf::Timestamp& now) {
  if (peers.peers_size() == 0) return "No peers.\n";
  using Row = std::array<std::string, 9>;
  std::vector<Row> rows;
  rows.push_back({"NAME", "PEER ID", "KIND", "HEALTH", "IPV4", "IPV6", "ENDPOINT", "LATEST HANDSHAKE", "TRANSFER"});
  for (const cv1::MeshPeer& peer : peers.peers()) {
    const bool wg = peer.has_wireguard();
    rows.push_back({peer.name(), peer.peer_id(), peer.kind(), peer.health(), peer.mesh_ipv4(), peer.mesh_ipv6(),
                    wg && !peer.wireguard().endpoint().empty() ? peer.wireguard().endpoint() : "-",
                    wg ? format_handshake(peer.wireguard(), now) : "-", wg ? transfer(peer.wireguard()) : "-"});
  }
  std::array<std::size_t, 9> widths{};
  for (const Row& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const Row& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) line += i + 1 < row.size() ? pad(row[i], widths[i] + 2) : row[i];
    out += line + "\n";
  }
  if (!peers.wireguard_device()) {
    out += "(the colony's transport has no WireGuard device: no endpoints, handshakes or transfer to show)\n";
  }
  return out;
}

std::string format_revoked_table(const cv1::ListPeersResponse& peers) {
  if (peers.revoked_size() == 0) return "\nNo revoked keys.\n";
  using Row = std::array<std::string, 5>;
  std::vector<Row> rows;
  rows.push_back({"REVOKED", "NAME", "PEER ID", "KIND", "WIREGUARD KEY"});
  for (const cv1::RevokedKey& key : peers.revoked()) {
    rows.push_back(
        {TimeUtil::ToString(key.revoked_at()), key.name(), key.peer_id(), key.kind(), key.wireguard_pubkey()});
  }
  std::array<std::size_t, 5> widths{};
  for (const Row& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out = "\n";
  for (const Row& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) line += i + 1 < row.size() ? pad(row[i], widths[i] + 2) : row[i];
    out += line + "\n";
  }
  return out;
}

void add_colony_peers_commands(CLI::App& colony, Context& context) {
  auto list_flags = std::make_shared<ListFlags>();
  CLI::App* peers = colony.add_subcommand(
      "peers", "List the running colony's mesh peers (through its local admin socket); peers add: add one by hand");
  peers->add_option("colony-id", list_flags->colony_positional, "the colony (default: the current one)");
  peers->add_option("--colony", list_flags->colony, "the colony (default: the current one)");
  peers->add_flag("--json", list_flags->json, "print the colony's answer (ListPeersResponse) as proto3 JSON");
  peers->add_flag("--revoked", list_flags->revoked,
                  "also list the WireGuard keys revoked (they can never join again); with --json: `revoked`");
  peers->require_subcommand(0, 1);

  auto add_flags = std::make_shared<AddFlags>();
  CLI::App* add = peers->add_subcommand(
      "add", "Register a device by hand (kernel WireGuard, wireguard-go) and print its wg-quick file");
  add->add_option("name", add_flags->name, "the device's name: 1-63 of a-z, 0-9, '-', '_', '.'")->required();
  add->add_option("--pubkey", add_flags->pubkey, "its WireGuard public key (wg pubkey < private.key)");
  add->add_option("--colony", add_flags->colony, "the colony (default: the current one)");
  add->add_option("--private-key-file", add_flags->private_key_file,
                  "a file holding its private key, to put in the wg-quick file (never give a key as an argument)");
  add->add_option("--out", add_flags->out, "write the wg-quick file here (mode 0600) instead of stdout");
  add->callback([&context, add_flags] { run_command(context, *add_flags, &run_add); });

  peers->callback([&context, list_flags, add] {
    if (add->parsed()) return;
    run_command(context, *list_flags, &run_list);
  });

  auto revoke_flags = std::make_shared<RevokeFlags>();
  CLI::App* revoke = colony.add_subcommand(
      "revoke", "Remove a peer from the running colony at once (by name, peer id or WireGuard public key)");
  revoke->add_option("selector", revoke_flags->selector, "the peer's name, peer id or WireGuard public key")->required();
  revoke->add_option("--colony", revoke_flags->colony, "the colony (default: the current one)");
  revoke->callback([&context, revoke_flags] { run_command(context, *revoke_flags, &run_revoke); });
}

}  // namespace coral::cli
