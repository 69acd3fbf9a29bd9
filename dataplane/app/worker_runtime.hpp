// The engine's side of a WorkerContext (sluice/application.hpp): a worker as a program sees it.
// Each loop turn it runs the messages other workers sent this one, then the timers that are due,
// then the engine's own client if this worker has one. Everything is sized at start: messages
// travel by copy through one single-producer single-consumer rte_ring per pair of workers, and
// timers live in a fixed array ordered by an indexed binary heap (not TCP's timer wheel: its 1 ms
// tick is coarser than the turn a program's after(0) promises). Nothing is allocated and nothing
// locked per message or timer (docs/architecture.md rule 1).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include <rte_ring.h>

#include <sluice/application.hpp>

#include "dataplane/worker.hpp"

namespace sluice::app {

// How a program asks the whole engine to stop; shared by all workers and read by the control
// loop, written once.
struct StopRequest {
    std::atomic<bool> requested{false};
    std::atomic<int> status{0};
    void ask(int s) {
        bool expected = false;
        if (requested.compare_exchange_strong(expected, true))
            status.store(s);
    }
};

struct WorkerRuntimeConfig {
    unsigned workers = 1;
    std::uint32_t timer_capacity = 4096;
    // Messages one ring holds (its slots less one).
    unsigned message_capacity = 1023;
    // [j]: this worker -> worker j, and worker j -> this worker (both include this worker's own
    // ring at [id]). Rings of Task elements, single producer and single consumer.
    std::vector<rte_ring*> to_worker;
    std::vector<rte_ring*> from_worker;
    StopRequest* stop = nullptr;
    // Run once on the worker's thread at the start of its first turn.
    std::vector<std::function<void(WorkerContext&)>> start_hooks;
};

class WorkerRuntime final : public WorkerContext, public Poller {
  public:
    // Slots of each ring (one fewer messages fit); a full ring refuses with EAGAIN. Rings are
    // smaller with many workers, so that workers^2 of them stay within a few tens of MiB: 1024
    // up to 8 workers, then 8192 / workers, at least 128.
    static constexpr unsigned kRingSlots = 1024;
    static constexpr unsigned ring_slots(unsigned workers) {
        if (workers <= 8)
            return kRingSlots;
        unsigned slots = 128;
        while (slots * 2 <= 8192 / workers)
            slots *= 2;
        return slots;
    }
    // Messages taken from each ring per turn, so that a flood from one worker cannot starve the
    // network.
    static constexpr unsigned kMessagesPerTurn = 64;

    WorkerRuntime(Worker& worker, WorkerRuntimeConfig config);

    // Another poller (the engine's client) run after the program's work each turn.
    void chain(Poller* next) { next_ = next; }

    // WorkerContext
    unsigned id() const override { return worker_.id(); }
    unsigned count() const override { return config_.workers; }
    unsigned message_capacity() const override { return config_.message_capacity; }
    std::uint32_t connection_slots() const override;
    Result<api::Connection, api::Errno> connect(Ipv4Address ip, std::uint16_t port,
                                                api::ConnectionHandler* handler) override;
    bool cancel(TimerId id) override;
    Nanos now() const override;
    void stop(int status) override;
    Status<api::Errno> post(unsigned to, const Task& task) override;
    Result<TimerId, api::Errno> arm(Nanos delay, const Task& task) override;
    tcp::TcpStack& tcp_stack() override { return worker_.tcp(); }

    // Poller
    void poll() override;

    std::uint64_t messages_run() const { return messages_run_; }
    std::uint64_t timers_run() const { return timers_run_; }
    std::size_t timers_armed() const { return heap_.size(); }

  private:
    struct TimerSlot {
        Nanos deadline{0};
        Task task;
        std::uint32_t generation = 0;
        std::uint32_t heap_index = 0;
        std::uint32_t armed_turn = 0;  // the turn it was armed in: it runs in a later one
    };

    void run_messages();
    void run_timers();
    bool earlier(std::uint32_t a, std::uint32_t b) const;
    bool armed(std::uint32_t slot) const {
        const std::uint32_t i = slots_[slot].heap_index;
        return i < heap_.size() && heap_[i] == slot;
    }
    void sift_up(std::uint32_t index);
    void sift_down(std::uint32_t index);
    void remove_at(std::uint32_t index);
    void place(std::uint32_t index, std::uint32_t slot);

    Worker& worker_;
    WorkerRuntimeConfig config_;
    Poller* next_ = nullptr;
    bool started_ = false;
    std::uint32_t turn_ = 0;  // poll() calls, for armed_turn
    std::vector<TimerSlot> slots_;
    std::vector<std::uint32_t> free_slots_;
    std::vector<std::uint32_t> heap_;  // slot indices, earliest deadline first
    std::uint64_t messages_run_ = 0;
    std::uint64_t timers_run_ = 0;
};

}  // namespace sluice::app
