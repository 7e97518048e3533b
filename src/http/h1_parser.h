#pragma once
// Boost.Beast's incremental HTTP/1 parser, adapted to forward its events to
// a codec with std::string_view arguments.
//
// One Parser reads one message: Beast's parser cannot be reset, so the codecs
// construct a fresh one (in a std::optional) per message. Input is presented
// as one contiguous buffer, so Beast never copies it; string views handed to
// the sink point into that buffer and die with the call.
//
// The Sink provides:
//   void on_request_line(std::string_view method, std::string_view target, int version, error_code&);
//   void on_status_line(int status, int version, error_code&);
//   void on_field(std::string_view name, std::string_view value, error_code&);   // header and trailer fields
//   void on_header(error_code&);
//   void on_body(std::string_view data, error_code&);  // content-length, chunked or until-close bodies alike
//   void on_finish(error_code&);
// A sink stops parsing by setting the error_code; put() then returns it.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string_view>

#include <boost/beast/http/basic_parser.hpp>

namespace coral::http::h1 {

using error_code = boost::beast::error_code;
namespace beast_http = boost::beast::http;

// The error a sink sets to stop parsing for a reason of its own (a reset
// exchange, say) rather than a malformed message.
inline error_code stopped() { return boost::system::errc::make_error_code(boost::system::errc::operation_canceled); }

template <bool isRequest, class Sink>
class Parser final : public beast_http::basic_parser<isRequest> {
 public:
  Parser(Sink& sink, std::size_t header_limit) : sink_(sink) {
    // Parse everything presented, not one structural element per call.
    this->eager(true);
    // Body limits belong to the application, which resets the exchange.
    // Not boost::none: Beast 1.74 compares `length > body_limit_` against
    // the optional, and any length exceeds an empty one.
    this->body_limit(std::numeric_limits<std::uint64_t>::max());
    this->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(header_limit, std::numeric_limits<std::uint32_t>::max())));
  }

  // Returns how many bytes were consumed; error::need_more means the rest of
  // `input` is an incomplete element to present again with more bytes.
  std::size_t feed(std::string_view input, error_code& ec) {
    return this->put(boost::asio::const_buffer(input.data(), input.size()), ec);
  }

 private:
  static std::string_view view(boost::beast::string_view s) { return {s.data(), s.size()}; }

  void on_request_impl(beast_http::verb, boost::beast::string_view method, boost::beast::string_view target,
                       int version, error_code& ec) override {
    sink_.on_request_line(view(method), view(target), version, ec);
  }
  void on_response_impl(int status, boost::beast::string_view, int version, error_code& ec) override {
    sink_.on_status_line(status, version, ec);
  }
  void on_field_impl(beast_http::field, boost::beast::string_view name, boost::beast::string_view value,
                     error_code& ec) override {
    sink_.on_field(view(name), view(value), ec);
  }
  void on_header_impl(error_code& ec) override { sink_.on_header(ec); }
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(boost::beast::string_view body, error_code& ec) override {
    if (!body.empty()) sink_.on_body(view(body), ec);
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body, error_code& ec) override {
    if (!body.empty()) sink_.on_body(view(body), ec);
    return body.size();
  }
  void on_finish_impl(error_code& ec) override { sink_.on_finish(ec); }

  Sink& sink_;
};

}  // namespace coral::http::h1
