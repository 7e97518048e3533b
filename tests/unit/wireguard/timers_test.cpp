#include "wireguard/timers.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <vector>

namespace coral::wireguard {
namespace {

using namespace std::chrono_literals;

// The fake clock: times are plain values, far from the epoch.
const Time t0 = Time{} + 1000h;

const Timings kDefaults{};

Timings without_jitter(Timings timings = {}) {
  timings.rekey_timeout_jitter = 0ns;
  return timings;
}

TimerActions only_keepalive() {
  TimerActions actions;
  actions.send_keepalive = true;
  return actions;
}

TimerActions only_initiation() {
  TimerActions actions;
  actions.initiate_handshake = true;
  return actions;
}

// What the peer engine does after an initiation went out.
void initiation_sent(PeerTimers& timers, Time now) {
  timers.authenticated_packet_traversal(now);
  timers.authenticated_packet_sent(now);
  timers.handshake_initiated(now);
}

// ---- Keeping keys fresh ----

TEST(KeyFreshness, InitiatorRekeysWhenSending120SecondsIn) {
  EXPECT_FALSE(should_rekey_on_send(t0 + 120s - 1ns, t0, true, 5, kDefaults));
  EXPECT_TRUE(should_rekey_on_send(t0 + 120s, t0, true, 5, kDefaults));
  EXPECT_TRUE(should_rekey_on_send(t0 + 170s, t0, true, 5, kDefaults));
  // The responder waits for the initiator, so that both do not rekey at once.
  EXPECT_FALSE(should_rekey_on_send(t0 + 170s, t0, false, 5, kDefaults));
}

TEST(KeyFreshness, EitherSideRekeysAfterRekeyAfterMessages) {
  EXPECT_FALSE(should_rekey_on_send(t0, t0, false, kRekeyAfterMessages, kDefaults));
  EXPECT_TRUE(should_rekey_on_send(t0, t0, false, kRekeyAfterMessages + 1, kDefaults));
  EXPECT_TRUE(should_rekey_on_send(t0, t0, true, kRekeyAfterMessages + 1, kDefaults));
}

TEST(KeyFreshness, InitiatorRekeysWhenReceiving165SecondsIn) {
  // REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT = 180 - 10 - 5.
  EXPECT_FALSE(should_rekey_on_receive(t0 + 165s - 1ns, t0, true, kDefaults));
  EXPECT_TRUE(should_rekey_on_receive(t0 + 165s, t0, true, kDefaults));
  EXPECT_FALSE(should_rekey_on_receive(t0 + 179s, t0, false, kDefaults));
}

TEST(KeyFreshness, SessionsDieAfter180Seconds) {
  EXPECT_FALSE(session_expired(t0, t0, kDefaults));
  EXPECT_FALSE(session_expired(t0 + 180s - 1ns, t0, kDefaults));
  EXPECT_TRUE(session_expired(t0 + 180s, t0, kDefaults));
  EXPECT_TRUE(session_expired(t0 + 10h, t0, kDefaults));
}

// ---- Idle ----

TEST(PeerTimers, IdlePeerHasNothingToDo) {
  PeerTimers timers(kDefaults, 1);
  EXPECT_FALSE(timers.next_deadline());
  EXPECT_FALSE(timers.tick(t0 + 1000h).any());
  EXPECT_FALSE(timers.last_handshake());
  EXPECT_EQ(timers.handshake_attempts(), 0U);
}

// ---- Passive keepalive ----

TEST(PeerTimers, KeepaliveTenSecondsAfterUnansweredData) {
  PeerTimers timers(kDefaults, 1);
  timers.data_received(t0);
  EXPECT_EQ(timers.next_deadline(), t0 + 10s);
  EXPECT_FALSE(timers.tick(t0 + 10s - 1ns).any());
  EXPECT_EQ(timers.tick(t0 + 10s), only_keepalive());
  EXPECT_FALSE(timers.next_deadline());
  EXPECT_FALSE(timers.tick(t0 + 20s).any());
}

TEST(PeerTimers, KeepaliveCountsFromTheFirstUnansweredData) {
  PeerTimers timers(kDefaults, 1);
  timers.data_received(t0);
  timers.data_received(t0 + 4s);
  EXPECT_EQ(timers.next_deadline(), t0 + 10s);
  EXPECT_EQ(timers.tick(t0 + 10s), only_keepalive());
  timers.authenticated_packet_sent(t0 + 10s);  // the keepalive
  timers.data_received(t0 + 12s);
  EXPECT_EQ(timers.next_deadline(), t0 + 22s);
}

TEST(PeerTimers, AnythingSentMakesTheKeepaliveUnnecessary) {
  PeerTimers timers(kDefaults, 1);
  timers.data_received(t0);
  timers.authenticated_packet_sent(t0 + 3s);
  EXPECT_FALSE(timers.next_deadline());
  EXPECT_FALSE(timers.tick(t0 + 10s).any());
}

// ---- Handshake retries ----

TEST(PeerTimers, RetransmitsAfterRekeyTimeoutPlusBoundedJitter) {
  std::set<Duration> delays;
  for (std::uint64_t seed = 0; seed < 64; ++seed) {
    PeerTimers timers(kDefaults, seed);
    ASSERT_TRUE(timers.want_handshake(t0));
    initiation_sent(timers, t0);
    const auto deadline = timers.next_deadline();
    ASSERT_TRUE(deadline);
    const Duration delay = *deadline - t0;
    EXPECT_GE(delay, 5s);
    EXPECT_LT(delay, 5s + 333ms);
    EXPECT_FALSE(timers.tick(*deadline - 1ns).any());
    EXPECT_EQ(timers.tick(*deadline), only_initiation());
    EXPECT_EQ(timers.handshake_attempts(), 1U);
    delays.insert(delay);
  }
  EXPECT_GT(delays.size(), 32U);  // the jitter does spread retries
}

TEST(PeerTimers, WithoutJitterRetransmitsAfterExactlyRekeyTimeout) {
  PeerTimers timers(without_jitter(), 1);
  initiation_sent(timers, t0);
  EXPECT_EQ(timers.next_deadline(), t0 + 5s);
}

TEST(PeerTimers, SameSeedSameJitter) {
  PeerTimers a(kDefaults, 42);
  PeerTimers b(kDefaults, 42);
  PeerTimers c(kDefaults, 43);
  bool c_differs = false;
  for (int i = 0; i < 10; ++i) {
    const Time now = t0 + i * 6s;
    a.handshake_initiated(now);
    b.handshake_initiated(now);
    c.handshake_initiated(now);
    EXPECT_EQ(a.next_deadline(), b.next_deadline());
    c_differs = c_differs || c.next_deadline() != a.next_deadline();
  }
  EXPECT_TRUE(c_differs);
}

// Follows the retries of an initiation that gets no answer, as the device
// would: tick at each deadline, send what it asks.
struct Attempt {
  std::vector<Time> initiations;
  std::optional<Time> gave_up;
};

Attempt retry_until_giving_up(PeerTimers& timers, Time start) {
  Attempt attempt;
  EXPECT_TRUE(timers.want_handshake(start));
  initiation_sent(timers, start);
  attempt.initiations.push_back(start);
  for (int guard = 0; guard < 100 && !attempt.gave_up; ++guard) {
    const auto deadline = timers.next_deadline();
    if (!deadline) break;
    const TimerActions actions = timers.tick(*deadline);
    if (actions.initiate_handshake) {
      initiation_sent(timers, *deadline);
      attempt.initiations.push_back(*deadline);
    }
    if (actions.handshake_gave_up) attempt.gave_up = *deadline;
  }
  return attempt;
}

TEST(PeerTimers, GivesUpAfterTheKernelsNumberOfRetries) {
  PeerTimers timers(kDefaults, 7);
  const Attempt attempt = retry_until_giving_up(timers, t0);
  // The first initiation and kMaxTimerHandshakes + 1 retries (the kernel's
  // "did not complete after 20 attempts"), each REKEY_TIMEOUT + jitter
  // after the one before; the give-up comes one more such interval later.
  ASSERT_EQ(attempt.initiations.size(), kMaxTimerHandshakes + 2);
  for (std::size_t i = 1; i < attempt.initiations.size(); ++i) {
    const Duration gap = attempt.initiations[i] - attempt.initiations[i - 1];
    EXPECT_GE(gap, 5s) << i;
    EXPECT_LT(gap, 5s + 333ms) << i;
  }
  ASSERT_TRUE(attempt.gave_up);
  const Duration trying = *attempt.gave_up - t0;
  EXPECT_GE(trying, kDefaults.rekey_attempt_time);  // at least REKEY_ATTEMPT_TIME of retries
  EXPECT_GE(trying, 20 * 5s);
  EXPECT_LT(trying, 20 * (5s + 333ms));
  EXPECT_EQ(timers.handshake_attempts(), kMaxTimerHandshakes + 1);
  // Nothing is retried after giving up; what is left of the exchange is
  // erased 3 x REJECT_AFTER_TIME later.
  EXPECT_EQ(timers.next_deadline(), *attempt.gave_up + 540s);
  TimerActions zero;
  zero.zero_keys = true;
  EXPECT_EQ(timers.tick(*attempt.gave_up + 540s), zero);
  EXPECT_FALSE(timers.next_deadline());
}

TEST(PeerTimers, GivingUpCancelsAPendingKeepalive) {
  PeerTimers timers(kDefaults, 7);
  timers.want_handshake(t0);
  initiation_sent(timers, t0);
  for (std::size_t i = 0; i < kMaxTimerHandshakes + 1; ++i) {
    const Time deadline = *timers.next_deadline();
    ASSERT_TRUE(timers.tick(deadline).initiate_handshake);
    timers.handshake_initiated(deadline);
  }
  const Time last = *timers.next_deadline();
  timers.data_received(last - 1s);  // would be due 9 s after the give-up
  const TimerActions actions = timers.tick(last);
  EXPECT_TRUE(actions.handshake_gave_up);
  EXPECT_FALSE(actions.send_keepalive);
  EXPECT_EQ(timers.next_deadline(), last + 540s);
}

TEST(PeerTimers, GivingUpKeepsAnEarlierZeroKeysDeadline) {
  PeerTimers timers(kDefaults, 7);
  timers.session_derived(t0);
  const Attempt attempt = retry_until_giving_up(timers, t0 + 1s);
  ASSERT_TRUE(attempt.gave_up);
  EXPECT_EQ(timers.next_deadline(), t0 + 540s);
}

TEST(PeerTimers, PacketsToSendKeepTheHandshakeGoing) {
  // Each packet that finds no session asks again, which restarts the count
  // of attempts (the kernel and wireguard-go behave so).
  PeerTimers timers(kDefaults, 3);
  timers.want_handshake(t0);
  initiation_sent(timers, t0);
  Time now = t0;
  for (int i = 0; i < 70; ++i) {
    now = *timers.next_deadline();
    const TimerActions actions = timers.tick(now);
    ASSERT_FALSE(actions.handshake_gave_up) << i;
    ASSERT_TRUE(actions.initiate_handshake) << i;
    initiation_sent(timers, now);
    EXPECT_FALSE(timers.want_handshake(now + 1s));  // rate-limited, but counts
  }
  EXPECT_GT(now - t0, 300s);
}

TEST(PeerTimers, HandshakeCompleteStopsTheRetries) {
  PeerTimers timers(kDefaults, 1);
  timers.want_handshake(t0);
  initiation_sent(timers, t0);
  ASSERT_TRUE(timers.tick(*timers.next_deadline()).initiate_handshake);
  timers.handshake_initiated(t0 + 6s);
  timers.session_derived(t0 + 6500ms);
  timers.handshake_complete(t0 + 6500ms);
  EXPECT_EQ(timers.handshake_attempts(), 0U);
  EXPECT_EQ(timers.last_handshake(), t0 + 6500ms);
  // Only the zero-keys deadline is left.
  EXPECT_EQ(timers.next_deadline(), t0 + 6500ms + 540s);
  EXPECT_FALSE(timers.tick(t0 + 60s).any());
}

TEST(PeerTimers, AtMostOneHandshakeMessagePerRekeyTimeout) {
  PeerTimers timers(kDefaults, 1);
  EXPECT_TRUE(timers.want_handshake(t0));
  EXPECT_FALSE(timers.want_handshake(t0));  // asking stamps the limit
  initiation_sent(timers, t0);
  EXPECT_FALSE(timers.want_handshake(t0 + 5s - 1ns));
  EXPECT_TRUE(timers.want_handshake(t0 + 5s));
  // A response of ours counts too.
  timers.handshake_response_sent(t0 + 20s);
  EXPECT_FALSE(timers.want_handshake(t0 + 24s));
  EXPECT_TRUE(timers.want_handshake(t0 + 25s));
}

TEST(PeerTimers, LastMinuteHandshakeOncePerSession) {
  PeerTimers timers(kDefaults, 1);
  EXPECT_TRUE(timers.want_last_minute_handshake(t0));
  EXPECT_FALSE(timers.want_last_minute_handshake(t0 + 30s));  // not rate-limited any more, but asked already
  EXPECT_TRUE(timers.want_handshake(t0 + 30s));               // the send path still may
  timers.handshake_complete(t0 + 31s);
  EXPECT_TRUE(timers.want_last_minute_handshake(t0 + 40s));
}

// ---- New handshake when the peer goes quiet ----

TEST(PeerTimers, NewHandshakeWhenSentDataGetsNoAnswer) {
  PeerTimers timers(kDefaults, 5);
  timers.data_sent(t0);
  timers.data_sent(t0 + 3s);  // the first unanswered one counts
  const auto deadline = timers.next_deadline();
  ASSERT_TRUE(deadline);
  EXPECT_GE(*deadline - t0, 15s);  // KEEPALIVE_TIMEOUT + REKEY_TIMEOUT
  EXPECT_LT(*deadline - t0, 15s + 333ms);
  EXPECT_FALSE(timers.tick(*deadline - 1ns).any());
  EXPECT_EQ(timers.tick(*deadline), only_initiation());
  EXPECT_FALSE(timers.next_deadline());  // until handshake_initiated
}

TEST(PeerTimers, AnythingReceivedShowsThePeerIsAlive) {
  PeerTimers timers(kDefaults, 5);
  timers.data_sent(t0);
  timers.authenticated_packet_received(t0 + 14s);  // a keepalive, say
  EXPECT_FALSE(timers.next_deadline());
  EXPECT_FALSE(timers.tick(t0 + 16s).any());
  timers.data_sent(t0 + 20s);
  EXPECT_GE(*timers.next_deadline(), t0 + 35s);
}

TEST(PeerTimers, NewHandshakeDefersToARecentInitiation) {
  PeerTimers timers(without_jitter(), 5);
  timers.data_sent(t0);
  timers.want_handshake(t0 + 14s);
  initiation_sent(timers, t0 + 14s);
  // Due at 15 s, but an initiation went out a second ago: its retry at
  // 19 s is the next one.
  EXPECT_FALSE(timers.tick(t0 + 15s).any());
  EXPECT_EQ(timers.next_deadline(), t0 + 19s);
  EXPECT_EQ(timers.tick(t0 + 19s), only_initiation());
}

// ---- Zeroing keys ----

TEST(PeerTimers, ZeroKeys540SecondsAfterTheLastSession) {
  PeerTimers timers(kDefaults, 1);
  timers.session_derived(t0);
  EXPECT_EQ(timers.next_deadline(), t0 + 540s);
  timers.session_derived(t0 + 100s);  // a newer session pushes it back
  EXPECT_FALSE(timers.tick(t0 + 640s - 1ns).any());
  TimerActions zero;
  zero.zero_keys = true;
  EXPECT_EQ(timers.tick(t0 + 640s), zero);
  EXPECT_FALSE(timers.next_deadline());
}

// ---- Persistent keepalive ----

TEST(PeerTimers, PersistentKeepaliveCadence) {
  PeerTimers timers(kDefaults, 1);
  EXPECT_TRUE(timers.set_persistent_keepalive(25s));  // off to on: send one now
  EXPECT_FALSE(timers.set_persistent_keepalive(25s));
  EXPECT_EQ(timers.persistent_keepalive(), 25s);
  timers.authenticated_packet_traversal(t0);  // that keepalive
  timers.authenticated_packet_sent(t0);
  TimerActions persistent;
  persistent.send_persistent_keepalive = true;
  Time now = t0;
  for (int i = 1; i <= 4; ++i) {
    EXPECT_EQ(timers.next_deadline(), now + 25s) << i;
    EXPECT_FALSE(timers.tick(now + 25s - 1ns).any());
    now += 25s;
    EXPECT_EQ(timers.tick(now), persistent) << i;
    timers.authenticated_packet_traversal(now);
    timers.authenticated_packet_sent(now);
  }
  // Traffic either way pushes it back.
  timers.authenticated_packet_received(now + 10s);
  timers.authenticated_packet_traversal(now + 10s);
  EXPECT_EQ(timers.next_deadline(), now + 35s);
  // Off: disarmed.
  EXPECT_FALSE(timers.set_persistent_keepalive(0s));
  EXPECT_FALSE(timers.next_deadline());
  timers.authenticated_packet_traversal(now + 40s);
  EXPECT_FALSE(timers.next_deadline());
  EXPECT_TRUE(timers.set_persistent_keepalive(10s));
}

// ---- Deadlines ----

TEST(PeerTimers, NextDeadlineIsTheEarliestAndOneTickCanHaveSeveral) {
  PeerTimers timers(without_jitter(), 1);
  EXPECT_TRUE(timers.set_persistent_keepalive(25s));
  timers.session_derived(t0);                      // zero keys at 540 s
  timers.data_sent(t0);                            // new handshake at 15 s
  timers.data_received(t0 + 2s);                   // keepalive at 12 s
  timers.authenticated_packet_traversal(t0 + 2s);  // persistent at 27 s
  EXPECT_EQ(timers.next_deadline(), t0 + 12s);
  EXPECT_EQ(timers.tick(t0 + 12s), only_keepalive());
  EXPECT_EQ(timers.next_deadline(), t0 + 15s);
  // A late tick gets everything that came due.
  TimerActions all;
  all.initiate_handshake = true;
  all.send_persistent_keepalive = true;
  all.zero_keys = true;
  EXPECT_EQ(timers.tick(t0 + 600s), all);
  EXPECT_FALSE(timers.next_deadline());
}

TEST(PeerTimers, StopDisarmsEverything) {
  PeerTimers timers(kDefaults, 1);
  timers.set_persistent_keepalive(25s);
  timers.session_derived(t0);
  timers.data_sent(t0);
  timers.data_received(t0);
  timers.authenticated_packet_traversal(t0);
  timers.want_handshake(t0);
  timers.handshake_initiated(t0);
  timers.stop();
  EXPECT_FALSE(timers.next_deadline());
  EXPECT_FALSE(timers.tick(t0 + 1000s).any());
  EXPECT_EQ(timers.persistent_keepalive(), 25s);  // configuration stays
}

// ---- Shortened timings (the test-only knob) ----

TEST(PeerTimers, ShortenedTimingsDriveEveryTimer) {
  Timings fast;
  fast.rekey_after_time = 2s;
  fast.reject_after_time = 3s;
  fast.rekey_attempt_time = 2s;
  fast.rekey_timeout = 100ms;
  fast.keepalive_timeout = 200ms;
  fast.rekey_timeout_jitter = 0ns;

  EXPECT_TRUE(should_rekey_on_send(t0 + 2s, t0, true, 0, fast));
  EXPECT_FALSE(should_rekey_on_send(t0 + 2s - 1ns, t0, true, 0, fast));
  EXPECT_TRUE(should_rekey_on_receive(t0 + 2700ms, t0, true, fast));
  EXPECT_FALSE(should_rekey_on_receive(t0 + 2700ms - 1ns, t0, true, fast));
  EXPECT_TRUE(session_expired(t0 + 3s, t0, fast));

  PeerTimers timers(fast, 1);
  timers.data_received(t0);
  EXPECT_EQ(timers.next_deadline(), t0 + 200ms);
  EXPECT_EQ(timers.tick(t0 + 200ms), only_keepalive());
  timers.data_sent(t0 + 1s);
  EXPECT_EQ(timers.next_deadline(), t0 + 1300ms);
  timers.authenticated_packet_received(t0 + 1s);
  timers.session_derived(t0 + 1s);
  EXPECT_EQ(timers.next_deadline(), t0 + 10s);

  PeerTimers retrying(fast, 1);
  const Attempt attempt = retry_until_giving_up(retrying, t0);
  EXPECT_EQ(attempt.initiations.size(), kMaxTimerHandshakes + 2);
  EXPECT_EQ(attempt.initiations[1], t0 + 100ms);
  EXPECT_EQ(attempt.gave_up, t0 + 2s);
}

}  // namespace
}  // namespace coral::wireguard
