// Pacing from the timer wheel: a connection whose congestion controller asks for a rate
// (Controller::pacing_rate()) sends a quantum of bytes per wheel tick instead of its whole window
// at once. One wheel entry per paced connection, not a timer per packet: each tick releases the
// next quantum, and output() stops when it is spent (docs/loss-recovery.md, "Pacing").
//
// Few connections are paced at once (today: one window after an idle period), and the entry is
// more than the 248-byte TCB has room for, so the worker keeps the entries in a table of fixed
// size indexed by the TCB's address, as RecoveryUndo does; a connection that claims a slot
// another holds takes it over, and the other goes back to sending its window at once.
// Not thread-safe: one per worker.
#pragma once

#include <array>
#include <cstdint>

#include "dataplane/tcp/seq.hpp"
#include "dataplane/tcp/side_table.hpp"
#include "dataplane/timers/timer_wheel.hpp"

namespace sluice::tcp {

struct Tcb;

class Pacer {
  public:
    struct Entry {
        TimerEntry timer;  // owner: the TCB's slot; fires once per tick while bytes wait
        const Tcb* tcb = nullptr;
        std::uint32_t generation = 0;
        SeqNum until;               // pacing ends once SND.NXT reaches it
        std::uint32_t quantum = 0;  // bytes released per tick
        std::uint32_t budget = 0;   // bytes that may go now
    };

    static constexpr std::size_t kSlots = 1024;

    // A fresh entry for `t`, replacing (and disarming) whatever held its slot.
    Entry& start(const Tcb* t, std::uint32_t generation, TimerWheel& wheel) {
        Entry& e = slot(t);
        wheel.cancel(e.timer);
        e.tcb = t;
        e.generation = generation;
        e.until = SeqNum(0);
        e.quantum = e.budget = 0;
        return e;
    }
    // `t`'s entry, if the table still has it.
    Entry* find(const Tcb* t, std::uint32_t generation) {
        Entry& e = slot(t);
        return e.tcb == t && e.generation == generation ? &e : nullptr;
    }
    void forget(Entry& e, TimerWheel& wheel) {
        wheel.cancel(e.timer);
        e.tcb = nullptr;
    }
    // Whether a wheel entry that fired is one of the table's, and whose.
    bool owns(const TimerEntry& timer) const {
        const auto a = reinterpret_cast<std::uintptr_t>(&timer);
        const auto first = reinterpret_cast<std::uintptr_t>(&slots_.front());
        const auto end = reinterpret_cast<std::uintptr_t>(&slots_.back()) + sizeof(Entry);
        return a >= first && a < end;
    }
    Entry& entry_of(TimerEntry& timer) {
        const auto offset = reinterpret_cast<std::uintptr_t>(&timer) -
                            reinterpret_cast<std::uintptr_t>(&slots_.front());
        return slots_[offset / sizeof(Entry)];
    }

  private:
    Entry& slot(const Tcb* t) { return slots_[side_table_index(t, kSlots)]; }
    std::array<Entry, kSlots> slots_{};
};

}  // namespace sluice::tcp
