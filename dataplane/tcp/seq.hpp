// TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 3.4). Ordinary comparison
// operators would be wrong across the wrap, so SeqNum has no implicit conversion to an integer and
// its ordering is the serial-number arithmetic of RFC 1982.
#pragma once

#include <cstdint>

namespace sluice::tcp {

class SeqNum {
  public:
    constexpr SeqNum() = default;
    constexpr explicit SeqNum(std::uint32_t v) : value_(v) {}
    constexpr std::uint32_t raw() const { return value_; }

    constexpr SeqNum operator+(std::uint32_t n) const { return SeqNum(value_ + n); }
    constexpr SeqNum operator-(std::uint32_t n) const { return SeqNum(value_ - n); }
    constexpr SeqNum& operator+=(std::uint32_t n) {
        value_ += n;
        return *this;
    }
    // The signed distance from `other` to this; meaningful while |distance| < 2^31.
    constexpr std::int32_t operator-(SeqNum other) const {
        return static_cast<std::int32_t>(value_ - other.value_);
    }

    friend constexpr bool operator==(SeqNum, SeqNum) = default;
    friend constexpr bool operator<(SeqNum a, SeqNum b) { return (a - b) < 0; }
    friend constexpr bool operator<=(SeqNum a, SeqNum b) { return (a - b) <= 0; }
    friend constexpr bool operator>(SeqNum a, SeqNum b) { return (a - b) > 0; }
    friend constexpr bool operator>=(SeqNum a, SeqNum b) { return (a - b) >= 0; }

  private:
    std::uint32_t value_ = 0;
};

constexpr SeqNum seq_max(SeqNum a, SeqNum b) {
    return a < b ? b : a;
}
constexpr SeqNum seq_min(SeqNum a, SeqNum b) {
    return a < b ? a : b;
}

// a <= x < b, modulo 2^32.
constexpr bool seq_in_half_open(SeqNum x, SeqNum a, SeqNum b) {
    return a <= x && x < b;
}

// RFC 9293 3.10.7.4, first check: is a segment (seq, length) acceptable for a receive window
// (rcv_nxt, rcv_wnd)? The four cases of the table, for zero and non-zero length and window.
constexpr bool segment_acceptable(SeqNum seq, std::uint32_t length, SeqNum rcv_nxt,
                                  std::uint32_t rcv_wnd) {
    const SeqNum window_end = rcv_nxt + rcv_wnd;
    if (length == 0) {
        return rcv_wnd == 0 ? seq == rcv_nxt : seq_in_half_open(seq, rcv_nxt, window_end);
    }
    if (rcv_wnd == 0)
        return false;
    return seq_in_half_open(seq, rcv_nxt, window_end) ||
           seq_in_half_open(seq + (length - 1), rcv_nxt, window_end);
}

}  // namespace sluice::tcp
