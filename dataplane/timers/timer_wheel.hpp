// A hashed timing wheel (Varghese & Lauck) on the injected clock. Entries are intrusive: each lives
// inside the object it times (a TCB has a few), so arming and cancelling are O(1) list operations
// and nothing is allocated. A deadline is rounded up to the next tick, so timers never fire early;
// deadlines beyond one turn of the wheel wait in their slot for the right turn.
//
// Not thread-safe: one per worker.
#pragma once

#include <cstdint>
#include <vector>

#include "dataplane/timers/clock.hpp"

namespace sluice {

// 24 bytes: a TCB holds one, and ten million TCBs must fit in memory. The deadline is a tick
// number modulo 2^32, compared by its distance from the wheel's current tick, so a deadline may lie
// at most 2^31 ticks ahead (24 days of 1 ms ticks; TCP's longest timer is the 2-hour keepalive).
struct TimerEntry {
    TimerEntry* prev = nullptr;
    TimerEntry* next = nullptr;
    std::uint32_t deadline_tick = 0;
    std::uint32_t owner = 0;  // the owner's slot, for the expiry callback

    bool armed() const { return next != nullptr; }
    TimerEntry() = default;
    // Entries are linked by address: copying one would corrupt the wheel.
    TimerEntry(const TimerEntry&) = delete;
    TimerEntry& operator=(const TimerEntry&) = delete;
};

class TimerWheel {
  public:
    explicit TimerWheel(Nanos now, Nanos tick = std::chrono::milliseconds(1),
                        std::size_t slots = 4096);
    TimerWheel(const TimerWheel&) = delete;
    TimerWheel& operator=(const TimerWheel&) = delete;

    // Arms `entry` to fire at or after `deadline`; re-arms it if it was armed.
    void schedule(TimerEntry& entry, Nanos deadline);
    // As schedule(), for a deadline no earlier than the armed one, without relinking: only the
    // deadline changes, and advance() moves the entry to its new slot when it visits the old one.
    // A connection's retransmission timer is pushed back by nearly every ACK (RFC 6298 5.3); this
    // makes that a store into the TCB instead of two list operations on other TCBs' cache lines.
    void postpone(TimerEntry& entry, Nanos deadline);
    void cancel(TimerEntry& entry);

    // Fires, in deadline order by tick, every entry whose deadline is at or before `now`. The entry
    // is disarmed before `on_expire(entry)` runs, which may re-arm it or arm others.
    template <typename OnExpire>
    void advance(Nanos now, OnExpire&& on_expire);

    // How long until an armed entry fires (zero or less when it is due).
    Nanos time_left(const TimerEntry& entry) const { return ticks_left(entry) * tick_; }

    std::size_t armed_count() const { return armed_; }
    Nanos tick() const { return tick_; }

  private:
    std::int64_t tick_of(Nanos t) const { return (t.count() + tick_.count() - 1) / tick_.count(); }
    // The tick `deadline` rounds up to, no earlier than the next one advance() processes and no
    // later than 2^31 - 1 ticks after it.
    std::int64_t due_tick(Nanos deadline) const;
    // Ticks from the current one to `entry`'s deadline; zero or less when it is due.
    std::int32_t ticks_left(const TimerEntry& entry) const {
        return static_cast<std::int32_t>(entry.deadline_tick -
                                         static_cast<std::uint32_t>(current_tick_));
    }
    TimerEntry& slot_of(std::uint32_t tick) { return slots_[tick % slots_.size()]; }
    void link(TimerEntry& head, TimerEntry& entry);
    static void unlink(TimerEntry& entry);

    Nanos tick_;
    std::vector<TimerEntry> slots_;  // list heads (sentinels)
    std::int64_t current_tick_;      // the next tick to process
    std::size_t armed_ = 0;
    bool advancing_ = false;  // inside advance(): the current slot is already scanned
    TimerEntry expired_;      // scratch list while a slot is processed
};

template <typename OnExpire>
void TimerWheel::advance(Nanos now, OnExpire&& on_expire) {
    const std::int64_t now_tick = now.count() / tick_.count();
    while (current_tick_ <= now_tick) {
        if (armed_ == 0) {
            current_tick_ = now_tick + 1;
            return;
        }
        TimerEntry& head = slots_[static_cast<std::size_t>(current_tick_) % slots_.size()];
        // Move what is due onto a private list first: callbacks may arm entries into this slot.
        // A postponed entry whose deadline now belongs to another slot moves there.
        for (TimerEntry* e = head.next; e != &head;) {
            TimerEntry* next = e->next;
            if (ticks_left(*e) <= 0) {
                unlink(*e);
                link(expired_, *e);
            } else if (TimerEntry& home = slot_of(e->deadline_tick); &home != &head) {
                unlink(*e);
                link(home, *e);
            }
            e = next;
        }
        advancing_ = true;
        while (expired_.next != &expired_) {
            TimerEntry* e = expired_.next;
            unlink(*e);
            --armed_;
            on_expire(*e);
        }
        advancing_ = false;
        ++current_tick_;
    }
}

}  // namespace sluice
