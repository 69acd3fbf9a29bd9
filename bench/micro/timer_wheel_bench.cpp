// The worker's timing wheel (dataplane/timers/timer_wheel.hpp; 1 ms ticks, 4096 slots), with 65536
// other timers armed in it, as a busy worker's connections keep theirs: spread over a minute, the
// way retransmission and keepalive deadlines are. Each operation's batch walks entries whose
// deadlines fall in different slots, as different connections' do.
//
//   schedule        arming 1024 disarmed entries (a delayed ACK, a first RTO); per_timer
//   cancel          disarming 1024 armed entries (an ACK that clears the RTO); per_timer
//   rearm           re-arming 1024 armed entries for another slot (the RTO restarted when an ACK
//                   moves SND.UNA: a cancel and a schedule in one); per_timer
//   expire          advancing one tick in which 1024 entries are due, the callback doing nothing;
//                   per_timer is per expired entry
//   advance_one_tick  advancing one tick with nothing due (the slot's entries belong to later
//                   turns of the wheel): what poll_timers() costs once per millisecond
//   advance_same_tick advancing to a time in the tick already processed: what poll_timers() costs
//                   on every other turn of the loop
// Batches are timed alone (UseManualTime) where the opposite operation must undo them.
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <vector>

#include "bench/micro/micro_benchmarks.hpp"
#include "bench/micro/micro_environment.hpp"
#include "dataplane/timers/timer_wheel.hpp"

namespace sluice::bench {

namespace {

using std::chrono::milliseconds;

constexpr std::size_t kArmed = 65536;
constexpr std::size_t kBatch = 1024;
const Nanos kTick = milliseconds(1);
const Nanos kFar = std::chrono::hours(24);

// A wheel with kArmed timers armed, plus kBatch entries for the benchmark to work on.
struct BusyWheel {
    Nanos now{std::chrono::seconds(1000)};
    TimerWheel wheel{now};
    std::vector<TimerEntry> armed = std::vector<TimerEntry>(kArmed);
    std::vector<TimerEntry> batch = std::vector<TimerEntry>(kBatch);

    // `far`: the background deadlines lie many turns of the wheel away (a day: more ticks than a
    // benchmark advances), so a tick scans its slot's share of them but fires none, and an advance
    // measures the scan alone.
    explicit BusyWheel(bool far = false) {
        const Nanos base = far ? kFar : Nanos{milliseconds(200)};
        for (std::size_t i = 0; i < kArmed; ++i) {
            armed[i].owner = static_cast<std::uint32_t>(i);
            wheel.schedule(armed[i], now + base + milliseconds((i * 7919) % 60000));
        }
    }
    // Deadline i of a batch: RTO-like, in a different slot for each entry.
    Nanos batch_deadline(std::size_t i, std::size_t shift = 0) const {
        return now + milliseconds(200 + (i * 13 + shift) % 3000);
    }
    // Advances to `to`; an expired background timer re-arms itself as far away again.
    void advance(Nanos to) {
        now = to;
        wheel.advance(to, [this](TimerEntry& e) {
            if (e.owner != kBatchOwner)
                wheel.schedule(e, now + kFar);
        });
    }
    static constexpr std::uint32_t kBatchOwner = UINT32_MAX;
};

void schedule(benchmark::State& state) {
    auto w = std::make_unique<BusyWheel>();
    Stopwatch stopwatch;
    for (auto _ : state) {
        stopwatch.start();
        for (std::size_t i = 0; i < kBatch; ++i)
            w->wheel.schedule(w->batch[i], w->batch_deadline(i));
        stopwatch.stop();
        stopwatch.report(state);
        for (TimerEntry& e : w->batch)
            w->wheel.cancel(e);
    }
    state.counters["per_timer"] = per_unit(kBatch);
    stopwatch.report_preemptions(state);
}

void cancel(benchmark::State& state) {
    auto w = std::make_unique<BusyWheel>();
    Stopwatch stopwatch;
    for (auto _ : state) {
        for (std::size_t i = 0; i < kBatch; ++i)
            w->wheel.schedule(w->batch[i], w->batch_deadline(i));
        stopwatch.start();
        for (TimerEntry& e : w->batch)
            w->wheel.cancel(e);
        stopwatch.stop();
        stopwatch.report(state);
    }
    state.counters["per_timer"] = per_unit(kBatch);
    stopwatch.report_preemptions(state);
}

void rearm(benchmark::State& state) {
    auto w = std::make_unique<BusyWheel>();
    for (std::size_t i = 0; i < kBatch; ++i)
        w->wheel.schedule(w->batch[i], w->batch_deadline(i));
    std::size_t shift = 0;
    for (auto _ : state) {
        ++shift;  // every entry moves to another slot
        for (std::size_t i = 0; i < kBatch; ++i)
            w->wheel.schedule(w->batch[i], w->batch_deadline(i, shift));
    }
    benchmark::DoNotOptimize(w->wheel.armed_count());
    state.counters["per_timer"] = per_unit(kBatch);
}

void expire(benchmark::State& state) {
    auto w = std::make_unique<BusyWheel>(/*far=*/true);
    for (TimerEntry& e : w->batch)
        e.owner = BusyWheel::kBatchOwner;
    std::size_t fired = 0;
    Stopwatch stopwatch;
    for (auto _ : state) {
        const Nanos due = w->now + kTick;
        for (TimerEntry& e : w->batch)
            w->wheel.schedule(e, due);
        stopwatch.start();
        w->now = due;
        w->wheel.advance(due, [&](TimerEntry& e) {
            fired += e.owner == BusyWheel::kBatchOwner;
            if (e.owner != BusyWheel::kBatchOwner)
                w->wheel.schedule(e, due + kFar);
        });
        stopwatch.stop();
        stopwatch.report(state);
    }
    if (fired != static_cast<std::size_t>(state.iterations()) * kBatch)
        state.SkipWithError("not every due timer fired");
    state.counters["per_timer"] = per_unit(kBatch);
    stopwatch.report_preemptions(state);
}

void advance_one_tick(benchmark::State& state) {
    auto w = std::make_unique<BusyWheel>(/*far=*/true);
    for (auto _ : state)
        w->advance(w->now + kTick);
}

void advance_same_tick(benchmark::State& state) {
    auto w = std::make_unique<BusyWheel>(/*far=*/true);
    w->advance(w->now + kTick);
    const Nanos within = w->now + kTick / 2;  // the current tick, already processed
    for (auto _ : state)
        w->advance(within);
}

}  // namespace

void register_timer_wheel_benchmarks() {
    with_min(benchmark::RegisterBenchmark("timer_wheel/schedule/armed:65536", schedule))
        ->UseManualTime();
    with_min(benchmark::RegisterBenchmark("timer_wheel/cancel/armed:65536", cancel))
        ->UseManualTime();
    with_min(benchmark::RegisterBenchmark("timer_wheel/rearm/armed:65536", rearm));
    with_min(benchmark::RegisterBenchmark("timer_wheel/expire/armed:65536", expire))
        ->UseManualTime();
    with_min(
        benchmark::RegisterBenchmark("timer_wheel/advance_one_tick/armed:65536", advance_one_tick));
    with_min(benchmark::RegisterBenchmark("timer_wheel/advance_same_tick/armed:65536",
                                          advance_same_tick));
}

}  // namespace sluice::bench
