// Time is injected (docs/architecture.md rule 3): production reads the TSC, tests move a
// ManualClock by hand and never sleep to wait for a timer.
#pragma once

#include <chrono>
#include <cstdint>

#include <sluice/time.hpp>

namespace sluice {

// A clock reading kept in 32 bits, for per-connection times that matter only as ages (a TCB
// holds several, and ten million TCBs must stay small): `Unit`s since the clock's epoch, modulo
// 2^32. An age is right while it is under 2^32 units: 71 minutes in microseconds, 49 days in
// milliseconds, 136 years in seconds.
template <typename Unit>
class Stamp32 {
  public:
    Stamp32() = default;
    static Stamp32 at(Nanos t) {
        return Stamp32(static_cast<std::uint32_t>(std::chrono::duration_cast<Unit>(t).count()));
    }
    // How long before `now` this reading was taken.
    Nanos age(Nanos now) const { return Unit(at(now).units_ - units_); }

  private:
    explicit Stamp32(std::uint32_t units) : units_(units) {}
    std::uint32_t units_ = 0;
};

class Clock {
  public:
    virtual ~Clock() = default;
    virtual Nanos now() const = 0;
};

// A worker's time, read from `source` once per loop turn (tick()) and the same for everything the
// turn does. A segment's processing used to read the TSC five to seven times, at about 17 ns each
// in a VM: a fifth of a request-response server's time (bench/perf). Everything a turn does
// happens "at once" at the scale of TCP's timers (milliseconds) and RTT samples (microseconds).
class TurnClock final : public Clock {
  public:
    explicit TurnClock(const Clock& source) : source_(source), now_(source.now()) {}
    Nanos now() const override { return now_; }
    void tick() { now_ = source_.now(); }

  private:
    const Clock& source_;
    Nanos now_;
};

// Reads the time-stamp counter (invariant on every CPU DPDK supports for poll-mode work); built
// before rte_eal_init(), when the TSC rate is not known yet, it reads steady_clock instead.
class TscClock final : public Clock {
  public:
    TscClock();
    Nanos now() const override;

  private:
    std::uint64_t start_cycles_;
    double nanos_per_cycle_;  // 0: built before EAL knew the TSC rate; steady_clock instead
    std::int64_t start_steady_;
};

class ManualClock final : public Clock {
  public:
    explicit ManualClock(Nanos start = Nanos{0}) : now_(start) {}
    Nanos now() const override { return now_; }
    void advance(Nanos by) { now_ += by; }
    void set(Nanos to) { now_ = to; }

  private:
    Nanos now_;
};

}  // namespace sluice
