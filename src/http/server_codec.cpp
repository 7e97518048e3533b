// The server codec of a cleartext port that speaks HTTP/1.1 and h2c: it
// waits for enough bytes to tell the HTTP/2 connection preface from an
// HTTP/1.1 request line, then hands the connection to the matching codec,
// and swaps HTTP/1.1 for HTTP/2 after an "Upgrade: h2c" request.

#include <string>

#include "http/h2_codec.h"

namespace coral::http {
namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Stamps the client's address on every request.
class RemoteTagger final : public Application {
 public:
  RemoteTagger(Application& app, std::string remote) : app_(app), remote_(std::move(remote)) {}
  std::unique_ptr<RequestHandler> on_request(RequestHead head, ResponseWriter& writer) override {
    head.remote = remote_;
    return app_.on_request(std::move(head), writer);
  }

 private:
  Application& app_;
  std::string remote_;
};

class AutoServerCodec final : public ServerCodec {
 public:
  AutoServerCodec(Application& app, Wake wake, ServerLimits limits, std::string remote)
      : app_(app, std::move(remote)), wake_(std::move(wake)), limits_(limits) {}

  std::expected<void, CodecError> receive(Bytes input) override {
    if (current()) return feed(input);
    sniffed_.append(reinterpret_cast<const char*>(input.data()), input.size());
    const std::size_t n = std::min(sniffed_.size(), kPreface.size());
    const bool h2 = std::string_view(sniffed_).substr(0, n) == kPreface.substr(0, n);
    if (h2 && sniffed_.size() < kPreface.size()) return {};  // need more bytes to decide
    if (h2) h2_ = make_h2_server_codec(app_, wake_, limits_);
    else h1_ = make_h1_server_codec(app_, wake_, limits_);
    const std::string first = std::move(sniffed_);
    return feed(std::as_bytes(std::span(first)));
  }

  Bytes next_output() override {
    if (!switch_output_.empty()) {
      output_ = std::move(switch_output_);
      switch_output_.clear();
      return std::as_bytes(std::span(output_));
    }
    return current() ? current()->next_output() : Bytes{};
  }
  bool wants_close() const override { return current() ? current()->wants_close() : shut_down_; }
  void shutdown() override {
    if (current()) current()->shutdown();
    shut_down_ = true;
  }
  bool idle() const override { return !current() || current()->idle(); }
  bool waiting_for_peer() const override { return current() ? current()->waiting_for_peer() : !sniffed_.empty(); }
  bool reading_head() const override { return current() ? current()->reading_head() : !sniffed_.empty(); }
  std::size_t buffered_output() const override {
    return switch_output_.size() + (current() ? current()->buffered_output() : 0);
  }
  bool read_paused() const override { return current() && current()->read_paused(); }
  bool reading_body() const override { return current() && current()->reading_body(); }
  std::size_t output_owed() const override {
    return switch_output_.size() + (current() ? current()->output_owed() : 0);
  }
  // Restarts from 0 when h1 hands over to h2: only changes matter.
  std::uint64_t output_taken() const override { return current() ? current()->output_taken() : 0; }
  void connection_lost() override {
    if (current()) current()->connection_lost();
  }

 private:
  ServerCodec* current() const { return h2_ ? h2_.get() : static_cast<ServerCodec*>(h1_.get()); }

  std::expected<void, CodecError> feed(Bytes input) {
    if (h2_) return h2_->receive(input);
    auto result = h1_->receive(input);
    if (!result) return result;
    auto upgrade = h1_->take_upgrade();
    if (!upgrade) return result;
    // The 101 response, h1's last output, must precede h2's SETTINGS. Requests
    // are served in order, so h1 has no request in progress any more.
    for (Bytes out = h1_->next_output(); !out.empty(); out = h1_->next_output()) {
      switch_output_.append(reinterpret_cast<const char*>(out.data()), out.size());
    }
    const std::string leftover = h1_->take_leftover();
    h1_.reset();
    h2_ = make_h2_server_codec(app_, wake_, limits_, &*upgrade);
    if (shut_down_) h2_->shutdown();
    if (leftover.empty()) return {};
    return h2_->receive(std::as_bytes(std::span(leftover)));
  }

  RemoteTagger app_;
  Wake wake_;
  ServerLimits limits_;
  std::string sniffed_;        // first bytes, until the protocol is known
  std::unique_ptr<H1ServerCodec> h1_;
  std::unique_ptr<ServerCodec> h2_;
  std::string switch_output_;  // the 101 response, sent before h2's output
  std::string output_;         // what next_output() last returned from switch_output_
  bool shut_down_ = false;
};

}  // namespace

std::unique_ptr<ServerCodec> make_server_codec(Application& app, Wake wake, ServerLimits limits,
                                               std::string remote) {
  return std::make_unique<AutoServerCodec>(app, std::move(wake), limits, std::move(remote));
}

}  // namespace coral::http
