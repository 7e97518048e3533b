#pragma once
// Small text helpers shared by the configuration file and UAPI parsers.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace coral::wireguard {

// `text` in double quotes for a diagnostic: '"' and '\' escaped, control
// and non-ASCII bytes as \xNN, cut after 64 bytes ("..." follows), so that
// hostile input can neither garble a terminal nor flood a log. Text that
// looks_like_key() is not shown: a key pasted into the wrong field must not
// reach a log.
std::string quote(std::string_view text);

// 40-48 characters of the base64 alphabet, or 40 or more hex digits: what a
// WireGuard key (or most of one) looks like in a file or on the UAPI.
bool looks_like_key(std::string_view text);

// Letters, digits, '_' and '-', starting with a letter, at most 32
// characters: what a key *name* ("PrivateKey", "listen_port") may look like.
// Diagnostics name an unknown key only when it is one, since a line such as
// "<base64 key>=" splits into a "key" that is secret.
bool is_key_name(std::string_view text);

// Decimal digits only, at least one, at most `max`. Leading zeros are
// allowed, as strtoul (wg) and Go's strconv.ParseUint (wireguard-go) take
// them; signs and spaces are not.
std::optional<std::uint64_t> parse_decimal(std::string_view text, std::uint64_t max);

// Hexadecimal digits (either case) only, at least one, at most `max`.
std::optional<std::uint64_t> parse_hex(std::string_view text, std::uint64_t max);

}  // namespace coral::wireguard
