// How far apart two cores are, measured: the round trip of one cache line bounced between a
// thread on each. On a VM the hypervisor decides where the two vCPUs really run, and may move
// them at any time: on this project's machine the round trip is about 55 ns when they share a
// core complex and about 330 ns when they do not, and in the second case everything that crosses
// between the cores (memif's rings, a veth's softirq handoff) is several times slower. The
// orchestrator measures it before and after each run, so that a run made with the cores far apart
// is seen as such, and run again (orchestrator.cpp).
#pragma once

#include <optional>

namespace sluice::perf {

// The round trip in ns (the median of several batches of bounces), or nullopt when a thread cannot
// be pinned to its core. Takes a few milliseconds; both cores should be idle.
std::optional<double> core_round_trip_ns(unsigned core_a, unsigned core_b);

// Whether a round trip of `ns` means the cores were placed farther apart than the nearest
// placement seen (`nearest_ns`): more than twice as long, and by more than 50 ns, so that the
// jitter of two nearby cores does not count.
inline bool cores_far_apart(double ns, double nearest_ns) {
    return ns > 2 * nearest_ns && ns - nearest_ns > 50;
}

// A run measured `before` and `after` (either may be missing) was made with the cores far apart.
inline bool run_cores_far_apart(std::optional<double> before, std::optional<double> after,
                                double nearest_ns) {
    return (before && cores_far_apart(*before, nearest_ns)) ||
           (after && cores_far_apart(*after, nearest_ns));
}

}  // namespace sluice::perf
