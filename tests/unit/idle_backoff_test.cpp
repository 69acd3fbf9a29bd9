// How a worker waits when nothing arrives (dataplane/idle_backoff.hpp).
#include "dataplane/idle_backoff.hpp"

#include <gtest/gtest.h>

namespace sluice {
namespace {

using namespace std::chrono_literals;

TEST(IdleBackoff, PollNeverSleeps) {
    IdleBackoff b(IdleMode::Poll);
    for (Nanos t{0}; t < 10ms; t += 10us)
        b.after_turn(false, t);
    EXPECT_EQ(b.sleeps(), 0U);
}

TEST(IdleBackoff, AdaptiveSpinsAWhileThenSleepsUntilWorkComesBack) {
    IdleBackoff b(IdleMode::Adaptive);
    const Nanos start = 1s;
    b.after_turn(true, start);
    for (Nanos t = start; t < start + IdleBackoff::kSpinFor; t += 10us)
        b.after_turn(false, t);
    EXPECT_EQ(b.sleeps(), 0U) << "a short lull is spun through";
    b.after_turn(false, start + IdleBackoff::kSpinFor);
    b.after_turn(false, start + IdleBackoff::kSpinFor + 1ms);
    EXPECT_EQ(b.sleeps(), 2U);
    // Work: spinning again, for as long as before.
    const Nanos again = start + 5ms;
    b.after_turn(true, again);
    b.after_turn(false, again + IdleBackoff::kSpinFor - 1us);
    EXPECT_EQ(b.sleeps(), 2U);
    b.after_turn(false, again + IdleBackoff::kSpinFor);
    EXPECT_EQ(b.sleeps(), 3U);
}

}  // namespace
}  // namespace sluice
