#pragma once
// Message compression. Only gzip is supported; "identity" (or no encoding)
// means the bytes are sent as they are.

#include <cstddef>
#include <string>
#include <string_view>

#include "rpc/error.h"

namespace coral::rpc {

// What coral advertises in accept-encoding style headers
// (Connect-Accept-Encoding, Accept-Encoding, grpc-accept-encoding).
inline constexpr std::string_view kAcceptEncoding = "gzip";
inline constexpr std::string_view kGzip = "gzip";
inline constexpr std::string_view kIdentity = "identity";

// True for "gzip" in any letter case.
bool is_gzip(std::string_view encoding_name);
// True for an absent/empty encoding or "identity" in any letter case.
bool is_identity(std::string_view encoding_name);

// A complete gzip member (RFC 1952). Fails only if zlib does (internal).
Result<std::string> gzip_compress(std::string_view data);

// Inflates gzip data (one or more concatenated members). Output larger than
// `max_bytes` fails with resource_exhausted without ever holding more than
// max_bytes plus one working chunk, so a small zip bomb cannot make us
// allocate its expanded size. Corrupt, truncated or trailing-garbage input
// fails with invalid_argument ("invalid gzip data"). Empty input inflates to
// an empty string (an empty body carries an empty message whatever its
// declared encoding, as connect-go treats it). Pass SIZE_MAX for no limit.
Result<std::string> gzip_decompress(std::string_view data, std::size_t max_bytes);

}  // namespace coral::rpc
