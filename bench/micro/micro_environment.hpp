// What every micro-benchmark in this program shares: EAL, started once by main.cpp (no hugepages,
// no PCI, a file prefix of this process's own), one mbuf pool, and a stopwatch for the benchmarks
// that time only part of each iteration.
#pragma once

#include <benchmark/benchmark.h>
#include <rte_cycles.h>
#include <rte_mempool.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace sluice::bench {

// The pool every benchmark draws its frames from; created by main() after EAL.
rte_mempool* packet_pool();

// Times the part of an iteration that the engine would spend, for benchmarks registered with
// UseManualTime(): the untimed rest prepares what a NIC would have delivered (frames in the rx
// ring) or does what a peer would have done (acknowledge our data). The TSC is read without a
// fence: its error is a few tens of cycles per section, and a section here is a burst.
//
// On a shared machine the wall-clock time of a section includes any time slice another process
// took in the middle of it (milliseconds, against a section's microseconds), which would swamp the
// mean. A section longer than both kPreemptedSeconds and ten times the shortest seen so far was
// preempted: its time is replaced by the previous good section's, and counted, so that the report
// says how often (preempted_sections). The relative bound keeps a slow build, whose sections are
// all long, from having every one of them replaced.
class Stopwatch {
  public:
    static constexpr double kPreemptedSeconds = 200e-6;  // a section takes at most ~20 us

    Stopwatch()
        : preempted_cycles_(static_cast<std::uint64_t>(kPreemptedSeconds *
                                                       static_cast<double>(rte_get_tsc_hz()))) {}

    void start() { started_ = rte_rdtsc(); }
    // Adds the time since start() to this iteration.
    void stop() {
        std::uint64_t took = rte_rdtsc() - started_;
        const std::uint64_t bound = std::max(preempted_cycles_, 10 * shortest_);
        if (last_good_ != 0 && took > bound) {
            ++preempted_;
            took = last_good_;
        } else {
            last_good_ = took == 0 ? 1 : took;
            shortest_ = std::min(shortest_, took);
        }
        elapsed_ += took;
    }
    // Reports what start()/stop() pairs measured since the last report as the iteration's time.
    void report(benchmark::State& state) {
        state.SetIterationTime(static_cast<double>(elapsed_) /
                               static_cast<double>(rte_get_tsc_hz()));
        elapsed_ = 0;
    }
    // Adds the preempted_sections counter; call once, after the loop.
    void report_preemptions(benchmark::State& state) const {
        state.counters["preempted_sections"] = static_cast<double>(preempted_);
    }

  private:
    std::uint64_t preempted_cycles_;
    std::uint64_t started_ = 0;
    std::uint64_t elapsed_ = 0;
    std::uint64_t last_good_ = 0;
    std::uint64_t shortest_ = UINT64_MAX / 10;
    std::uint64_t preempted_ = 0;
};

// A per-unit time counter: `units` per iteration (segments in a burst, entries in a batch), shown
// as seconds per unit ("12.3n" is 12.3 ns), like flow_lookup_bench's per_lookup. Rates divide by
// the benchmark's own time, which is the manual time for UseManualTime() benchmarks.
inline benchmark::Counter per_unit(double units_per_iteration) {
    return benchmark::Counter(units_per_iteration, benchmark::Counter::kIsIterationInvariantRate |
                                                       benchmark::Counter::kInvert);
}

// The same for a unit whose count varies (ACKs sent): `total` over the whole run.
inline benchmark::Counter per_unit_total(double total) {
    return benchmark::Counter(total, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Registers the "min" statistic besides mean, median, stddev and cv, for runs with
// --benchmark_repetitions: on a shared machine the least disturbed repetition is the best
// estimate of what the code costs. Returns `b` for chaining.
inline benchmark::internal::Benchmark* with_min(benchmark::internal::Benchmark* b) {
    return b->ComputeStatistics("min", [](const std::vector<double>& v) {
        return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end());
    });
}

}  // namespace sluice::bench
