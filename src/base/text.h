#pragma once
// Small text helpers, one of each: quoting a value for a message, hex,
// ASCII case and trimming. Everything here is ASCII-only and locale-free.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace coral::base {

// ---- Quoting --------------------------------------------------------------

struct QuoteOptions {
  // At most this many bytes of the text are shown; the rest is cut.
  std::size_t max_bytes = std::numeric_limits<std::size_t>::max();
  // How a cut shows: "..." inside the quotes ("abc..."), or, with
  // `cut_names_size`, after them with the full size ("abc"... (300 bytes)).
  bool cut_names_size = false;
  // Well-formed UTF-8 beyond ASCII (U+00A0 and up) is shown as it is,
  // instead of as \xNN bytes. The C1 controls and broken bytes are always
  // escaped.
  bool keep_utf8 = false;
};

// `text` in double quotes for a diagnostic: '"' and '\' escaped with '\',
// control characters (C0, DEL, and C1 as UTF-8) and bytes beyond ASCII as
// \xNN, so that what a user or a peer sent can neither garble a terminal
// nor pass for the end of the value. Secret-looking values are the
// caller's to hold back (this shows whatever it is given).
std::string quote(std::string_view text, QuoteOptions options = {});

// ---- Hex ------------------------------------------------------------------

enum class HexCase { lower, upper };

// Appends two hex digits for `byte`.
void append_hex(std::string& out, std::uint8_t byte, HexCase letters = HexCase::lower);
// Two hex digits per byte.
std::string hex(std::span<const std::uint8_t> bytes, HexCase letters = HexCase::lower);
std::string hex(std::string_view bytes, HexCase letters = HexCase::lower);

// The value of one hex digit (either case), or nullopt.
std::optional<std::uint8_t> hex_digit(char c);
// Exactly 2 * out.size() hex digits (either case) into `out`. On failure
// `out` is zeroed and false returned; nothing is allocated, so `out` may
// hold a secret.
bool from_hex(std::string_view text, std::span<std::uint8_t> out);

// ---- ASCII case and whitespace ---------------------------------------------

char to_lower(char c);
std::string to_lower(std::string_view text);
// Equal ignoring ASCII case.
bool iequals(std::string_view a, std::string_view b);
// Without leading and trailing spaces and tabs (HTTP's OWS, RFC 9110
// section 5.6.3).
std::string_view trim(std::string_view text);

}  // namespace coral::base
