#pragma once
// The cross-platform userspace API (https://www.wireguard.com/xplatform/):
// the text protocol that `wg` speaks to wireguard-go over the stream socket
// /var/run/wireguard/NAME.sock, without the socket. The device feeds the
// bytes it reads to a RequestFramer, answers each Request, and writes the
// answer back:
//
//   get:  "get=1\n\n"  ->  format_get_response(snapshot): "key=value\n"...
//         then "errno=0\n\n"
//   set:  "set=1\n" "key=value\n"... "\n"  ->  parse_set(body), apply the
//         operations, then format_errno_response(0 or the failure's errno)
//
// Behaviour follows wireguard-go (device/uapi.go) where `wg` can tell the
// difference, with three deliberate changes, all stricter:
// - a set request is parsed whole before anything is applied, so a bad line
//   leaves the device as it was (wireguard-go applies the lines before it);
// - lines and requests have size caps (Limits), answered with EMSGSIZE;
// - endpoints must be IP literals with a port 1-65535 and no IPv6 zone.
//
// Keys travel in lowercase hex here (base64 is only for people). Requests
// and responses can hold private and preshared keys: this code wipes what
// it buffers and never puts key material into error details; callers wipe
// the response text they send.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "wireguard/settings.h"

namespace coral::wireguard::uapi {

// Bounds on what one connection may send. `wg` sends lines of at most ~100
// bytes and a few hundred bytes per peer, so the default request cap fits
// several thousand peers with several allowed IPs each.
struct Limits {
  std::size_t max_line_bytes = 4096;        // one line, '\n' included
  std::size_t max_request_bytes = 1 << 20;  // a whole request, "set=1\n" to the blank line
};

enum class RequestKind : std::uint8_t {
  get,  // "get=1\n\n"
  set,  // "set=1\n" ... "\n"
};
std::string_view to_string(RequestKind kind);

// One complete request. Move-only, and the body is wiped when the request
// is destroyed or assigned over: a set can carry keys.
struct Request {
  RequestKind kind = RequestKind::get;
  // set: the lines after "set=1\n", each ending in '\n', without the blank
  // line that ends the request. get: empty.
  std::string body;

  Request() = default;
  Request(RequestKind request_kind, std::string request_body);
  Request(Request&& other) noexcept = default;
  Request& operator=(Request&& other) noexcept;
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  ~Request();
};

enum class FramingError : std::uint8_t {
  unknown_operation,   // the first line is neither "get=1" nor "set=1"
  get_not_terminated,  // "get=1\n" is followed by something other than "\n"
  line_too_long,       // a line longer than Limits::max_line_bytes
  request_too_long,    // a request longer than Limits::max_request_bytes
};
std::string_view to_string(FramingError error);

// What to write before closing the connection after a framing error:
// nothing for unknown_operation (wireguard-go closes without a word: the
// peer is not speaking this protocol), "errno=-22\n\n" (EINVAL) for
// get_not_terminated, "errno=-90\n\n" (EMSGSIZE) for the size caps.
std::optional<std::string> framing_error_response(FramingError error);

// Splits a connection's byte stream into requests; several may follow each
// other on one connection (wireguard-go serves them in turn; `wg` sends
// one). Call next() until it returns nullopt after every feed(): the buffer
// then holds at most one partial request plus one read.
//
// After an error the framer stays failed (next() returns the same error):
// the rest of the stream cannot be trusted to line up with requests, so the
// caller writes framing_error_response() and closes the connection.
class RequestFramer {
 public:
  explicit RequestFramer(Limits limits = {});
  RequestFramer(const RequestFramer&) = delete;
  RequestFramer& operator=(const RequestFramer&) = delete;
  ~RequestFramer();

  void feed(std::string_view bytes);
  // The next complete request, nullopt when more bytes are needed.
  std::expected<std::optional<Request>, FramingError> next();
  // Bytes received and not yet part of a returned request (for tests, and
  // for logging a connection that closes mid-request).
  std::size_t buffered_bytes() const { return buffer_.size(); }

 private:
  // Drops the first `n` bytes, wiping them.
  void consume(std::size_t n);

  Limits limits_;
  std::string buffer_;
  // In a set request: where the next line to look at starts (so that a
  // request fed byte by byte is scanned once).
  std::size_t scan_from_ = 0;
  std::optional<FramingError> failed_;
};

// The operations of a set request, in the order given. Device-wide ones
// come first; SelectPeer starts a peer's section, and the operations after
// it apply to that peer (the "current peer") until the next SelectPeer.
//
// How to apply them, as wireguard-go does (apply_set below does exactly
// this to a DeviceSettings, and serves as the reference):
// - SelectPeer: the current peer is the one with this public key, created
//   if there is none. If the key is the device's own public key, the
//   current peer is a placeholder: the operations for it are ignored.
// - UpdateOnly: if SelectPeer just created the peer, remove it again (the
//   current peer becomes a placeholder): only existing peers are updated.
// - RemovePeer: remove the current peer; it becomes a placeholder.
// - AddAllowedIp moves the prefix to the current peer from whichever peer
//   had it; RemoveAllowedIp removes it only if the current peer has it.
// - SetPrivateKey also removes any peer whose public key is the new
//   key's public key.
struct SetPrivateKey {
  crypto::SecretKey key;  // all zeros: the device has no key (nor handshakes)
  bool operator==(const SetPrivateKey&) const = default;
};
struct SetListenPort {
  std::uint16_t port = 0;  // 0: any free port
  bool operator==(const SetListenPort&) const = default;
};
struct SetFwmark {
  std::uint32_t mark = 0;  // 0: none
  bool operator==(const SetFwmark&) const = default;
};
struct ReplacePeers {  // remove every peer
  bool operator==(const ReplacePeers&) const = default;
};
struct SelectPeer {
  crypto::PublicKey public_key;
  bool operator==(const SelectPeer&) const = default;
};
struct RemovePeer {
  bool operator==(const RemovePeer&) const = default;
};
struct UpdateOnly {
  bool operator==(const UpdateOnly&) const = default;
};
struct SetPresharedKey {
  crypto::SecretKey key;  // all zeros: none
  bool operator==(const SetPresharedKey&) const = default;
};
struct SetEndpoint {
  Endpoint endpoint;
  bool operator==(const SetEndpoint&) const = default;
};
struct SetPersistentKeepalive {
  std::uint16_t seconds = 0;  // 0: off
  bool operator==(const SetPersistentKeepalive&) const = default;
};
struct ReplaceAllowedIps {  // remove all of the current peer's allowed IPs
  bool operator==(const ReplaceAllowedIps&) const = default;
};
struct AddAllowedIp {
  base::Cidr prefix;  // host bits cleared
  bool operator==(const AddAllowedIp&) const = default;
};
struct RemoveAllowedIp {  // "allowed_ip=-prefix"
  base::Cidr prefix;
  bool operator==(const RemoveAllowedIp&) const = default;
};
using SetOperation = std::variant<SetPrivateKey, SetListenPort, SetFwmark, ReplacePeers, SelectPeer, RemovePeer,
                                  UpdateOnly, SetPresharedKey, SetEndpoint, SetPersistentKeepalive,
                                  ReplaceAllowedIps, AddAllowedIp, RemoveAllowedIp>;

enum class SetError : std::uint8_t {
  malformed_line,    // a line without '=' (EPROTO, as wireguard-go)
  unknown_key,       // a key the protocol does not have (EINVAL)
  key_out_of_place,  // a device key after public_key, or a peer key before it (EINVAL)
  invalid_value,     // a value that does not parse or is out of range (EINVAL)
};
std::string_view to_string(SetError error);

struct SetFailure {
  SetError error = SetError::invalid_value;
  std::size_t line = 0;  // 1-based, counting from the line after "set=1"
  // For logs: "listen_port: must be a number 0-65535, got \"70000\"". Holds
  // no key material.
  std::string detail;

  // The positive errno (EPROTO or EINVAL); format_errno_response negates it.
  int errno_value() const;
};

// Parses the body of a set request (Request::body; a last line without its
// '\n' is accepted too). Private keys other than all-zeros are clamped, as
// wireguard-go does, so that a later get shows what wireguard-go would.
// protocol_version=1 is checked and produces no operation.
std::expected<std::vector<SetOperation>, SetFailure> parse_set(std::string_view body);

// "errno=0\n\n" for success; for a positive errno N, "errno=-N\n\n":
// wireguard-go sends negative values, and `wg set` negates what it reads.
std::string format_errno_response(int errno_value);

// A peer as a get response shows it.
struct PeerSnapshot {
  crypto::PublicKey public_key;
  crypto::SecretKey preshared_key;  // all zeros when there is none (printed as such, as wireguard-go does)
  std::optional<Endpoint> endpoint;
  // Wall-clock time of the latest handshake; nullopt: never (printed as 0 s 0 ns).
  std::optional<std::chrono::system_clock::time_point> last_handshake;
  std::uint64_t tx_bytes = 0;
  std::uint64_t rx_bytes = 0;
  std::uint16_t persistent_keepalive_interval = 0;
  std::vector<base::Cidr> allowed_ips;
};

struct DeviceSnapshot {
  crypto::SecretKey private_key;  // all zeros: none (line left out)
  std::uint16_t listen_port = 0;  // the bound port; 0: not bound (line left out)
  std::uint32_t fwmark = 0;       // 0: none (line left out)
  std::vector<PeerSnapshot> peers;
};

// The whole get response, byte for byte as wireguard-go writes it, ending
// in "errno=0\n\n". It holds the private key: the caller wipes it.
std::string format_get_response(const DeviceSnapshot& snapshot);

// A set request ("set=1\n" ... "\n") that parse_set reads back as `ops`.
// For tests and clients; the caller wipes it when it holds keys.
std::string format_set_request(std::span<const SetOperation> ops);

// The operations `wg setconf` sends for a configuration: private key,
// listen port, fwmark, replace_peers, then each peer with
// replace_allowed_ips and its allowed IPs. Addresses and MTU are not part
// of the protocol (they belong to the network interface).
std::vector<SetOperation> to_set_operations(const DeviceSettings& settings);

// Applies `ops` to `settings` with the semantics described above. Peers
// keep their order; new ones go last.
void apply_set(DeviceSettings& settings, std::span<const SetOperation> ops);

}  // namespace coral::wireguard::uapi
