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
    // One line, written in turn: odd values by this thread, even ones by the other. A value of -1
    // tells this thread the other could not be pinned.
    alignas(64) std::atomic<int> line{0};
    std::thread other([&line, core_b] {
        if (!pin_to(core_b)) {
            line.store(-1, std::memory_order_release);
            return;
        }
        for (int i = 0; i < kBounces; ++i) {
            int seen;
            while ((seen = line.load(std::memory_order_acquire)) != 2 * i + 1) {
                if (seen < 0)
                    return;
            }
            line.store(2 * i + 2, std::memory_order_release);
        }
    });
    const cpu_set_t before = [] {
        cpu_set_t s;
        CPU_ZERO(&s);
        pthread_getaffinity_np(pthread_self(), sizeof s, &s);
        return s;
    }();
    std::optional<double> result;
    if (pin_to(core_a)) {
        std::array<double, kBatches> batches{};
        auto start = std::chrono::steady_clock::now();
        bool pinned = true;
        for (int i = 0; i < kBounces && pinned; ++i) {
            if (i > 0 && i % kBouncesPerBatch == 0) {
                const auto now = std::chrono::steady_clock::now();
                batches[i / kBouncesPerBatch - 1] =
                    std::chrono::duration<double, std::nano>(now - start).count();
                start = now;
            }
            int expected = 2 * i;
            // The other thread may have given up before the first bounce.
            while (!line.compare_exchange_weak(expected, 2 * i + 1, std::memory_order_acq_rel)) {
                if (expected < 0) {
                    pinned = false;
                    break;
                }
                expected = 2 * i;
            }
            int seen;
            while (pinned && (seen = line.load(std::memory_order_acquire)) != 2 * i + 2) {
                if (seen < 0)
                    pinned = false;
            }
        }
        if (pinned) {
            batches[kBatches - 1] =
                std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
                    .count();
            std::nth_element(batches.begin(), batches.begin() + kBatches / 2, batches.end());
            result = batches[kBatches / 2] / kBouncesPerBatch;
        }
    }
    if (!result)
        line.store(-1, std::memory_order_release);  // let the other thread go
    other.join();
    pthread_setaffinity_np(pthread_self(), sizeof before, &before);
    return result;
}

}  // namespace sluice::perf
