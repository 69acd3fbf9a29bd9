#include "dataplane/app/worker_runtime.hpp"

#include <algorithm>
#include <cerrno>

namespace sluice::app {

namespace {
constexpr std::uint32_t kSlotBits = 32;
}  // namespace

WorkerRuntime::WorkerRuntime(Worker& worker, WorkerRuntimeConfig config)
    : worker_(worker), config_(std::move(config)) {
    slots_.resize(config_.timer_capacity);
    heap_.reserve(config_.timer_capacity);
    free_slots_.reserve(config_.timer_capacity);
    for (std::uint32_t i = config_.timer_capacity; i > 0; --i)
        free_slots_.push_back(i - 1);
}

std::uint32_t WorkerRuntime::connection_slots() const {
    return static_cast<std::uint32_t>(worker_.tcp().slot_count());
}

Result<api::Connection, api::Errno> WorkerRuntime::connect(Ipv4Address ip, std::uint16_t port,
                                                           api::ConnectionHandler* handler) {
    return worker_.tcp().connect(ip, port, handler);
}

Nanos WorkerRuntime::now() const {
    return worker_.clock().now();
}

void WorkerRuntime::stop(int status) {
    if (config_.stop != nullptr)
        config_.stop->ask(status);
}

Status<api::Errno> WorkerRuntime::post(unsigned to, const Task& task) {
    if (to >= config_.to_worker.size() || config_.to_worker[to] == nullptr || !task)
        return Unexpected{api::Errno{EINVAL}};
    Task copy = task;  // DPDK's enqueue takes a non-const pointer
    if (rte_ring_sp_enqueue_elem(config_.to_worker[to], &copy, sizeof(Task)) != 0)
        return Unexpected{api::Errno{EAGAIN}};
    return {};
}

void WorkerRuntime::run_messages() {
    for (rte_ring* ring : config_.from_worker) {
        if (ring == nullptr)
            continue;
        // What is there now, up to a budget: a task that sends to this very ring (a message to
        // oneself) is run in the next turn, not in this one forever.
        for (unsigned n = std::min(rte_ring_count(ring), kMessagesPerTurn); n > 0; --n) {
            Task task;
            if (rte_ring_sc_dequeue_elem(ring, &task, sizeof(Task)) != 0)
                break;
            ++messages_run_;
            task(*this);
        }
    }
}

Result<TimerId, api::Errno> WorkerRuntime::arm(Nanos delay, const Task& task) {
    if (!task)
        return Unexpected{api::Errno{EINVAL}};
    if (free_slots_.empty())
        return Unexpected{api::Errno{EAGAIN}};
    const std::uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    TimerSlot& t = slots_[slot];
    t.deadline = now() + std::max(delay, Nanos{0});
    t.task = task;
    t.generation += 1;
    t.armed_turn = turn_;
    heap_.push_back(slot);
    t.heap_index = static_cast<std::uint32_t>(heap_.size() - 1);
    sift_up(t.heap_index);
    return (TimerId{t.generation} << kSlotBits) | (TimerId{slot} + 1);
}

bool WorkerRuntime::cancel(TimerId id) {
    const std::uint64_t low = id & ((TimerId{1} << kSlotBits) - 1);
    if (low == 0 || low > slots_.size())
        return false;
    const auto slot = static_cast<std::uint32_t>(low - 1);
    TimerSlot& t = slots_[slot];
    if (!armed(slot) || t.generation != static_cast<std::uint32_t>(id >> kSlotBits))
        return false;
    remove_at(t.heap_index);
    return true;
}

void WorkerRuntime::run_timers() {
    const Nanos now_ = now();
    // A timer armed in this turn (by a message, or by a timer re-arming itself with no delay)
    // waits for the next one: a self-re-arming after(0) runs once a turn, not forever in one.
    while (!heap_.empty()) {
        const std::uint32_t slot = heap_.front();
        if (slots_[slot].deadline > now_ || slots_[slot].armed_turn == turn_)
            break;
        const Task task = slots_[slot].task;
        remove_at(0);
        ++timers_run_;
        task(*this);
    }
}

void WorkerRuntime::poll() {
    ++turn_;
    if (!started_) {
        started_ = true;
        for (auto& hook : config_.start_hooks)
            hook(*this);
    }
    run_messages();
    if (!heap_.empty())
        run_timers();
    if (next_ != nullptr)
        next_->poll();
}

bool WorkerRuntime::earlier(std::uint32_t a, std::uint32_t b) const {
    return slots_[heap_[a]].deadline < slots_[heap_[b]].deadline;
}

void WorkerRuntime::place(std::uint32_t index, std::uint32_t slot) {
    heap_[index] = slot;
    slots_[slot].heap_index = index;
}

void WorkerRuntime::sift_up(std::uint32_t index) {
    while (index > 0) {
        const std::uint32_t parent = (index - 1) / 2;
        if (!earlier(index, parent))
            break;
        const std::uint32_t moved = heap_[parent];
        place(parent, heap_[index]);
        place(index, moved);
        index = parent;
    }
}

void WorkerRuntime::sift_down(std::uint32_t index) {
    const auto size = static_cast<std::uint32_t>(heap_.size());
    for (;;) {
        std::uint32_t first = index;
        const std::uint32_t left = 2 * index + 1;
        const std::uint32_t right = left + 1;
        if (left < size && earlier(left, first))
            first = left;
        if (right < size && earlier(right, first))
            first = right;
        if (first == index)
            return;
        const std::uint32_t moved = heap_[first];
        place(first, heap_[index]);
        place(index, moved);
        index = first;
    }
}

void WorkerRuntime::remove_at(std::uint32_t index) {
    const std::uint32_t slot = heap_[index];
    slots_[slot].task = Task{};
    free_slots_.push_back(slot);
    const std::uint32_t last = heap_.back();
    heap_.pop_back();
    if (index < heap_.size()) {
        place(index, last);
        sift_up(index);
        sift_down(slots_[last].heap_index);
    }
}

}  // namespace sluice::app
