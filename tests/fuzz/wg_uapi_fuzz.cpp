// The WireGuard UAPI (uapi.h) over an arbitrary byte stream, as a device
// serves one connection: RequestFramer splits it into requests; a set is
// parsed (parse_set) and applied (apply_set) to the device's settings; a
// get is answered (format_get_response) from a snapshot of them; a framing
// error is answered (framing_error_response) and ends the stream.
//
// Input layout: [limits][split][stream...]. limits >= 0x80 picks small
// Limits so that both size caps are hit; split seeds the sizes of the
// reads the stream arrives in (0: one read).
//
// Oracles:
// - framing does not depend on how the stream is split into reads: the same
//   requests, then the same answer to the same error; a failed framer stays
//   failed; between requests it buffers less than one request;
// - a set body that parses formats (format_set_request) to a request that
//   frames and parses back to the same operations;
// - a refused set names a line of the body, maps to EPROTO or EINVAL, and
//   its detail repeats no private or preshared key value, nor a line or a
//   key with digits in it (hex keys have them), when that is 16 characters
//   or more without spaces (the fixed wording of a detail has no such run:
//   shorter ones could be quoted from it);
// - after apply_set, the settings keep their invariants: unique public
//   keys, no peer with the device's own public key, each allowed IP owned
//   by one peer once, no all-zero preshared key;
// - the settings survive to_set_operations + apply_set, format_conf +
//   parse_conf, and a get response read back as a set body (without the
//   read-only statistics lines).

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/keys.h"
#include "wireguard/conf_file.h"
#include "wireguard/uapi.h"

namespace {

using namespace coral;
using namespace coral::wireguard;
using namespace coral::wireguard::uapi;

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "wg_uapi_fuzz: oracle failed: %s\n", what);
  __builtin_trap();
}

struct Framed {
  std::vector<std::pair<RequestKind, std::string>> requests;
  std::optional<FramingError> error;
};

// Feeds `stream` in reads whose sizes come from `split`, taking every
// request after each read, as the device does.
Framed frame(std::string_view stream, std::uint8_t split, const Limits& limits) {
  Framed framed;
  RequestFramer framer(limits);
  std::uint32_t state = split;
  while (!stream.empty() && !framed.error) {
    std::size_t n = stream.size();
    if (split != 0) {
      state = state * 1103515245u + 12345u;
      n = std::min<std::size_t>(n, 1 + (state >> 16) % (split & 0x3f ? (split & 0x3f) : 64));
    }
    framer.feed(stream.substr(0, n));
    stream.remove_prefix(n);
    while (true) {
      auto next = framer.next();
      if (!next) {
        framed.error = next.error();
        auto again = framer.next();
        require(!again && again.error() == next.error(), "a failed framer recovered");
        break;
      }
      if (!*next) {
        require(framer.buffered_bytes() < std::max<std::size_t>(limits.max_request_bytes, 7),
                "the framer holds more than one partial request");
        break;
      }
      framed.requests.emplace_back((*next)->kind, (*next)->body);
    }
  }
  return framed;
}

std::string_view nth_line(std::string_view body, std::size_t number) {
  for (std::size_t i = 1; i < number; ++i) {
    const std::size_t newline = body.find('\n');
    if (newline == std::string_view::npos) return {};
    body.remove_prefix(newline + 1);
  }
  return body.substr(0, body.find('\n'));
}

std::size_t line_count(std::string_view body) {
  std::size_t count = 0;
  while (!body.empty()) {
    ++count;
    const std::size_t newline = body.find('\n');
    if (newline == std::string_view::npos) break;
    body.remove_prefix(newline + 1);
  }
  return count;
}

bool has_digit(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void check_failure(const SetFailure& failure, std::string_view body) {
  require(failure.line >= 1 && failure.line <= line_count(body), "a set failure names no line of the body");
  require(failure.errno_value() == (failure.error == SetError::malformed_line ? EPROTO : EINVAL),
          "a set failure maps to the wrong errno");
  require(format_errno_response(failure.errno_value()) == "errno=-" + std::to_string(failure.errno_value()) + "\n\n",
          "the errno response is not negated");
  const std::string_view line = nth_line(body, failure.line);
  const auto not_repeated = [&](std::string_view secret) {
    if (secret.size() < 16 || secret.find_first_of(" \t\r\v\f") != std::string_view::npos) return;
    require(failure.detail.find(secret) == std::string::npos, "a set failure repeats key material");
  };
  const std::size_t equals = line.find('=');
  if (equals == std::string_view::npos) {
    if (has_digit(line)) not_repeated(line);
    return;
  }
  const std::string_view key = line.substr(0, equals);
  const std::string_view value = line.substr(equals + 1);
  if (key == "private_key" || key == "preshared_key") not_repeated(value);
  if (has_digit(key)) not_repeated(key);
}

void check_invariants(const DeviceSettings& settings) {
  std::set<crypto::KeyBytes> keys;
  std::set<std::string> prefixes;
  const bool has_key = !settings.interface.private_key.is_zero();
  const crypto::PublicKey own = has_key ? settings.interface.private_key.public_key() : crypto::PublicKey{};
  for (const PeerSettings& peer : settings.peers) {
    require(keys.insert(peer.public_key.bytes()).second, "two peers have one public key");
    require(!has_key || peer.public_key != own, "a peer has the device's own public key");
    require(!peer.preshared_key || !peer.preshared_key->is_zero(), "an all-zero preshared key is kept as a key");
    for (const base::Cidr& prefix : peer.allowed_ips) {
      require(prefixes.insert(prefix.to_string()).second, "an allowed IP is owned twice");
    }
  }
}

DeviceSnapshot snapshot_of(const DeviceSettings& settings) {
  DeviceSnapshot snapshot;
  snapshot.private_key = settings.interface.private_key;
  snapshot.listen_port = settings.interface.listen_port;
  snapshot.fwmark = settings.interface.fwmark;
  std::uint64_t counter = 0;
  for (const PeerSettings& peer : settings.peers) {
    PeerSnapshot shown;
    shown.public_key = peer.public_key;
    if (peer.preshared_key) shown.preshared_key = *peer.preshared_key;
    shown.endpoint = peer.endpoint;
    if (++counter % 2 == 0) {
      const auto since_epoch = std::chrono::nanoseconds(1'700'000'000'123'456'789 + counter);
      shown.last_handshake = std::chrono::system_clock::time_point(since_epoch);
    }
    shown.tx_bytes = counter * 1000;
    shown.rx_bytes = ~counter;
    shown.persistent_keepalive_interval = peer.persistent_keepalive;
    shown.allowed_ips = peer.allowed_ips;
    snapshot.peers.push_back(std::move(shown));
  }
  return snapshot;
}

// A get response as a set body: what `wg showconf` does, minus the
// statistics, which are not settings.
std::string as_set_body(std::string_view response) {
  constexpr std::string_view kEnd = "errno=0\n\n";
  require(response.ends_with(kEnd), "a get response does not end in errno=0");
  response.remove_suffix(kEnd.size());
  std::string body;
  while (!response.empty()) {
    const std::size_t newline = response.find('\n');
    require(newline != std::string_view::npos, "a get response line has no newline");
    const std::string_view line = response.substr(0, newline + 1);
    response.remove_prefix(newline + 1);
    if (line.starts_with("last_handshake_time_") || line.starts_with("tx_bytes=") || line.starts_with("rx_bytes=")) {
      continue;
    }
    body += line;
  }
  return body;
}

void check_round_trips(const DeviceSettings& settings) {
  DeviceSettings replayed = settings;
  apply_set(replayed, to_set_operations(settings));
  require(replayed == settings, "to_set_operations + apply_set changed the settings");

  std::string conf = format_conf(settings);
  auto parsed_conf = parse_conf(conf, "uapi.conf");
  require(parsed_conf.has_value() && parsed_conf->settings == settings,
          "format_conf + parse_conf changed the settings");
  crypto::wipe(conf);

  std::string response = format_get_response(snapshot_of(settings));
  std::string body = as_set_body(response);
  auto ops = parse_set(body);
  require(ops.has_value(), "a get response does not read back as a set");
  DeviceSettings from_get;
  from_get.interface.addresses = settings.interface.addresses;
  from_get.interface.mtu = settings.interface.mtu;
  apply_set(from_get, *ops);
  require(from_get == settings, "a get response reads back as other settings");
  crypto::wipe(response);
  crypto::wipe(body);
}

void serve_set(DeviceSettings& settings, const std::string& body) {
  auto ops = parse_set(body);
  if (!ops) {
    check_failure(ops.error(), body);
    return;
  }
  std::string request = format_set_request(*ops);
  RequestFramer framer;
  framer.feed(request);
  auto framed = framer.next();
  require(framed.has_value() && framed->has_value() && (*framed)->kind == RequestKind::set,
          "format_set_request wrote something that does not frame");
  require(framer.buffered_bytes() == 0, "format_set_request wrote more than one request");
  auto again = parse_set((*framed)->body);
  require(again.has_value() && *again == *ops, "format_set_request + parse_set changed the operations");
  crypto::wipe(request);

  apply_set(settings, *ops);
  check_invariants(settings);
  check_round_trips(settings);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
  Limits limits;
  if (data[0] >= 0x80) {
    limits.max_line_bytes = 1 + (data[0] & 0x0f) * 8;
    limits.max_request_bytes = 1 + ((data[0] >> 4) & 0x07) * 96;
  }

  const Framed whole = frame(stream, 0, limits);
  const Framed split = frame(stream, data[1], limits);
  require(whole.requests == split.requests, "the requests depend on how the stream was split");
  require(whole.error.has_value() == split.error.has_value(), "a framing error depends on how the stream was split");
  if (whole.error) {
    require(framing_error_response(*whole.error) == framing_error_response(*split.error),
            "the answer to a framing error depends on how the stream was split");
  }

  DeviceSettings settings;
  for (const auto& [kind, body] : whole.requests) {
    if (kind == RequestKind::get) {
      require(body.empty(), "a get request has a body");
      std::string response = format_get_response(snapshot_of(settings));
      crypto::wipe(response);
    } else {
      serve_set(settings, body);
    }
  }
  if (whole.error) (void)framing_error_response(*whole.error);
  return 0;
}
