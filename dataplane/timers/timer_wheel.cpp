#include "dataplane/timers/timer_wheel.hpp"

#include <algorithm>

namespace sluice {

TimerWheel::TimerWheel(Nanos now, Nanos tick, std::size_t slots)
    : tick_(tick), slots_(slots), current_tick_(now.count() / tick.count()) {
    for (TimerEntry& head : slots_)
        head.prev = head.next = &head;
    expired_.prev = expired_.next = &expired_;
}

void TimerWheel::link(TimerEntry& head, TimerEntry& entry) {
    entry.prev = &head;
    entry.next = head.next;
    head.next->prev = &entry;
    head.next = &entry;
}

void TimerWheel::unlink(TimerEntry& entry) {
    entry.prev->next = entry.next;
    entry.next->prev = entry.prev;
    entry.prev = entry.next = nullptr;
}

std::int64_t TimerWheel::due_tick(Nanos deadline) const {
    // Never into a tick already processed: the earliest is the one advance() looks at next (the
    // one after the current, when a callback arms from inside advance()).
    const std::int64_t earliest = current_tick_ + (advancing_ ? 1 : 0);
    return std::clamp<std::int64_t>(tick_of(deadline), earliest, current_tick_ + INT32_MAX);
}

void TimerWheel::schedule(TimerEntry& entry, Nanos deadline) {
    cancel(entry);
    const std::int64_t tick = due_tick(deadline);
    entry.deadline_tick = static_cast<std::uint32_t>(tick);
    link(slot_of(entry.deadline_tick), entry);
    ++armed_;
}

void TimerWheel::postpone(TimerEntry& entry, Nanos deadline) {
    if (!entry.armed()) {
        schedule(entry, deadline);
        return;
    }
    const auto tick = static_cast<std::uint32_t>(due_tick(deadline));
    if (static_cast<std::int32_t>(tick - entry.deadline_tick) < 0) {
        schedule(entry, deadline);  // earlier after all: it must move now
        return;
    }
    entry.deadline_tick = tick;
}

void TimerWheel::cancel(TimerEntry& entry) {
    if (!entry.armed())
        return;
    unlink(entry);
    --armed_;
}

}  // namespace sluice
