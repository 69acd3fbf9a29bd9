#include "dataplane/timers/timer_wheel.hpp"

namespace sluice {

TimerWheel::TimerWheel(Nanos now, Nanos tick, std::size_t slots)
    : tick_(tick), slots_(slots), current_tick_(now.count() / tick.count()) {
    for (TimerEntry& head : slots_) head.prev = head.next = &head;
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

void TimerWheel::schedule(TimerEntry& entry, Nanos deadline) {
    cancel(entry);
    // Never into a tick already processed: the earliest is the one advance() looks at next (the
    // one after the current, when a callback arms from inside advance()).
    const std::int64_t earliest = current_tick_ + (advancing_ ? 1 : 0);
    std::int64_t tick = tick_of(deadline);
    if (tick < earliest) tick = earliest;
    entry.deadline_tick = tick;
    link(slots_[static_cast<std::size_t>(tick) % slots_.size()], entry);
    ++armed_;
}

void TimerWheel::cancel(TimerEntry& entry) {
    if (!entry.armed()) return;
    unlink(entry);
    --armed_;
}

}  // namespace sluice
