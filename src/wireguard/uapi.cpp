#include "wireguard/uapi.h"

#include <algorithm>
#include <cerrno>
#include <type_traits>

#include "base/text.h"
#include "wireguard/text.h"

namespace coral::wireguard::uapi {
namespace {

constexpr std::string_view kGet = "get=1\n";
constexpr std::string_view kSet = "set=1\n";
static_assert(kGet.size() == kSet.size());
constexpr std::size_t kOperationLineBytes = kGet.size();

bool all_zero(const crypto::KeyBytes& key) {
  return std::all_of(key.begin(), key.end(), [](std::uint8_t b) { return b == 0; });
}

// Keeps the stack copy of a key's bytes from outliving its use.
struct WipeKeyBytes {
  crypto::KeyBytes& bytes;
  ~WipeKeyBytes() { crypto::wipe(bytes); }
};

// The protocol's keys are lowercase words joined by '_'. A key made of
// letters, '_' and '-' only is shown in errors; hex (a key's, in the wrong place)
// nearly always has digits, and is not.
bool is_protocol_name(std::string_view key) {
  return !key.empty() && key.size() <= 40 &&
         std::all_of(key.begin(), key.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_' || c == '-'; });
}

bool is_device_key(std::string_view key) {
  return key == "private_key" || key == "listen_port" || key == "fwmark" || key == "replace_peers";
}

bool is_peer_key(std::string_view key) {
  return key == "remove" || key == "update_only" || key == "preshared_key" || key == "endpoint" ||
         key == "persistent_keepalive_interval" || key == "replace_allowed_ips" || key == "allowed_ip" ||
         key == "protocol_version";
}

class SetParser {
 public:
  std::expected<void, SetFailure> line(std::string_view text, std::size_t number) {
    line_ = number;
    const std::size_t equals = text.find('=');
    if (equals == std::string_view::npos) {
      // Not quoted: a line of unknown shape may be a key.
      return fail(SetError::malformed_line, "expected key=value");
    }
    const std::string_view key = text.substr(0, equals);
    const std::string_view value = text.substr(equals + 1);
    if (key == "public_key") return public_key(value);
    if (is_device_key(key)) {
      if (in_peer_) return fail(SetError::key_out_of_place, std::string(key) + ": a device key after public_key");
      return device_key(key, value);
    }
    if (is_peer_key(key)) {
      if (!in_peer_) return fail(SetError::key_out_of_place, std::string(key) + ": a peer key before any public_key");
      return peer_key(key, value);
    }
    // "<hex key>=" splits into a "key" that is a secret: not shown.
    return fail(SetError::unknown_key, is_protocol_name(key) ? "unknown key " + quote(key) : "unknown key (not shown)");
  }

  std::vector<SetOperation> take() { return std::move(ops_); }

 private:
  std::expected<void, SetFailure> public_key(std::string_view value) {
    crypto::KeyBytes bytes{};
    if (!base::from_hex(value, bytes)) return fail(SetError::invalid_value, "public_key: must be 64 hex digits");
    in_peer_ = true;
    ops_.emplace_back(SelectPeer{crypto::PublicKey(bytes)});
    return {};
  }

  std::expected<void, SetFailure> device_key(std::string_view key, std::string_view value) {
    if (key == "private_key") {
      crypto::KeyBytes bytes{};
      WipeKeyBytes wipe{bytes};
      if (!base::from_hex(value, bytes)) return fail(SetError::invalid_value, "private_key: must be 64 hex digits");
      // wireguard-go's FromMaybeZeroHex: zero means "no key" and stays zero.
      if (!all_zero(bytes)) crypto::clamp(bytes);
      ops_.emplace_back(SetPrivateKey{crypto::SecretKey(bytes)});
      return {};
    }
    if (key == "listen_port") {
      const auto port = parse_decimal(value, 0xffff);
      if (!port) return invalid(key, "a number 0-65535", value);
      ops_.emplace_back(SetListenPort{static_cast<std::uint16_t>(*port)});
      return {};
    }
    if (key == "fwmark") {
      const auto mark = parse_decimal(value, 0xffffffff);
      if (!mark) return invalid(key, "a number 0-4294967295", value);
      ops_.emplace_back(SetFwmark{static_cast<std::uint32_t>(*mark)});
      return {};
    }
    // replace_peers: is_device_key has no other keys.
    if (value != "true") return invalid(key, "\"true\"", value);
    ops_.emplace_back(ReplacePeers{});
    return {};
  }

  std::expected<void, SetFailure> peer_key(std::string_view key, std::string_view value) {
    if (key == "remove" || key == "update_only" || key == "replace_allowed_ips") {
      if (value != "true") return invalid(key, "\"true\"", value);
      if (key == "remove") {
        ops_.emplace_back(RemovePeer{});
      } else if (key == "update_only") {
        ops_.emplace_back(UpdateOnly{});
      } else {
        ops_.emplace_back(ReplaceAllowedIps{});
      }
      return {};
    }
    if (key == "preshared_key") {
      crypto::KeyBytes bytes{};
      WipeKeyBytes wipe{bytes};
      if (!base::from_hex(value, bytes)) return fail(SetError::invalid_value, "preshared_key: must be 64 hex digits");
      ops_.emplace_back(SetPresharedKey{crypto::SecretKey(bytes)});
      return {};
    }
    if (key == "endpoint") {
      auto endpoint = Endpoint::parse(value);
      if (!endpoint) {
        return fail(SetError::invalid_value, "endpoint: " + quote(value) + ": " + endpoint.error());
      }
      ops_.emplace_back(SetEndpoint{*endpoint});
      return {};
    }
    if (key == "persistent_keepalive_interval") {
      const auto seconds = parse_decimal(value, 0xffff);
      if (!seconds) return invalid(key, "a number of seconds 0-65535", value);
      ops_.emplace_back(SetPersistentKeepalive{static_cast<std::uint16_t>(*seconds)});
      return {};
    }
    if (key == "allowed_ip") {
      const bool remove = !value.empty() && value.front() == '-';
      auto parsed = parse_allowed_ip(remove ? value.substr(1) : value, /*require_length=*/true);
      if (!parsed) return fail(SetError::invalid_value, "allowed_ip: " + parsed.error());
      if (remove) {
        ops_.emplace_back(RemoveAllowedIp{parsed->prefix});
      } else {
        ops_.emplace_back(AddAllowedIp{parsed->prefix});
      }
      return {};
    }
    // protocol_version: is_peer_key has no other keys.
    if (value != "1") return invalid(key, "1", value);
    return {};
  }

  std::unexpected<SetFailure> invalid(std::string_view key, std::string_view expected, std::string_view value) const {
    return fail(SetError::invalid_value, std::string(key) + ": must be " + std::string(expected) + ", got " + quote(value));
  }

  std::unexpected<SetFailure> fail(SetError error, std::string detail) const {
    return std::unexpected(SetFailure{.error = error, .line = line_, .detail = std::move(detail)});
  }

  std::size_t line_ = 0;
  bool in_peer_ = false;  // a public_key line came
  std::vector<SetOperation> ops_;
};

// The peer that the operations after a SelectPeer apply to, in apply_set.
struct CurrentPeer {
  std::optional<std::size_t> index;  // nullopt: a placeholder (operations are ignored)
  bool created = false;              // SelectPeer created it
};

}  // namespace

std::string_view to_string(RequestKind kind) {
  switch (kind) {
    case RequestKind::get:
      return "get";
    case RequestKind::set:
      return "set";
  }
  return "unknown";
}

std::string_view to_string(FramingError error) {
  switch (error) {
    case FramingError::unknown_operation:
      return "unknown operation";
    case FramingError::get_not_terminated:
      return "get=1 not followed by an empty line";
    case FramingError::line_too_long:
      return "line too long";
    case FramingError::request_too_long:
      return "request too long";
  }
  return "unknown";
}

std::string_view to_string(SetError error) {
  switch (error) {
    case SetError::malformed_line:
      return "malformed line";
    case SetError::unknown_key:
      return "unknown key";
    case SetError::key_out_of_place:
      return "key out of place";
    case SetError::invalid_value:
      return "invalid value";
  }
  return "unknown";
}

Request::Request(RequestKind request_kind, std::string request_body)
    : kind(request_kind), body(std::move(request_body)) {}

Request& Request::operator=(Request&& other) noexcept {
  if (this != &other) {
    crypto::wipe(body);
    kind = other.kind;
    body = std::move(other.body);
  }
  return *this;
}

Request::~Request() { crypto::wipe(body); }

std::optional<std::string> framing_error_response(FramingError error) {
  switch (error) {
    case FramingError::unknown_operation:
      return std::nullopt;
    case FramingError::get_not_terminated:
      return format_errno_response(EINVAL);
    case FramingError::line_too_long:
    case FramingError::request_too_long:
      return format_errno_response(EMSGSIZE);
  }
  return std::nullopt;
}

RequestFramer::RequestFramer(Limits limits) : limits_(limits) {}

RequestFramer::~RequestFramer() { crypto::wipe(buffer_); }

void RequestFramer::feed(std::string_view bytes) {
  if (failed_ || bytes.empty()) return;
  if (buffer_.size() + bytes.size() > buffer_.capacity()) {
    // Grow by hand: a reallocation by append would free the old block
    // without wiping it.
    std::string grown;
    grown.reserve(std::max(2 * buffer_.capacity(), buffer_.size() + bytes.size()));
    grown = buffer_;
    crypto::wipe(buffer_);
    buffer_.swap(grown);
  }
  buffer_.append(bytes);
}

void RequestFramer::consume(std::size_t n) {
  std::string rest = buffer_.substr(n);
  crypto::wipe(buffer_);
  buffer_ = std::move(rest);
  scan_from_ = 0;
}

std::expected<std::optional<Request>, FramingError> RequestFramer::next() {
  if (failed_) return std::unexpected(*failed_);
  const auto fail = [this](FramingError error) {
    failed_ = error;
    return std::unexpected(error);
  };
  if (buffer_.empty()) return std::nullopt;

  // The operation line, refused as soon as it cannot become one we know.
  const std::string_view head = std::string_view(buffer_).substr(0, kOperationLineBytes);
  const bool get = kGet.starts_with(head);
  if (!get && !kSet.starts_with(head)) return fail(FramingError::unknown_operation);
  if (head.size() < kOperationLineBytes) return std::nullopt;

  if (get) {
    if (buffer_.size() == kOperationLineBytes) return std::nullopt;
    if (buffer_[kOperationLineBytes] != '\n') return fail(FramingError::get_not_terminated);
    consume(kOperationLineBytes + 1);
    return Request(RequestKind::get, {});
  }

  std::size_t line_start = std::max(scan_from_, kOperationLineBytes);
  while (true) {
    const std::size_t newline = buffer_.find('\n', line_start);
    if (newline == std::string::npos) {
      if (buffer_.size() - line_start >= limits_.max_line_bytes) return fail(FramingError::line_too_long);
      if (buffer_.size() >= limits_.max_request_bytes) return fail(FramingError::request_too_long);
      scan_from_ = line_start;
      return std::nullopt;
    }
    if (newline + 1 - line_start > limits_.max_line_bytes) return fail(FramingError::line_too_long);
    if (newline + 1 > limits_.max_request_bytes) return fail(FramingError::request_too_long);
    if (newline == line_start) {
      Request request(RequestKind::set, buffer_.substr(kOperationLineBytes, line_start - kOperationLineBytes));
      consume(newline + 1);
      return request;
    }
    line_start = newline + 1;
  }
}

int SetFailure::errno_value() const { return error == SetError::malformed_line ? EPROTO : EINVAL; }

std::expected<std::vector<SetOperation>, SetFailure> parse_set(std::string_view body) {
  SetParser parser;
  std::size_t number = 0;
  while (!body.empty()) {
    ++number;
    const std::size_t newline = body.find('\n');
    auto parsed = parser.line(body.substr(0, newline), number);
    if (!parsed) return std::unexpected(std::move(parsed.error()));
    if (newline == std::string_view::npos) break;
    body.remove_prefix(newline + 1);
  }
  return parser.take();
}

std::string format_errno_response(int errno_value) {
  return "errno=" + std::to_string(errno_value == 0 ? 0 : -errno_value) + "\n\n";
}

std::string format_get_response(const DeviceSnapshot& snapshot) {
  std::string out;
  const auto key_line = [&out](std::string_view name, const crypto::KeyBytes& key) {
    std::string hex = base::hex(key);  // lowercase, as wireguard-go writes
    out.append(name).append("=").append(hex).append("\n");
    crypto::wipe(hex);
  };
  const auto number_line = [&out](std::string_view name, auto value) {
    out.append(name).append("=").append(std::to_string(value)).append("\n");
  };
  if (!snapshot.private_key.is_zero()) key_line("private_key", snapshot.private_key.bytes());
  if (snapshot.listen_port != 0) number_line("listen_port", snapshot.listen_port);
  if (snapshot.fwmark != 0) number_line("fwmark", snapshot.fwmark);
  for (const PeerSnapshot& peer : snapshot.peers) {
    key_line("public_key", peer.public_key.bytes());
    key_line("preshared_key", peer.preshared_key.bytes());
    out += "protocol_version=1\n";
    if (peer.endpoint) out += "endpoint=" + peer.endpoint->to_string() + "\n";
    std::int64_t seconds = 0;
    std::int64_t nanoseconds = 0;
    if (peer.last_handshake) {
      const auto since_epoch = std::chrono::duration_cast<std::chrono::nanoseconds>(peer.last_handshake->time_since_epoch());
      if (since_epoch.count() > 0) {
        seconds = since_epoch.count() / 1'000'000'000;
        nanoseconds = since_epoch.count() % 1'000'000'000;
      }
    }
    number_line("last_handshake_time_sec", seconds);
    number_line("last_handshake_time_nsec", nanoseconds);
    number_line("tx_bytes", peer.tx_bytes);
    number_line("rx_bytes", peer.rx_bytes);
    number_line("persistent_keepalive_interval", peer.persistent_keepalive_interval);
    for (const base::Cidr& prefix : peer.allowed_ips) out += "allowed_ip=" + prefix.to_string() + "\n";
  }
  out += format_errno_response(0);
  return out;
}

std::string format_set_request(std::span<const SetOperation> ops) {
  std::string out(kSet);
  const auto key_line = [&out](std::string_view name, const crypto::KeyBytes& key) {
    std::string hex = base::hex(key);  // lowercase, as wireguard-go writes
    out.append(name).append("=").append(hex).append("\n");
    crypto::wipe(hex);
  };
  for (const SetOperation& op : ops) {
    std::visit(
        [&](const auto& o) {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, SetPrivateKey>) {
            key_line("private_key", o.key.bytes());
          } else if constexpr (std::is_same_v<T, SetListenPort>) {
            out += "listen_port=" + std::to_string(o.port) + "\n";
          } else if constexpr (std::is_same_v<T, SetFwmark>) {
            out += "fwmark=" + std::to_string(o.mark) + "\n";
          } else if constexpr (std::is_same_v<T, ReplacePeers>) {
            out += "replace_peers=true\n";
          } else if constexpr (std::is_same_v<T, SelectPeer>) {
            key_line("public_key", o.public_key.bytes());
          } else if constexpr (std::is_same_v<T, RemovePeer>) {
            out += "remove=true\n";
          } else if constexpr (std::is_same_v<T, UpdateOnly>) {
            out += "update_only=true\n";
          } else if constexpr (std::is_same_v<T, SetPresharedKey>) {
            key_line("preshared_key", o.key.bytes());
          } else if constexpr (std::is_same_v<T, SetEndpoint>) {
            out += "endpoint=" + o.endpoint.to_string() + "\n";
          } else if constexpr (std::is_same_v<T, SetPersistentKeepalive>) {
            out += "persistent_keepalive_interval=" + std::to_string(o.seconds) + "\n";
          } else if constexpr (std::is_same_v<T, ReplaceAllowedIps>) {
            out += "replace_allowed_ips=true\n";
          } else if constexpr (std::is_same_v<T, AddAllowedIp>) {
            out += "allowed_ip=" + o.prefix.to_string() + "\n";
          } else {
            static_assert(std::is_same_v<T, RemoveAllowedIp>);
            out += "allowed_ip=-" + o.prefix.to_string() + "\n";
          }
        },
        op);
  }
  out += "\n";
  return out;
}

std::vector<SetOperation> to_set_operations(const DeviceSettings& settings) {
  std::vector<SetOperation> ops;
  ops.emplace_back(SetPrivateKey{settings.interface.private_key});
  ops.emplace_back(SetListenPort{settings.interface.listen_port});
  ops.emplace_back(SetFwmark{settings.interface.fwmark});
  ops.emplace_back(ReplacePeers{});
  for (const PeerSettings& peer : settings.peers) {
    ops.emplace_back(SelectPeer{peer.public_key});
    if (peer.preshared_key) ops.emplace_back(SetPresharedKey{*peer.preshared_key});
    if (peer.endpoint) ops.emplace_back(SetEndpoint{*peer.endpoint});
    if (peer.persistent_keepalive != 0) ops.emplace_back(SetPersistentKeepalive{peer.persistent_keepalive});
    ops.emplace_back(ReplaceAllowedIps{});
    for (const base::Cidr& prefix : peer.allowed_ips) ops.emplace_back(AddAllowedIp{prefix});
  }
  return ops;
}

void apply_set(DeviceSettings& settings, std::span<const SetOperation> ops) {
  auto& peers = settings.peers;
  const auto own_public_key = [&settings]() -> std::optional<crypto::PublicKey> {
    if (settings.interface.private_key.is_zero()) return std::nullopt;
    return settings.interface.private_key.public_key();
  };
  const auto find = [&peers](const crypto::PublicKey& key) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < peers.size(); ++i) {
      if (peers[i].public_key == key) return i;
    }
    return std::nullopt;
  };
  CurrentPeer current;
  // Removes a peer; the current one, if it was that peer, becomes a
  // placeholder, and otherwise keeps pointing at the same peer.
  const auto erase = [&peers, &current](std::size_t index) {
    peers.erase(peers.begin() + std::ptrdiff_t(index));
    if (!current.index) return;
    if (*current.index == index) {
      current = CurrentPeer{};
    } else if (*current.index > index) {
      --*current.index;
    }
  };
  for (const SetOperation& op : ops) {
    std::visit(
        [&](const auto& o) {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, SetPrivateKey>) {
            settings.interface.private_key = o.key;
            if (auto own = own_public_key()) {
              if (auto index = find(*own)) erase(*index);
            }
          } else if constexpr (std::is_same_v<T, SetListenPort>) {
            settings.interface.listen_port = o.port;
          } else if constexpr (std::is_same_v<T, SetFwmark>) {
            settings.interface.fwmark = o.mark;
          } else if constexpr (std::is_same_v<T, ReplacePeers>) {
            peers.clear();
          } else if constexpr (std::is_same_v<T, SelectPeer>) {
            current = CurrentPeer{};
            if (own_public_key() == o.public_key) return;
            current.index = find(o.public_key);
            if (!current.index) {
              peers.push_back(PeerSettings{.public_key = o.public_key, .preshared_key = std::nullopt,
                                           .endpoint = std::nullopt, .allowed_ips = {}, .persistent_keepalive = 0});
              current.index = peers.size() - 1;
              current.created = true;
            }
          } else if constexpr (std::is_same_v<T, RemovePeer> || std::is_same_v<T, UpdateOnly>) {
            const bool drop = std::is_same_v<T, RemovePeer> || current.created;
            if (drop && current.index) erase(*current.index);
            if (drop) current = CurrentPeer{};
          } else {
            if (!current.index) return;
            PeerSettings& peer = peers[*current.index];
            if constexpr (std::is_same_v<T, SetPresharedKey>) {
              peer.preshared_key = o.key.is_zero() ? std::nullopt : std::optional<crypto::SecretKey>(o.key);
            } else if constexpr (std::is_same_v<T, SetEndpoint>) {
              peer.endpoint = o.endpoint;
            } else if constexpr (std::is_same_v<T, SetPersistentKeepalive>) {
              peer.persistent_keepalive = o.seconds;
            } else if constexpr (std::is_same_v<T, ReplaceAllowedIps>) {
              peer.allowed_ips.clear();
            } else if constexpr (std::is_same_v<T, AddAllowedIp>) {
              // One owner per prefix (cryptokey routing): it moves here.
              for (PeerSettings& other : peers) std::erase(other.allowed_ips, o.prefix);
              peer.allowed_ips.push_back(o.prefix);
            } else {
              static_assert(std::is_same_v<T, RemoveAllowedIp>);
              std::erase(peer.allowed_ips, o.prefix);
            }
          }
        },
        op);
  }
}

}  // namespace coral::wireguard::uapi
