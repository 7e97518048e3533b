#pragma once
// The configuration file that `wg setconf` and wg-quick read:
//
//   [Interface]
//   PrivateKey = <base64>          required
//   ListenPort = 51820             0-65535 (0 or absent: any free port)
//   Address = 10.42.0.1/16, fd42::1/64   wg-quick's; repeatable
//   MTU = 1420                     wg-quick's; 1280-65535 (we carry IPv6)
//   FwMark = off | 42 | 0x2a
//
//   [Peer]                         any number of them
//   PublicKey = <base64>           required, unique
//   PresharedKey = <base64>
//   Endpoint = 192.0.2.1:51820 | [2001:db8::1]:51820   (no host names)
//   AllowedIPs = 10.42.0.2/32, fd42::2/128   repeatable; host bits cleared
//   PersistentKeepalive = 25 | off
//
// Parsing follows wg's rules: section and key names are case-insensitive;
// '#' starts a comment anywhere on a line; all whitespace is dropped (so
// "AllowedIPs = a, b" is "AllowedIPs=a,b"); a repeated key replaces the
// earlier value, except Address and AllowedIPs, which accumulate;
// [Interface] may appear more than once (the parts merge). Unlike wg, host
// names and service names ("ListenPort = wireguard") are refused, since
// nothing here resolves names.
//
// wg-quick's own keys (DNS, Table, PreUp, PostUp, PreDown, PostDown,
// SaveConfig) are accepted in [Interface] and reported as warnings: coral
// runs no hooks and touches no DNS or routing tables.
//
// Errors and warnings name the file and line ("wg0.conf:7: AllowedIPs:
// invalid prefix ..."). They never contain a private or preshared key, nor
// any part of a line they cannot classify (it may be a pasted key).

#include <cstddef>
#include <expected>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "wireguard/settings.h"

namespace coral::wireguard {

// An error or a warning about a configuration file.
struct ConfDiagnostic {
  std::string file;      // as the caller named it
  std::size_t line = 0;  // 1-based; 0 when it is about the file as a whole
  std::string message;   // "AllowedIPs: invalid prefix \"10.42.0.1/33\": ..."

  // "wg0.conf:7: <message>", or "wg0.conf: <message>" for line 0.
  std::string to_string() const;

  bool operator==(const ConfDiagnostic&) const = default;
};

struct ParsedConf {
  DeviceSettings settings;
  // Ignored wg-quick keys, AllowedIPs with host bits, prefixes claimed by
  // two peers, a file others can read: in the order found.
  std::vector<ConfDiagnostic> warnings;
};

// Parses the text of a configuration file; `file_name` is only used in
// diagnostics. The caller owns `text` (it holds the private key: wipe it).
std::expected<ParsedConf, ConfDiagnostic> parse_conf(std::string_view text, std::string_view file_name);

// The inverse, as `wg-quick save` writes a file: Address lines (one per
// address) and MTU, then what `wg showconf` prints, byte for byte: every
// field that differs from its default, keys in base64, FwMark in hex.
// parse_conf of the result gives `settings` back. The text holds the
// private key: the caller wipes it (crypto::wipe).
std::string format_conf(const DeviceSettings& settings);

// Files larger than this are refused (a real one is a few KiB).
inline constexpr std::size_t kMaxConfFileBytes = 1 << 20;

// Reads and parses `path` (named as given in diagnostics). Adds a warning
// when group or others may read the file, since it holds a private key.
// The bytes read are wiped once parsed.
std::expected<ParsedConf, ConfDiagnostic> read_conf_file(const std::filesystem::path& path);

}  // namespace coral::wireguard
