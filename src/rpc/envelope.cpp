#include "rpc/envelope.h"

#include <cassert>
#include <cstring>

namespace coral::rpc {
namespace {

// Below this, moving the unread tail to the front costs more than it saves.
constexpr std::size_t kCompactThreshold = 64 * 1024;

std::uint32_t read_length(const char* header) {
  const auto* p = reinterpret_cast<const unsigned char*>(header);
  return (std::uint32_t{p[1]} << 24) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 8) |
         std::uint32_t{p[4]};
}

}  // namespace

void append_envelope(std::string& out, std::uint8_t flags, std::string_view payload) {
  assert(payload.size() <= kMaxEnvelopePayload);
  const auto length = static_cast<std::uint32_t>(payload.size());
  const char header[kEnvelopeHeaderBytes] = {
      static_cast<char>(flags),
      static_cast<char>((length >> 24) & 0xFF),
      static_cast<char>((length >> 16) & 0xFF),
      static_cast<char>((length >> 8) & 0xFF),
      static_cast<char>(length & 0xFF),
  };
  out.reserve(out.size() + sizeof header + payload.size());
  out.append(header, sizeof header);
  out.append(payload);
}

EnvelopeReader::EnvelopeReader(std::size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

Status EnvelopeReader::feed(std::span<const std::byte> input) {
  return feed(std::string_view(reinterpret_cast<const char*>(input.data()), input.size()));
}

Status EnvelopeReader::feed(std::string_view input) {
  if (error_) return std::unexpected(*error_);
  if (input.empty()) return {};
  compact();
  buffer_.append(input);
  return check_headers();
}

// Walks every header that has become readable since the last call, so an
// oversized announcement is rejected on the feed that completes its header.
// Each header is re-read at most once per feed while its payload is pending,
// which keeps the total work linear in the input.
Status EnvelopeReader::check_headers() {
  while (buffer_.size() - scanned_ >= kEnvelopeHeaderBytes) {
    const std::size_t length = read_length(buffer_.data() + scanned_);
    if (length > max_message_bytes_) {
      error_ = Error{Code::resource_exhausted,
                     "message size " + std::to_string(length) + " exceeds the limit of " +
                         std::to_string(max_message_bytes_) + " bytes",
                     {}};
      buffer_.clear();
      buffer_.shrink_to_fit();
      read_ = scanned_ = 0;
      return std::unexpected(*error_);
    }
    if (buffer_.size() - scanned_ - kEnvelopeHeaderBytes < length) break;
    scanned_ += kEnvelopeHeaderBytes + length;
  }
  return {};
}

std::optional<Envelope> EnvelopeReader::next() {
  if (read_ >= scanned_) return std::nullopt;
  const char* header = buffer_.data() + read_;
  const std::size_t length = read_length(header);
  Envelope envelope{static_cast<std::uint8_t>(header[0]),
                    std::string(header + kEnvelopeHeaderBytes, length)};
  read_ += kEnvelopeHeaderBytes + length;
  if (read_ == buffer_.size()) {
    buffer_.clear();
    read_ = scanned_ = 0;
  }
  return envelope;
}

bool EnvelopeReader::has_partial() const { return scanned_ < buffer_.size(); }

// Drops consumed bytes once they are both numerous and at least half the
// buffer, so each byte is moved O(1) times on average.
void EnvelopeReader::compact() {
  if (read_ < kCompactThreshold || read_ * 2 < buffer_.size()) return;
  buffer_.erase(0, read_);
  scanned_ -= read_;
  read_ = 0;
}

}  // namespace coral::rpc
