#include "wireguard/conf_file.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <system_error>

#include "base/text.h"
#include "wireguard/text.h"

namespace coral::wireguard {
namespace {

// Keys of wg-quick(8) that concern the host, not the WireGuard device.
constexpr std::array<std::string_view, 7> kWgQuickKeys = {"DNS",     "Table",    "PreUp",     "PostUp",
                                                          "PreDown", "PostDown", "SaveConfig"};

constexpr std::array<std::string_view, 5> kInterfaceKeys = {"PrivateKey", "ListenPort", "Address", "MTU", "FwMark"};
constexpr std::array<std::string_view, 5> kPeerKeys = {"PublicKey", "PresharedKey", "Endpoint", "AllowedIPs",
                                                       "PersistentKeepalive"};

// wg's char_is_space: the C locale's isspace.
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

using base::iequals;

// Levenshtein distance, ignoring case; the names compared are short.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const bool same = base::to_lower(a[i - 1]) == base::to_lower(b[j - 1]);
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The known name (of any section, wg-quick's too) that `key` spells, or
// misspells by at most two edits. Unknown keys are only ever shown when
// they are that close to a name: anything else may be a piece of a key
// that a broken line turned into "key=".
struct NameMatch {
  std::string_view name;
  bool exact = false;
};
std::optional<NameMatch> match_name(std::string_view key) {
  std::optional<NameMatch> best;
  std::size_t best_distance = 3;
  for (const auto* names : {&kInterfaceKeys, &kPeerKeys}) {
    for (std::string_view name : *names) {
      const std::size_t distance = edit_distance(key, name);
      if (distance < best_distance) best = NameMatch{name, distance == 0}, best_distance = distance;
    }
  }
  for (std::string_view name : kWgQuickKeys) {
    const std::size_t distance = edit_distance(key, name);
    if (distance < best_distance) best = NameMatch{name, distance == 0}, best_distance = distance;
  }
  // Short names ("MTU", "DNS") are within two edits of any short word.
  if (best && !best->exact && key.size() < 5) return std::nullopt;
  return best;
}

// Wipes a string when the scope ends: the lines of the file hold keys.
struct WipeOnExit {
  std::string& text;
  ~WipeOnExit() { crypto::wipe(text); }
};

// Comma-separated entries; an empty value has none. Empty entries ("a,,b")
// come back as empty strings for the caller to refuse.
std::vector<std::string_view> split_list(std::string_view value) {
  std::vector<std::string_view> entries;
  if (value.empty()) return entries;
  while (true) {
    const std::size_t comma = value.find(',');
    entries.push_back(value.substr(0, comma));
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return entries;
}

// For lines of unknown shape, which are never quoted (see is_key_name).
constexpr std::string_view kNotAKeyLine = "expected \"Key = value\" or a section header ([Interface] or [Peer])";

enum class Section : std::uint8_t {
  none,       // before the first header
  interface,  // [Interface]
  peer,       // [Peer]
};

struct PeerInProgress {
  PeerSettings settings;
  std::size_t header_line = 0;
  std::size_t public_key_line = 0;  // 0: no PublicKey yet
  // Where each of settings.allowed_ips was given.
  std::vector<std::size_t> allowed_ip_lines;
};

class Parser {
 public:
  explicit Parser(std::string_view file) : file_(file) {}

  // One line of the file, `number` counting from 1.
  std::expected<void, ConfDiagnostic> line(std::string_view raw, std::size_t number) {
    const std::string_view content = raw.substr(0, raw.find('#'));
    std::string cleaned;
    WipeOnExit wipe{cleaned};
    for (char c : content) {
      if (!is_space(c)) cleaned += c;
    }
    if (cleaned.empty()) return {};
    line_ = number;
    if (cleaned.front() == '[') return header(cleaned);

    const std::size_t equals = cleaned.find('=');
    if (equals == std::string::npos || equals == 0) {
      // The line is not quoted: it may be a key pasted on its own.
      return fail(kNotAKeyLine);
    }
    const std::string_view key = std::string_view(cleaned).substr(0, equals);
    const std::string_view value = std::string_view(cleaned).substr(equals + 1);
    // "<base64 key>=" splits into a "key" that is a secret: not shown.
    if (!is_key_name(key)) return fail(kNotAKeyLine);
    switch (section_) {
      case Section::none:
        if (match_name(key)) {
          return fail("key " + quote(key) + " is outside a section; put it under [Interface] or [Peer]");
        }
        return fail("a key outside a section; put keys under [Interface] or [Peer]");
      case Section::interface:
        return interface_key(key, value);
      case Section::peer:
        return peer_key(key, value);
    }
    return {};
  }

  std::expected<ParsedConf, ConfDiagnostic> finish() {
    line_ = 0;
    if (interface_line_ == 0) return fail("no [Interface] section; it needs at least a PrivateKey");
    if (private_key_line_ == 0) {
      line_ = interface_line_;
      return fail("[Interface] has no PrivateKey (make one with: coral wg genkey)");
    }
    std::map<crypto::KeyBytes, std::size_t> peer_lines;  // public key -> its PublicKey line
    // Prefix text -> the line that gave it to an earlier peer.
    std::map<std::string, std::size_t> prefix_lines;
    for (PeerInProgress& peer : peers_) {
      if (peer.public_key_line == 0) {
        line_ = peer.header_line;
        return fail("[Peer] has no PublicKey");
      }
      const auto [it, inserted] = peer_lines.emplace(peer.settings.public_key.bytes(), peer.public_key_line);
      if (!inserted) {
        line_ = peer.public_key_line;
        return fail("PublicKey: the peer " + peer.settings.public_key.to_base64() + " is already defined at line " +
                    std::to_string(it->second));
      }
      for (std::size_t i = 0; i < peer.settings.allowed_ips.size(); ++i) {
        const std::string prefix = peer.settings.allowed_ips[i].to_string();
        const auto [owner, fresh] = prefix_lines.emplace(prefix, peer.allowed_ip_lines[i]);
        if (!fresh) {
          warn(peer.allowed_ip_lines[i], "AllowedIPs: " + prefix + " is also an allowed IP of the peer at line " +
                                             std::to_string(owner->second) + "; only this later peer gets it");
          owner->second = peer.allowed_ip_lines[i];
        }
      }
      result_.settings.peers.push_back(std::move(peer.settings));
    }
    return std::move(result_);
  }

 private:
  std::expected<void, ConfDiagnostic> header(std::string_view cleaned) {
    if (iequals(cleaned, "[Interface]")) {
      section_ = Section::interface;
      if (interface_line_ == 0) interface_line_ = line_;
      return {};
    }
    if (iequals(cleaned, "[Peer]")) {
      section_ = Section::peer;
      peers_.push_back(PeerInProgress{.settings = {}, .header_line = line_, .public_key_line = 0,
                                      .allowed_ip_lines = {}});
      return {};
    }
    // Quoted only when it has the shape of a header: a header that ran into
    // the next line ("[Peer]PublicKey=...") may carry a key.
    std::string_view name = cleaned.substr(1);
    if (!name.empty() && name.back() == ']') name.remove_suffix(1);
    const bool header_like = !name.empty() && name.size() <= 20 && std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    });
    if (!header_like) return fail("a line that starts with '[' but is not [Interface] or [Peer]");
    return fail("unknown section " + quote(cleaned) + " (expected [Interface] or [Peer])");
  }

  std::expected<void, ConfDiagnostic> interface_key(std::string_view key, std::string_view value) {
    InterfaceSettings& settings = result_.settings.interface;
    if (iequals(key, "PrivateKey")) {
      auto parsed = crypto::SecretKey::from_base64(value);
      if (!parsed) return fail("PrivateKey: " + parsed.error());
      settings.private_key = std::move(*parsed);
      private_key_line_ = line_;
      return {};
    }
    if (iequals(key, "ListenPort")) {
      const auto port = parse_decimal(value, 65535);
      if (!port) return fail("ListenPort: must be a port number 0-65535, got " + quote(value));
      settings.listen_port = static_cast<std::uint16_t>(*port);
      return {};
    }
    if (iequals(key, "FwMark")) {
      std::optional<std::uint64_t> mark;
      if (iequals(value, "off")) {
        mark = 0;
      } else if (value.size() > 2 && value[0] == '0' && (value[1] == 'x' || value[1] == 'X')) {
        mark = parse_hex(value.substr(2), 0xffffffff);
      } else {
        mark = parse_decimal(value, 0xffffffff);
      }
      if (!mark) return fail("FwMark: must be \"off\" or a number 0-0xffffffff, got " + quote(value));
      settings.fwmark = static_cast<std::uint32_t>(*mark);
      return {};
    }
    if (iequals(key, "Address")) {
      for (std::string_view entry : split_list(value)) {
        auto address = InterfaceAddress::parse(entry);
        if (!address) return fail("Address: " + address.error());
        if (std::find(settings.addresses.begin(), settings.addresses.end(), *address) == settings.addresses.end()) {
          settings.addresses.push_back(*address);
        }
      }
      return {};
    }
    if (iequals(key, "MTU")) {
      const auto mtu = parse_decimal(value, 65535);
      if (!mtu || *mtu < kMinMtu) {
        return fail("MTU: must be a number " + std::to_string(kMinMtu) + "-65535 (IPv6 needs at least " +
                    std::to_string(kMinMtu) + "), got " + quote(value));
      }
      settings.mtu = static_cast<std::uint16_t>(*mtu);
      return {};
    }
    for (std::string_view ignored : kWgQuickKeys) {
      if (iequals(key, ignored)) {
        warn(line_, std::string(ignored) + " is a wg-quick setting; coral ignores it");
        return {};
      }
    }
    return unknown_key(key, "[Interface]", "PrivateKey, ListenPort, Address, MTU or FwMark");
  }

  std::expected<void, ConfDiagnostic> peer_key(std::string_view key, std::string_view value) {
    PeerInProgress& peer = peers_.back();
    if (iequals(key, "PublicKey")) {
      auto parsed = crypto::PublicKey::from_base64(value);
      if (!parsed) return fail("PublicKey: " + parsed.error());
      peer.settings.public_key = *parsed;
      peer.public_key_line = line_;
      return {};
    }
    if (iequals(key, "PresharedKey")) {
      auto parsed = crypto::SecretKey::from_base64(value);
      if (!parsed) return fail("PresharedKey: " + parsed.error());
      peer.settings.preshared_key = std::move(*parsed);
      return {};
    }
    if (iequals(key, "Endpoint")) {
      auto endpoint = Endpoint::parse(value);
      if (!endpoint) return fail("Endpoint: invalid endpoint " + quote(value) + ": " + endpoint.error());
      peer.settings.endpoint = *endpoint;
      return {};
    }
    if (iequals(key, "AllowedIPs")) {
      for (std::string_view entry : split_list(value)) {
        auto parsed = parse_allowed_ip(entry, /*require_length=*/false);
        if (!parsed) return fail("AllowedIPs: " + parsed.error());
        if (parsed->host_bits_were_set) {
          warn(line_, "AllowedIPs: " + std::string(entry) + " has host bits set; using " + parsed->prefix.to_string());
        }
        auto& allowed = peer.settings.allowed_ips;
        if (std::find(allowed.begin(), allowed.end(), parsed->prefix) == allowed.end()) {
          allowed.push_back(parsed->prefix);
          peer.allowed_ip_lines.push_back(line_);
        }
      }
      return {};
    }
    if (iequals(key, "PersistentKeepalive")) {
      const auto seconds = iequals(value, "off") ? std::optional<std::uint64_t>(0) : parse_decimal(value, 65535);
      if (!seconds) return fail("PersistentKeepalive: must be \"off\" or a number of seconds 0-65535, got " + quote(value));
      peer.settings.persistent_keepalive = static_cast<std::uint16_t>(*seconds);
      return {};
    }
    return unknown_key(key, "[Peer]", "PublicKey, PresharedKey, Endpoint, AllowedIPs or PersistentKeepalive");
  }

  // A key the section does not have: named only when it is (nearly) a known
  // name (see match_name).
  std::unexpected<ConfDiagnostic> unknown_key(std::string_view key, std::string_view section,
                                              std::string_view expected) const {
    const auto match = match_name(key);
    if (!match) return fail("unknown key in " + std::string(section) + " (expected " + std::string(expected) + ")");
    const bool of_interface =
        std::find(kInterfaceKeys.begin(), kInterfaceKeys.end(), match->name) != kInterfaceKeys.end() ||
        std::find(kWgQuickKeys.begin(), kWgQuickKeys.end(), match->name) != kWgQuickKeys.end();
    const std::string_view home = of_interface ? "[Interface]" : "[Peer]";
    if (match->exact) {
      return fail(std::string(match->name) + " belongs in " + std::string(home) + ", not in " + std::string(section));
    }
    if (home != section) {
      return fail("unknown key " + quote(key) + " in " + std::string(section) + " (did you mean " +
                  std::string(match->name) + ", in " + std::string(home) + "?)");
    }
    return fail("unknown key " + quote(key) + " in " + std::string(section) + " (did you mean " +
                std::string(match->name) + "?)");
  }

  std::unexpected<ConfDiagnostic> fail(std::string_view message) const {
    return std::unexpected(ConfDiagnostic{.file = file_, .line = line_, .message = std::string(message)});
  }

  void warn(std::size_t line, std::string message) {
    result_.warnings.push_back(ConfDiagnostic{.file = file_, .line = line, .message = std::move(message)});
  }

  std::string file_;
  std::size_t line_ = 0;  // the line being parsed, for diagnostics
  Section section_ = Section::none;
  std::size_t interface_line_ = 0;    // the first [Interface]; 0: none yet
  std::size_t private_key_line_ = 0;  // 0: no PrivateKey yet
  std::vector<PeerInProgress> peers_;
  ParsedConf result_;  // the interface and the warnings; peers join in finish()
};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

}  // namespace

std::string ConfDiagnostic::to_string() const {
  return line == 0 ? file + ": " + message : file + ":" + std::to_string(line) + ": " + message;
}

std::expected<ParsedConf, ConfDiagnostic> parse_conf(std::string_view text, std::string_view file_name) {
  Parser parser(file_name);
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    const std::size_t newline = text.find('\n');
    auto parsed = parser.line(text.substr(0, newline), number);
    if (!parsed) return std::unexpected(std::move(parsed.error()));
    if (newline == std::string_view::npos) break;
    text.remove_prefix(newline + 1);
  }
  return parser.finish();
}

std::string format_conf(const DeviceSettings& settings) {
  const InterfaceSettings& interface = settings.interface;
  // wg-quick's save: its own keys first, then what `wg showconf` prints.
  std::string out = "[Interface]\n";
  for (const InterfaceAddress& address : interface.addresses) out += "Address = " + address.to_string() + "\n";
  if (interface.mtu != kDefaultMtu) out += "MTU = " + std::to_string(interface.mtu) + "\n";
  if (interface.listen_port != 0) out += "ListenPort = " + std::to_string(interface.listen_port) + "\n";
  if (interface.fwmark != 0) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%x", unsigned(interface.fwmark));
    out += std::string("FwMark = ") + hex + "\n";
  }
  std::string private_key = interface.private_key.to_base64();
  out += "PrivateKey = " + private_key + "\n";
  crypto::wipe(private_key);
  for (const PeerSettings& peer : settings.peers) {
    out += "\n[Peer]\nPublicKey = " + peer.public_key.to_base64() + "\n";
    if (peer.preshared_key) {
      std::string preshared = peer.preshared_key->to_base64();
      out += "PresharedKey = " + preshared + "\n";
      crypto::wipe(preshared);
    }
    if (!peer.allowed_ips.empty()) {
      std::vector<std::string> prefixes;
      for (const base::Cidr& prefix : peer.allowed_ips) prefixes.push_back(prefix.to_string());
      out += "AllowedIPs = " + join(prefixes) + "\n";
    }
    if (peer.endpoint) out += "Endpoint = " + peer.endpoint->to_string() + "\n";
    if (peer.persistent_keepalive != 0) {
      out += "PersistentKeepalive = " + std::to_string(peer.persistent_keepalive) + "\n";
    }
  }
  return out;
}

std::expected<ParsedConf, ConfDiagnostic> read_conf_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  const auto fail = [&](std::string message) {
    return std::unexpected(ConfDiagnostic{.file = name, .line = 0, .message = std::move(message)});
  };
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec) return fail("cannot read: " + ec.message());
  if (!std::filesystem::is_regular_file(status)) return fail("cannot read: not a regular file");
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return fail("cannot read: " + ec.message());
  if (size > kMaxConfFileBytes) {
    return fail("too large for a WireGuard configuration (" + std::to_string(size) + " bytes; at most " +
                std::to_string(kMaxConfFileBytes) + ")");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("cannot read: cannot open the file");
  std::string text;
  WipeOnExit wipe{text};
  // Sized once, so that no reallocation leaves an unwiped copy behind.
  text.resize(static_cast<std::size_t>(size));
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (static_cast<std::size_t>(in.gcount()) != text.size()) return fail("cannot read: the file changed while being read");

  auto parsed = parse_conf(text, name);
  if (!parsed) return parsed;
  using std::filesystem::perms;
  if ((status.permissions() & perms::others_all) != perms::none) {
    parsed->warnings.insert(parsed->warnings.begin(),
                            ConfDiagnostic{.file = name, .line = 0,
                                           .message = "other users may read this file, and it holds a private key "
                                                      "(chmod 600 " + name + ")"});
  }
  return parsed;
}

}  // namespace coral::wireguard
