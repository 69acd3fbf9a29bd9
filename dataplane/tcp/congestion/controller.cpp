#include "dataplane/tcp/congestion/controller.hpp"

#include <algorithm>
#include <limits>

#include "dataplane/tcp/congestion/cubic.hpp"
#include "dataplane/tcp/congestion/new_reno.hpp"

namespace sluice::tcp::congestion {

std::string_view algorithm_name(Algorithm a) {
    switch (a) {
        case Algorithm::NewReno:
            return "newreno";
        case Algorithm::Cubic:
            return "cubic";
    }
    return "?";
}

std::optional<Algorithm> parse_algorithm(std::string_view name) {
    if (name == "newreno")
        return Algorithm::NewReno;
    if (name == "cubic")
        return Algorithm::Cubic;
    return std::nullopt;
}

void Controller::start(Algorithm a, std::uint32_t mss) {
    algorithm = a;
    cwnd = kInitialSegments * mss;
    ssthresh = std::numeric_limits<std::uint32_t>::max();
    w_max = w_est = 0;
    k_ms = 0;
    reo_wnd_steps_ = 0;
    recoveries_since_widened_ = 0;
}

void Controller::switch_to(Algorithm a) {
    algorithm = a;
    w_max = w_est = 0;
    k_ms = 0;
}

void Controller::on_ack(const AckSample& s) {
    if (cwnd < ssthresh) {
        // RFC 5681 3.1 slow start, counted in bytes acknowledged (RFC 3465) rather than ACKs:
        // receivers that ACK a burst at a time (Linux's GRO, our burst_acks.hpp) send one ACK
        // for up to 45 segments. Slow start stops at ssthresh, as Linux's tcp_slow_start() does.
        cwnd = static_cast<std::uint32_t>(
            std::min<std::uint64_t>(std::uint64_t{cwnd} + s.bytes_acked, ssthresh));
        return;
    }
    switch (algorithm) {
        case Algorithm::NewReno:
            new_reno::on_ack(cwnd, s.bytes_acked, s.mss);
            break;
        case Algorithm::Cubic:
            cubic::on_ack(*this, s.bytes_acked, s.mss, s.now, s.srtt);
            break;
    }
}

void Controller::on_loss(std::uint32_t flight_size, std::uint32_t mss, Nanos /*now*/) {
    switch (algorithm) {
        case Algorithm::NewReno:
            ssthresh = new_reno::ssthresh_after_loss(flight_size, mss);
            break;
        case Algorithm::Cubic:
            // RFC 9438 4.6 reduces from cwnd; a window the application did not fill (flight below
            // cwnd) is no measure of the path, so the smaller of the two is used, as Linux does.
            cubic::on_congestion(*this, std::min(cwnd, std::max(flight_size, mss)), mss);
            break;
    }
    cwnd = ssthresh;
}

void Controller::on_retransmit_timeout(std::uint32_t flight_size, std::uint32_t mss, Nanos now) {
    on_loss(flight_size, mss, now);
    cwnd = mss;  // RFC 5681 3.1: the loss window
}

void Controller::on_recovery_end() {
    // RFC 9937 5: PRR has brought the flight to about ssthresh; the window is ssthresh.
    end_prr();
    cwnd = ssthresh;
}

void Controller::undo(std::uint32_t prior_cwnd, std::uint32_t prior_ssthresh) {
    cwnd = std::max(cwnd, prior_cwnd);
    ssthresh = std::max(ssthresh, prior_ssthresh);
    w_est = 0;
}

void Controller::start_prr(std::uint32_t recover_fs, std::uint32_t mss) {
    prr_delivered = 0;
    prr_out = 0;
    const std::uint32_t segments = mss == 0 ? recover_fs : (recover_fs + mss - 1) / mss;
    prr_recover_fs_segments =
        static_cast<std::uint16_t>(std::clamp<std::uint32_t>(segments, 1, 65535));
}

void Controller::prr_on_ack(std::uint32_t delivered, std::uint32_t pipe, bool safe_ack,
                            std::uint32_t mss) {
    // RFC 9937 5: an ACK that delivered nothing (a window update, a D-SACK) changes nothing.
    if (delivered == 0)
        return;
    prr_delivered = delivered > UINT32_MAX - prr_delivered ? UINT32_MAX : prr_delivered + delivered;
    const std::uint64_t out = prr_out;
    std::uint64_t send = 0;
    if (pipe > ssthresh) {
        // Proportional Rate Reduction: ssthresh/RecoverFS of what was delivered, rounded up so
        // that a small delivery never stalls the sender.
        const std::uint64_t recover_fs =
            std::uint64_t{std::max<std::uint16_t>(prr_recover_fs_segments, 1)} * std::max(mss, 1U);
        const std::uint64_t allowed =
            (std::uint64_t{prr_delivered} * ssthresh + recover_fs - 1) / recover_fs;
        send = allowed > out ? allowed - out : 0;
    } else {
        // The pipe is below ssthresh (more was lost than the reduction called for): rebuild it,
        // by what was delivered (the conservative bound, PRR-CRB), plus a segment per ACK that
        // shows recovery going well (the slow-start bound, PRR-SSRB), never past ssthresh. An
        // ACK that delivered a short segment still lets a whole one go, as Linux, which counts
        // PRR in segments, does: counted in bytes, short segments would starve the recovery.
        std::uint64_t limit = std::max<std::uint64_t>(prr_delivered > out ? prr_delivered - out : 0,
                                                      std::max(delivered, mss));
        if (safe_ack)
            limit += mss;
        send = std::min<std::uint64_t>(ssthresh - pipe, limit);
    }
    // The fast retransmit goes whatever the proportion says.
    if (out == 0 && send == 0)
        send = mss;
    cwnd = static_cast<std::uint32_t>(std::min<std::uint64_t>(pipe + send, UINT32_MAX));
}

void Controller::end_prr() {
    w_est = 0;
    epoch_start = {};
    k_ms = 0;
}

std::uint64_t Controller::pacing_rate(Nanos srtt, bool after_idle) const {
    // After an idle period longer than an RTO there is no ACK clock: the window would leave as
    // one line-rate burst. RFC 5681 4.1 shrinks it to the restart window instead (as Linux does
    // by default), which costs the connection several round trips to regrow; CUBIC here keeps
    // its window and spreads it over one smoothed RTT, as Linux's CUBIC does whenever it paces.
    // NewReno sends within cwnd at line rate; a rate-based algorithm (BBR) would pace always.
    if (algorithm != Algorithm::Cubic || !after_idle || srtt <= Nanos::zero())
        return 0;
    return std::uint64_t{cwnd} * 1'000'000'000ULL / static_cast<std::uint64_t>(srtt.count());
}

}  // namespace sluice::tcp::congestion
