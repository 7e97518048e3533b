#include "netstack/core.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include "crypto/blake2s.h"
#include "crypto/keys.h"
#include "net/error.h"

extern "C" {
#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
#include "lwip_hooks.h"
}

namespace coral::netstack::detail {

namespace {

using Clock = std::chrono::steady_clock;

Core* current = nullptr;
std::weak_ptr<Core> current_owner;
bool lwip_initialized = false;

// RFC 6528's secret key for initial sequence numbers, drawn once.
std::array<std::uint8_t, 32>& isn_key() {
  static std::array<std::uint8_t, 32> key = [] {
    std::array<std::uint8_t, 32> k{};
    crypto::random_bytes(k);
    return k;
  }();
  return key;
}

void append_address(std::vector<std::uint8_t>& out, const ip_addr_t* address) {
  if (IP_IS_V6(address)) {
    const auto* words = ip_2_ip6(address)->addr;
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(words);
    out.insert(out.end(), bytes, bytes + 16);
  } else {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(&ip_2_ip4(address)->addr);
    out.insert(out.end(), bytes, bytes + 4);
  }
}

}  // namespace

std::shared_ptr<Core> Core::acquire(boost::asio::io_context& io) {
  if (auto core = current_owner.lock()) {
    if (&core->io_ != &io) return nullptr;
    return core;
  }
  if (!lwip_initialized) {
    lwip_init();
    lwip_initialized = true;
  }
  std::shared_ptr<Core> core(new Core(io));
  current = core.get();
  current_owner = core;
  return core;
}

Core::Core(boost::asio::io_context& io) : io_(io), timer_(io) { schedule(); }

Core::~Core() {
  if (current == this) current = nullptr;
}

Core::Batch::Batch(Core& core, Flush flush) : core_(core), flush_(flush) { ++core_.depth_; }

Core::Batch::~Batch() {
  if (flush_ == Flush::deferred) core_.deferred_pending_ = true;
  if (--core_.depth_ == 0) core_.close_batch(core_.deferred_pending_ ? Flush::deferred : Flush::on_close);
}

void Core::queue(Sink* output) {
  if (std::find(queued_.begin(), queued_.end(), output) == queued_.end()) queued_.push_back(output);
}

void Core::forget(Sink* output) { std::erase(queued_, output); }

void Core::close_batch(Batch::Flush flush) {
  if (flush == Batch::Flush::deferred) {
    deferred_pending_ = false;
    if (!queued_.empty() && !flush_posted_) {
      flush_posted_ = true;
      boost::asio::post(io_, [weak = weak_from_this()] {
        if (auto self = weak.lock()) {
          self->flush_posted_ = false;
          Batch batch(*self);
        }
      });
    }
    schedule();
    return;
  }
  flush_queued();
  schedule();
}

void Core::flush_queued() {
  // A flush hands packets to the WireGuard device, which encrypts and sends
  // them; the device's answers come back later, from its own handlers.
  // Nothing in the flush opens a batch, but guard against re-entry anyway.
  ++depth_;
  for (std::size_t i = 0; i < queued_.size(); ++i) queued_[i]->flush();
  queued_.clear();
  --depth_;
}

void Core::schedule() {
  const u32_t sleep = sys_timeouts_sleeptime();
  if (sleep == SYS_TIMEOUTS_SLEEPTIME_INFINITE) return;
  const auto deadline = Clock::now() + std::chrono::milliseconds(sleep);
  // Already armed for as soon or sooner (a timer fires at most a tick late).
  if (armed_for_ <= deadline && armed_for_ > Clock::now()) return;
  armed_for_ = deadline;
  timer_.expires_at(deadline);
  timer_.async_wait([this](boost::system::error_code error) {
    if (error) return;  // re-armed, or the core is gone
    armed_for_ = Clock::time_point::max();
    Batch batch(*this);
    sys_check_timeouts();
  });
}

std::error_code to_error_code(signed char lwip_error) {
  switch (lwip_error) {
    case ERR_OK:
      return {};
    case ERR_MEM:
    case ERR_BUF:
      return std::make_error_code(std::errc::no_buffer_space);
    case ERR_TIMEOUT:
      return std::make_error_code(std::errc::timed_out);
    case ERR_RTE:
      return net::Errc::mesh_unreachable;
    case ERR_INPROGRESS:
      return std::make_error_code(std::errc::operation_in_progress);
    case ERR_VAL:
    case ERR_ARG:
      return std::make_error_code(std::errc::invalid_argument);
    case ERR_WOULDBLOCK:
      return std::make_error_code(std::errc::operation_would_block);
    case ERR_USE:
      return std::make_error_code(std::errc::address_in_use);
    case ERR_ALREADY:
      return std::make_error_code(std::errc::connection_already_in_progress);
    case ERR_ISCONN:
      return std::make_error_code(std::errc::already_connected);
    case ERR_CONN:
      return std::make_error_code(std::errc::not_connected);
    case ERR_IF:
      return std::make_error_code(std::errc::network_down);
    case ERR_ABRT:
      return std::make_error_code(std::errc::connection_aborted);
    case ERR_RST:
      return std::make_error_code(std::errc::connection_reset);
    case ERR_CLSD:
      return std::error_code(boost::system::error_code(boost::asio::error::eof));
    default:
      return std::make_error_code(std::errc::io_error);
  }
}

}  // namespace coral::netstack::detail

using coral::netstack::detail::Clock;

extern "C" {

u32_t sys_now(void) {
  static const auto start = Clock::now();
  return static_cast<u32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
}

void coral_lwip_assert(const char* message, const char* file, int line) {
  std::fprintf(stderr, "lwIP assertion failed: %s (%s:%d)\n", message, file, line);
  std::abort();
}

uint32_t coral_lwip_rand(void) { return arc4random(); }

u32_t coral_lwip_tcp_isn(const ip_addr_t* local_ip, u16_t local_port, const ip_addr_t* remote_ip,
                         u16_t remote_port) {
  std::vector<std::uint8_t> input;
  input.reserve(40);
  coral::netstack::detail::append_address(input, local_ip);
  coral::netstack::detail::append_address(input, remote_ip);
  input.push_back(static_cast<std::uint8_t>(local_port >> 8));
  input.push_back(static_cast<std::uint8_t>(local_port));
  input.push_back(static_cast<std::uint8_t>(remote_port >> 8));
  input.push_back(static_cast<std::uint8_t>(remote_port));
  std::array<std::uint8_t, 4> hash{};
  coral::crypto::blake2s(hash, input, coral::netstack::detail::isn_key());
  std::uint32_t offset = 0;
  std::memcpy(&offset, hash.data(), sizeof offset);
  // RFC 6528's M: a clock ticking every 4 microseconds.
  const auto ticks = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count() / 4;
  return static_cast<u32_t>(ticks) + offset;
}

struct netif* coral_lwip_route4(const ip4_addr_t* src, const ip4_addr_t* dest) {
  (void)dest;
  if (struct netif* input = ip_current_input_netif()) return input;
  if (src == nullptr) return nullptr;
  struct netif* netif = nullptr;
  NETIF_FOREACH(netif) {
    if (netif_is_up(netif) && ip4_addr_cmp(src, netif_ip4_addr(netif))) return netif;
  }
  return nullptr;
}

struct netif* coral_lwip_route6(const ip6_addr_t* src, const ip6_addr_t* dest) {
  (void)dest;
  if (struct netif* input = ip_current_input_netif()) return input;
  if (src == nullptr) return nullptr;
  struct netif* netif = nullptr;
  NETIF_FOREACH(netif) {
    if (netif_is_up(netif) && netif_get_ip6_addr_match(netif, src) >= 0) return netif;
  }
  return nullptr;
}

}  // extern "C"
