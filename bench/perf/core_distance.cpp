#include "bench/perf/core_distance.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <thread>

namespace sluice::perf {

namespace {

// Nine batches of 2,000 bounces, and the median batch: a batch that an interrupt or another task
// on either core disturbed does not count.
constexpr int kBatches = 9;
constexpr int kBouncesPerBatch = 2000;
constexpr int kBounces = kBatches * kBouncesPerBatch;

bool pin_to(unsigned core) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(core, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

}  // namespace

std::optional<double> core_round_trip_ns(unsigned core_a, unsigned core_b) {
    // The other thread says first whether it could be pinned (1) or not (-1). Then one line is
    // written in turn: odd values by this thread, even ones by the other; -1 from this thread
    // tells the other to give up.
    std::atomic<int> ready{0};
    alignas(64) std::atomic<int> line{0};
    std::thread other([&ready, &line, core_b] {
        if (!pin_to(core_b)) {
            ready.store(-1, std::memory_order_release);
            return;
        }
        ready.store(1, std::memory_order_release);
        for (int i = 0; i < kBounces; ++i) {
            int seen;
            while ((seen = line.load(std::memory_order_acquire)) != 2 * i + 1) {
                if (seen < 0)
                    return;
            }
            line.store(2 * i + 2, std::memory_order_release);
        }
    });
    cpu_set_t before;
    CPU_ZERO(&before);
    pthread_getaffinity_np(pthread_self(), sizeof before, &before);
    int other_ready;
    while ((other_ready = ready.load(std::memory_order_acquire)) == 0) {
    }
    std::optional<double> result;
    if (other_ready > 0 && pin_to(core_a)) {
        std::array<double, kBatches> batches{};
        auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < kBounces; ++i) {
            if (i > 0 && i % kBouncesPerBatch == 0) {
                const auto now = std::chrono::steady_clock::now();
                batches[i / kBouncesPerBatch - 1] =
                    std::chrono::duration<double, std::nano>(now - start).count();
                start = now;
            }
            line.store(2 * i + 1, std::memory_order_release);
            while (line.load(std::memory_order_acquire) != 2 * i + 2) {
            }
        }
        batches[kBatches - 1] =
            std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
                .count();
        std::nth_element(batches.begin(), batches.begin() + kBatches / 2, batches.end());
        result = batches[kBatches / 2] / kBouncesPerBatch;
    } else {
        line.store(-1, std::memory_order_release);  // let the other thread go, if it waits
    }
    other.join();
    pthread_setaffinity_np(pthread_self(), sizeof before, &before);
    return result;
}

}  // namespace sluice::perf
