#include "wireguard/timers.h"

#include <algorithm>

namespace coral::wireguard {
namespace {

// SplitMix64 (Steele, Lea and Flood 2014): a small, well-mixed generator
// with one word of state, plenty for spreading retries.
std::uint64_t next_random(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

bool expired(const std::optional<Time>& deadline, Time now) { return deadline && *deadline <= now; }

void earliest(std::optional<Time>& best, const std::optional<Time>& deadline) {
  if (deadline && (!best || *deadline < *best)) best = deadline;
}

bool has_expired(Time now, Time birth, Duration lifetime) { return now >= birth + lifetime; }

}  // namespace

PeerTimers::PeerTimers(const Timings& timings, std::uint64_t jitter_seed)
    : timings_(timings), jitter_state_(jitter_seed) {}

Duration PeerTimers::jitter() {
  const auto range = static_cast<std::uint64_t>(std::max(timings_.rekey_timeout_jitter.count(), Duration::rep{0}));
  if (range == 0) return Duration{0};
  return Duration{static_cast<Duration::rep>(next_random(jitter_state_) % range)};
}

bool PeerTimers::may_send_handshake(Time now) {
  if (last_handshake_sent_ && now < *last_handshake_sent_ + timings_.rekey_timeout) return false;
  last_handshake_sent_ = now;
  return true;
}

void PeerTimers::handshake_initiated(Time now) {
  last_handshake_sent_ = now;
  retransmit_handshake_ = now + timings_.rekey_timeout + jitter();
}

void PeerTimers::handshake_response_sent(Time now) { last_handshake_sent_ = now; }

void PeerTimers::handshake_complete(Time now) {
  retransmit_handshake_.reset();
  handshake_attempts_ = 0;
  sent_last_minute_handshake_ = false;
  last_handshake_ = now;
}

void PeerTimers::session_derived(Time now) { zero_key_material_ = now + 3 * timings_.reject_after_time; }

void PeerTimers::data_sent(Time now) {
  if (!new_handshake_) new_handshake_ = now + timings_.keepalive_timeout + timings_.rekey_timeout + jitter();
}

void PeerTimers::data_received(Time now) {
  // Counted from the first data since we last sent anything. (The kernel
  // also notes "another keepalive needed" for data arriving while the timer
  // runs, but the keepalive it then sends disarms the timer again: the net
  // rule is this one.)
  if (!send_keepalive_) send_keepalive_ = now + timings_.keepalive_timeout;
}

void PeerTimers::authenticated_packet_sent(Time) { send_keepalive_.reset(); }

void PeerTimers::authenticated_packet_received(Time) { new_handshake_.reset(); }

void PeerTimers::authenticated_packet_traversal(Time now) {
  if (persistent_keepalive_ > Duration{0}) persistent_keepalive_at_ = now + persistent_keepalive_;
}

bool PeerTimers::want_handshake(Time now) {
  handshake_attempts_ = 0;
  return may_send_handshake(now);
}

bool PeerTimers::want_last_minute_handshake(Time now) {
  if (sent_last_minute_handshake_) return false;
  sent_last_minute_handshake_ = true;
  return want_handshake(now);
}

bool PeerTimers::set_persistent_keepalive(Duration interval) {
  const bool turned_on = persistent_keepalive_ <= Duration{0} && interval > Duration{0};
  persistent_keepalive_ = std::max(interval, Duration{0});
  if (persistent_keepalive_ == Duration{0}) persistent_keepalive_at_.reset();
  return turned_on;
}

TimerActions PeerTimers::tick(Time now) {
  TimerActions actions;
  if (expired(retransmit_handshake_, now)) {
    retransmit_handshake_.reset();
    if (handshake_attempts_ > kMaxTimerHandshakes) {
      actions.handshake_gave_up = true;
      send_keepalive_.reset();
      // Whatever is left of the half-done exchange goes in due course.
      if (!zero_key_material_) zero_key_material_ = now + 3 * timings_.reject_after_time;
    } else {
      ++handshake_attempts_;
      if (may_send_handshake(now)) actions.initiate_handshake = true;
    }
  }
  if (expired(new_handshake_, now)) {
    new_handshake_.reset();
    if (want_handshake(now)) actions.initiate_handshake = true;
  }
  if (expired(send_keepalive_, now)) {
    send_keepalive_.reset();
    actions.send_keepalive = true;
  }
  if (expired(zero_key_material_, now)) {
    zero_key_material_.reset();
    actions.zero_keys = true;
  }
  if (expired(persistent_keepalive_at_, now)) {
    persistent_keepalive_at_.reset();
    actions.send_persistent_keepalive = persistent_keepalive_ > Duration{0};
  }
  return actions;
}

std::optional<Time> PeerTimers::next_deadline() const {
  std::optional<Time> best;
  earliest(best, retransmit_handshake_);
  earliest(best, send_keepalive_);
  earliest(best, new_handshake_);
  earliest(best, zero_key_material_);
  earliest(best, persistent_keepalive_at_);
  return best;
}

void PeerTimers::stop() {
  retransmit_handshake_.reset();
  send_keepalive_.reset();
  new_handshake_.reset();
  zero_key_material_.reset();
  persistent_keepalive_at_.reset();
  handshake_attempts_ = 0;
  sent_last_minute_handshake_ = false;
}

bool should_rekey_on_send(Time now, Time created, bool we_initiated, std::uint64_t send_counter,
                          const Timings& timings) {
  return send_counter > kRekeyAfterMessages || (we_initiated && has_expired(now, created, timings.rekey_after_time));
}

bool should_rekey_on_receive(Time now, Time created, bool we_initiated, const Timings& timings) {
  return we_initiated &&
         has_expired(now, created, timings.reject_after_time - timings.keepalive_timeout - timings.rekey_timeout);
}

bool session_expired(Time now, Time created, const Timings& timings) {
  return has_expired(now, created, timings.reject_after_time);
}

}  // namespace coral::wireguard
