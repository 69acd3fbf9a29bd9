// How a worker waits when nothing arrives (--idle). `poll` spins: the lowest latency, and a
// whole core burnt even when the engine is quiet. `adaptive` keeps spinning while there is work
// and for a while after it (kSpinFor), then sleeps for short, growing spells (20 us doubling to
// 200 us), and spins again at the first frame: a quiet engine leaves its core to the rest of the
// machine, at the price of up to one spell's delay for the first packet after a silence. The
// devices here (af_packet, memif, virtio without rx interrupts in DPDK's poll mode) offer no
// interrupt to wait on, and rte_power_monitor needs WAITPKG, which virtual CPUs rarely expose; a
// sleep works everywhere. Sleeping spells stay well under the TCP timer wheel's 1 ms tick.
//
// Not thread-safe: one per worker, on its thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>

#include <sluice/time.hpp>

namespace sluice {

enum class IdleMode : std::uint8_t { Poll, Adaptive };

class IdleBackoff {
  public:
    // Quiet time spun through before the first sleep: longer than a client's think time in a
    // request-response exchange, so that back-to-back traffic never meets a sleep.
    static constexpr std::chrono::microseconds kSpinFor{500};
    static constexpr std::chrono::microseconds kFirstSleep{20};
    static constexpr std::chrono::microseconds kLongestSleep{200};

    explicit IdleBackoff(IdleMode mode) : mode_(mode) {}

    // After each loop turn: whether it did anything (received or sent a frame), and the time.
    void after_turn(bool worked, Nanos now) {
        if (mode_ == IdleMode::Poll)
            return;
        if (worked) {
            last_work_ = now;
            sleep_ = kFirstSleep;
            return;
        }
        if (now - last_work_ < kSpinFor)
            return;
        std::this_thread::sleep_for(sleep_);
        ++sleeps_;
        sleep_ = std::min(sleep_ * 2, kLongestSleep);
    }

    std::uint64_t sleeps() const { return sleeps_; }

  private:
    IdleMode mode_;
    Nanos last_work_{0};
    std::chrono::microseconds sleep_ = kFirstSleep;
    std::uint64_t sleeps_ = 0;
};

}  // namespace sluice
