// The congestion-control seam: one interface, one small state per connection, the algorithm
// chosen per connection. The sender (ack_processing.cpp, loss_recovery.cpp, tcp_timers.cpp) says
// what happened (bytes acknowledged, a loss detected, a retransmission timeout, recovery over)
// and reads the window; it never names an algorithm. smoltcp's `Controller` trait is the model:
// an enum over the algorithms rather than virtual calls, so that the state lives inside the TCB
// and the dispatch is a switch the compiler sees through.
//
// Windows are in bytes. Adding an algorithm (DCTCP, BBR) is a new file beside new_reno and cubic,
// an enumerator, its state in AlgorithmState, and a case in each function of controller.cpp.
//
// Not thread-safe: part of one connection on one worker.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>

#include <sluice/congestion.hpp>

#include "dataplane/timers/clock.hpp"

namespace sluice::tcp::congestion {

// What an acknowledgment of new data tells the controller.
struct AckSample {
    std::uint32_t bytes_acked = 0;  // newly acknowledged, cumulatively (RFC 3465 byte counting)
    std::uint32_t mss = 0;          // SMSS
    Nanos now{0};
    Nanos srtt{0};  // 0 while there is no sample
};

// cwnd, ssthresh, the algorithms' own state and fast recovery's: 24 bytes in every TCB.
struct Controller {
    std::uint32_t cwnd = 0;
    std::uint32_t ssthresh = 0;
    // CUBIC (cubic.hpp): the window at the last congestion event (bytes; 0: none yet), the
    // Reno-friendly estimate W_est (bytes; 0: no avoidance epoch open), when the epoch began, and
    // K in milliseconds (at most 65.5 s: a K that long needs a window of half a gigabyte).
    //
    // While fast recovery lasts, CUBIC has no epoch open (a congestion event closes it, and the
    // first ACK after recovery opens the next), so Proportional Rate Reduction's counters (RFC
    // 9937 5) borrow the epoch's three fields: the bytes delivered and sent since recovery began,
    // and RecoverFS, the data outstanding when it began, in segments. start_prr() and end_prr()
    // switch between the two; nothing reads the one not in use.
    std::uint32_t w_max = 0;
    union {
        std::uint32_t w_est = 0;
        std::uint32_t prr_delivered;  // RFC 9937 prr_delivered, bytes
    };
    union {
        Stamp32<std::chrono::milliseconds> epoch_start{};
        std::uint32_t prr_out;  // RFC 9937 prr_out, bytes
    };
    union {
        std::uint16_t k_ms = 0;
        std::uint16_t prr_recover_fs_segments;  // RFC 9937 RecoverFS, in segments, at least 1
    };
    Algorithm algorithm = kDefaultAlgorithm;
    // Not the window's but loss detection's, kept here in what would be the struct's padding so
    // that the TCB does not grow: RACK's reordering window multiplier (RFC 8985 6.2 step 4,
    // RACK.reo_wnd_mult, 1 to 16), raised by D-SACKs that show a retransmission was spurious,
    // and back to 1 after 16 recoveries without one (RACK.reo_wnd_persist).
    std::uint8_t reo_wnd_steps_ : 4 = 0;             // reo_wnd_mult() - 1
    std::uint8_t recoveries_since_widened_ : 4 = 0;  // since the last D-SACK, at most 15
    std::uint32_t reo_wnd_mult() const { return reo_wnd_steps_ + 1U; }
    // A D-SACK: one step wider, and the count of recoveries starts again.
    void widen_reo_wnd() {
        if (reo_wnd_steps_ < kMaxReoWndMult - 1)
            ++reo_wnd_steps_;
        recoveries_since_widened_ = 0;
    }
    // A loss recovery begins: the sixteenth since the window was last widened narrows it again.
    void count_recovery_for_reo_wnd() {
        if (reo_wnd_steps_ == 0)
            return;
        if (recoveries_since_widened_ == kReoWndPersist - 1) {
            reo_wnd_steps_ = 0;
            recoveries_since_widened_ = 0;
        } else {
            ++recoveries_since_widened_;
        }
    }
    static constexpr std::uint32_t kMaxReoWndMult = 16;
    static constexpr std::uint32_t kReoWndPersist = 16;

    // A new connection's window (RFC 6928: ten segments; RFC 5681 3.1: ssthresh arbitrarily high).
    void start(Algorithm a, std::uint32_t mss);
    // Another algorithm from now on: the window carries over, its own state starts afresh.
    void switch_to(Algorithm a);
    // New data acknowledged outside loss recovery: slow start below ssthresh, else the
    // algorithm's congestion avoidance.
    void on_ack(const AckSample& s);
    // A loss detected by duplicate ACKs, SACK or RACK: the multiplicative decrease. Sets ssthresh
    // and the window recovery starts from (RFC 5681 3.2 step 2, RFC 9438 4.6).
    void on_loss(std::uint32_t flight_size, std::uint32_t mss, Nanos now);
    // The retransmission timer fired: ssthresh as for a loss, cwnd the loss window of one
    // segment (RFC 5681 3.1 eq. 4 and the text after it).
    void on_retransmit_timeout(std::uint32_t flight_size, std::uint32_t mss, Nanos now);
    // Fast recovery is over (a full ACK, RFC 6582 3.2 step 3): PRR has brought the flight to
    // about ssthresh, and the window is ssthresh (RFC 9937 5). Ends PRR (end_prr()).
    void on_recovery_end();
    // A retransmission turned out to be spurious (F-RTO, RFC 5682, or D-SACK): undo the decrease.
    void undo(std::uint32_t prior_cwnd, std::uint32_t prior_ssthresh);
    // Fast recovery begins (after on_loss()) with `recover_fs` bytes outstanding and not SACKed:
    // PRR's counters replace CUBIC's closed epoch until on_recovery_end() or end_prr().
    void start_prr(std::uint32_t recover_fs, std::uint32_t mss);
    // `bytes` were sent, first or again, during fast recovery.
    void prr_sent(std::uint32_t bytes) {
        prr_out = bytes > UINT32_MAX - prr_out ? UINT32_MAX : prr_out + bytes;
    }
    // RFC 9937 5, on an ACK in fast recovery that delivered `delivered` bytes (newly acknowledged
    // cumulatively or SACKed): sets cwnd to `pipe` plus what may be sent now. `safe_ack`: the ACK
    // moved SND.UNA and showed no further loss, so the slow-start bound applies.
    void prr_on_ack(std::uint32_t delivered, std::uint32_t pipe, bool safe_ack, std::uint32_t mss);
    // Fast recovery is over (or a timeout ended it): the epoch's fields are CUBIC's again, with
    // no epoch open.
    void end_prr();
    // RFC 5681 4.1: after an idle period longer than an RTO an algorithm that does not pace
    // (NewReno) starts again from the restart window, min(IW, cwnd); CUBIC keeps its window and
    // paces it instead (pacing_rate()).
    bool restarts_after_idle() const { return algorithm == Algorithm::NewReno; }
    void restart_after_idle(std::uint32_t mss) { cwnd = std::min(cwnd, kInitialSegments * mss); }
    static constexpr std::uint32_t kInitialSegments = 10;  // RFC 6928's initial window
    // Bytes per second to pace at; 0 when the algorithm sends at line rate within cwnd.
    // `after_idle`: the window is about to be sent after an idle period longer than an RTO.
    std::uint64_t pacing_rate(Nanos srtt, bool after_idle) const;
};

}  // namespace sluice::tcp::congestion
