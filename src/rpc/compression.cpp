#include "rpc/compression.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>

#include "http/message.h"

namespace coral::rpc {
namespace {

// windowBits 15 with +16 selects the gzip wrapper (not zlib, not raw).
constexpr int kGzipWindowBits = 15 + 16;
constexpr std::size_t kChunk = 16 * 1024;

// zlib counts in uInt; feed it at most this much input per call.
constexpr std::size_t kMaxZlibInput = UINT_MAX;

unsigned char* zin(std::string_view data) {
  // zlib's next_in is not const-qualified but is never written through.
  return reinterpret_cast<unsigned char*>(const_cast<char*>(data.data()));
}

class Deflater {
 public:
  Deflater() { ok_ = deflateInit2(&stream_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipWindowBits, 8,
                                  Z_DEFAULT_STRATEGY) == Z_OK; }
  ~Deflater() { if (ok_) deflateEnd(&stream_); }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;
  bool ok() const { return ok_; }
  z_stream& stream() { return stream_; }

 private:
  z_stream stream_{};
  bool ok_ = false;
};

class Inflater {
 public:
  Inflater() { ok_ = inflateInit2(&stream_, kGzipWindowBits) == Z_OK; }
  ~Inflater() { if (ok_) inflateEnd(&stream_); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  bool ok() const { return ok_; }
  z_stream& stream() { return stream_; }

 private:
  z_stream stream_{};
  bool ok_ = false;
};

std::unexpected<Error> invalid_gzip() { return fail(Code::invalid_argument, "invalid gzip data"); }

}  // namespace

bool is_gzip(std::string_view encoding_name) { return http::iequals(encoding_name, kGzip); }

bool is_identity(std::string_view encoding_name) {
  return encoding_name.empty() || http::iequals(encoding_name, kIdentity);
}

Result<std::string> gzip_compress(std::string_view data) {
  Deflater deflater;
  if (!deflater.ok()) return fail(Code::internal, "gzip: cannot initialize zlib");
  z_stream& z = deflater.stream();
  std::string out;
  std::array<unsigned char, kChunk> chunk;
  std::string_view rest = data;
  for (;;) {
    if (z.avail_in == 0 && !rest.empty()) {
      const std::size_t n = std::min(rest.size(), kMaxZlibInput);
      z.next_in = zin(rest);
      z.avail_in = static_cast<uInt>(n);
      rest.remove_prefix(n);
    }
    const int flush = rest.empty() ? Z_FINISH : Z_NO_FLUSH;
    z.next_out = chunk.data();
    z.avail_out = static_cast<uInt>(chunk.size());
    const int rc = deflate(&z, flush);
    if (rc == Z_STREAM_ERROR) return fail(Code::internal, "gzip: compression failed");
    out.append(reinterpret_cast<const char*>(chunk.data()), chunk.size() - z.avail_out);
    if (rc == Z_STREAM_END) return out;
  }
}

Result<std::string> gzip_decompress(std::string_view data, std::size_t max_bytes) {
  if (data.empty()) return std::string();
  Inflater inflater;
  if (!inflater.ok()) return fail(Code::internal, "gzip: cannot initialize zlib");
  z_stream& z = inflater.stream();
  std::string out;
  std::array<unsigned char, kChunk> chunk;
  std::string_view rest = data;
  for (;;) {
    if (z.avail_in == 0 && !rest.empty()) {
      const std::size_t n = std::min(rest.size(), kMaxZlibInput);
      z.next_in = zin(rest);
      z.avail_in = static_cast<uInt>(n);
      rest.remove_prefix(n);
    }
    z.next_out = chunk.data();
    z.avail_out = static_cast<uInt>(chunk.size());
    const int rc = inflate(&z, Z_NO_FLUSH);
    const std::size_t produced = chunk.size() - z.avail_out;
    if (produced > max_bytes - out.size()) {  // out.size() <= max_bytes holds
      return fail(Code::resource_exhausted,
                  "decompressed message exceeds the limit of " + std::to_string(max_bytes) + " bytes");
    }
    out.append(reinterpret_cast<const char*>(chunk.data()), produced);
    switch (rc) {
      case Z_OK:
        break;
      case Z_STREAM_END:
        if (z.avail_in == 0 && rest.empty()) return out;
        // RFC 1952 allows several members back to back; anything else after
        // a member fails on the next inflate() as a bad header.
        if (inflateReset(&z) != Z_OK) return invalid_gzip();
        break;
      case Z_BUF_ERROR:
        // No progress possible: input exhausted before the stream ended.
        if (produced == 0 && z.avail_in == 0 && rest.empty()) return invalid_gzip();
        break;
      default:  // Z_DATA_ERROR, Z_NEED_DICT, Z_MEM_ERROR, Z_STREAM_ERROR
        if (rc == Z_MEM_ERROR) return fail(Code::resource_exhausted, "gzip: out of memory");
        return invalid_gzip();
    }
  }
}

}  // namespace coral::rpc
