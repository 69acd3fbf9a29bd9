// The client's clock for one run: warm-up, then the measurement window, with progress lines for the
// orchestrator on the way. Both stacks' clients drive it the same way, from their own loop, so the
// two are measured by the same code: the count of completed units (transactions, or bytes for
// stream) and the process's CPU time are read when the window opens and when it closes.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstdint>

#include "bench/perf/protocol.hpp"
#include "bench/perf/workload.hpp"

namespace sluice::perf {

class LoadMeter {
  public:
    using Clock = std::chrono::steady_clock;
    enum class Event : std::uint8_t { None, WindowOpened, WindowClosed };
    static constexpr std::chrono::milliseconds kProgressInterval{500};

    explicit LoadMeter(const LoadParams& params) : params_(params) {}

    // The load has begun (the first connection is up): warm-up starts now.
    void begin(Clock::time_point now) {
        phase_ = Phase::Warmup;
        began_ = now;
        window_opens_ = now + std::chrono::duration_cast<Clock::duration>(params_.warmup);
        window_closes_ =
            window_opens_ + std::chrono::duration_cast<Clock::duration>(params_.duration);
        next_progress_ = now + kProgressInterval;
        last_progress_ = now;
    }
    bool begun() const { return phase_ != Phase::NotStarted; }
    bool measuring() const { return phase_ == Phase::Measure; }
    bool done() const { return phase_ == Phase::Done; }

    // Once per loop turn (cheap unless a deadline has passed). `completed` only grows.
    Event tick(Clock::time_point now, std::uint64_t completed) {
        if (phase_ == Phase::NotStarted || phase_ == Phase::Done || now < next_deadline())
            return Event::None;
        Event event = Event::None;
        if (phase_ == Phase::Warmup && now >= window_opens_) {
            phase_ = Phase::Measure;
            window_start_units_ = completed;
            window_start_cpu_ = cpu_time();
            window_started_ = now;
            event = Event::WindowOpened;
            // The orchestrator samples the server's CPU time when it sees the first "measure".
            next_progress_ = now;
        } else if (phase_ == Phase::Measure && now >= window_closes_) {
            phase_ = Phase::Done;
            units_ = completed - window_start_units_;
            cpu_ = cpu_time() - window_start_cpu_;
            window_ended_ = now;
            return Event::WindowClosed;
        }
        if (now >= next_progress_) {
            const double interval = seconds_between(last_progress_, now);
            const double rate =
                interval > 0 ? static_cast<double>(completed - last_progress_units_) / interval : 0;
            MessageWriter("progress")
                .field("phase", phase_ == Phase::Warmup ? "warmup" : "measure")
                .field("elapsed", seconds_between(began_, now))
                .field("rate", rate)
                .send();
            last_progress_ = now;
            last_progress_units_ = completed;
            next_progress_ = now + kProgressInterval;
        }
        return event;
    }

    // After the window closed.
    std::uint64_t units() const { return units_; }
    double seconds() const { return seconds_between(window_started_, window_ended_); }
    double rate() const { return seconds() > 0 ? static_cast<double>(units_) / seconds() : 0; }
    // The process's CPU time (user and system, all threads) over the window, as a share of one
    // core.
    double cpu_percent() const {
        return seconds() > 0 ? 100.0 * std::chrono::duration<double>(cpu_).count() / seconds() : 0;
    }

  private:
    enum class Phase : std::uint8_t { NotStarted, Warmup, Measure, Done };

    Clock::time_point next_deadline() const {
        const Clock::time_point phase_end =
            phase_ == Phase::Warmup ? window_opens_ : window_closes_;
        return next_progress_ < phase_end ? next_progress_ : phase_end;
    }
    static double seconds_between(Clock::time_point a, Clock::time_point b) {
        return std::chrono::duration<double>(b - a).count();
    }
    static std::chrono::nanoseconds cpu_time() {
        rusage usage{};
        getrusage(RUSAGE_SELF, &usage);
        const auto of = [](const timeval& t) {
            return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec);
        };
        return of(usage.ru_utime) + of(usage.ru_stime);
    }

    LoadParams params_;
    Phase phase_ = Phase::NotStarted;
    Clock::time_point began_{};
    Clock::time_point window_opens_{};
    Clock::time_point window_closes_{};
    Clock::time_point window_started_{};
    Clock::time_point window_ended_{};
    Clock::time_point next_progress_{};
    Clock::time_point last_progress_{};
    std::uint64_t last_progress_units_ = 0;
    std::uint64_t window_start_units_ = 0;
    std::chrono::nanoseconds window_start_cpu_{};
    std::uint64_t units_ = 0;
    std::chrono::nanoseconds cpu_{};
};

}  // namespace sluice::perf
