// What a fault-injecting link (faulty_link.hpp) does to the frames of one direction, and its text
// form: `loss=0.05,burst=0.01:0.3,dup=0.01,reorder=0.1:2ms,corrupt=0.001,delay=1ms,jitter=200us,
// rate=1g,queue=256,seed=42`. The text form is what the bridge's flags take and what a failing
// test prints, so that a case can be run again exactly (docs/faulty-link.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <sluice/result.hpp>
#include "dataplane/timers/clock.hpp"

namespace sluice::drivers {

// Gilbert-Elliott burst loss: a two-state Markov chain stepped once per frame, each state with
// its own loss probability. The mean stay in the bad state is 1 / p_bad_to_good frames, so with
// loss_in_bad = 1 that is the mean length of a burst of losses.
struct GilbertElliott {
    double p_good_to_bad = 0;  // 0: the chain stays in the good state
    double p_bad_to_good = 1;
    double loss_in_bad = 1;
    double loss_in_good = 0;

    bool may_lose() const { return loss_in_good > 0 || (p_good_to_bad > 0 && loss_in_bad > 0); }
    friend bool operator==(const GilbertElliott&, const GilbertElliott&) = default;
};

struct FaultProfile {
    // Probabilities are per frame, from 0 to 1.
    double loss = 0;  // independent of everything else, on top of the burst chain
    GilbertElliott burst{};
    double duplicate = 0;  // a second, independent copy is sent
    double reorder = 0;    // the frame is held back up to reorder_delay more than the others
    Nanos reorder_delay{0};
    double corrupt = 0;          // 1 to 3 distinct bits anywhere in the frame are flipped
    Nanos delay{0};              // one-way propagation delay
    Nanos jitter{0};             // added to the delay, uniform in [0, jitter]; may reorder frames
    std::uint64_t rate_bps = 0;  // the bottleneck's rate, frame bytes only; 0 = unlimited
    // Frames the bottleneck holds (the one being serialised included); more are tail-dropped.
    // Only meaningful with a rate.
    std::uint32_t queue_frames = 256;
    std::uint64_t seed = 1;

    // Whether the link would pass every frame unchanged and at once.
    bool transparent() const;
    // The canonical text: every field that differs from the default, then the seed, so that
    // parse_fault_profile(to_string()) gives back the same profile. "seed=N" alone for a
    // transparent profile.
    std::string to_string() const;
    friend bool operator==(const FaultProfile&, const FaultProfile&) = default;
};

// Parses "key=value,key=value". Keys (each at most once, any order):
//   loss=P                  independent loss probability
//   burst=GB:BG[:LB[:LG]]   Gilbert-Elliott: good->bad, bad->good, loss in bad (1), in good (0)
//   dup=P                   duplication probability
//   reorder=P:DURATION      probability a frame is held back, and by up to how much
//   corrupt=P               probability of 1-3 flipped bits
//   delay=DURATION, jitter=DURATION
//   rate=BITS               bits per second, with an optional k/m/g suffix (x1000); 0 = unlimited
//   queue=FRAMES            1 to 1048576
//   seed=N                  unsigned 64-bit
// P is a decimal from 0 to 1 or a percentage ("5%"). DURATION is a number with a unit: ns, us,
// ms or s ("1.5ms"). The empty string and "none" are the transparent profile. An error names the
// key (or the piece that is not key=value) and what is allowed.
Result<FaultProfile, std::string> parse_fault_profile(std::string_view text);

}  // namespace sluice::drivers
