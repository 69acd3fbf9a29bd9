// A latency histogram in nanoseconds with a fixed relative error (HdrHistogram's idea, in the
// small): values below 128 ns have a bucket each; above, every power of two is cut into 64 buckets,
// so a reported percentile is at most 1/64 (1.6 %) above the true value. Recording is an index
// computation and an increment; nothing is allocated after construction. The maximum is exact.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace sluice::perf {

class LatencyHistogram {
  public:
    void record(std::uint64_t nanos) {
        ++buckets_[index_of(nanos)];
        ++count_;
        if (nanos > max_)
            max_ = nanos;
    }

    std::uint64_t count() const { return count_; }
    std::uint64_t max() const { return max_; }

    // The smallest bucket's upper edge below which at least `fraction` of the samples lie (so a
    // percentile is never reported lower than it was); 0 when empty.
    std::uint64_t percentile(double fraction) const {
        if (count_ == 0)
            return 0;
        const auto wanted =
            static_cast<std::uint64_t>(fraction * static_cast<double>(count_) + 0.5);
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < buckets_.size(); ++i) {
            seen += buckets_[i];
            if (seen >= (wanted == 0 ? 1 : wanted)) {
                const std::uint64_t upper = upper_edge(i);
                return upper < max_ ? upper : max_;
            }
        }
        return max_;
    }

    void clear() {
        buckets_.fill(0);
        count_ = 0;
        max_ = 0;
    }

  private:
    static constexpr unsigned kLinearBits = 7;    // 0..127 exactly
    static constexpr unsigned kSubBits = 6;       // 64 buckets per power of two above that
    static constexpr unsigned kMaxExponent = 40;  // ~18 minutes; longer is clamped
    static constexpr std::size_t kBuckets =
        (std::size_t{1} << kLinearBits) + (kMaxExponent - kLinearBits + 1) * (1u << kSubBits);

    static std::size_t index_of(std::uint64_t v) {
        if (v < (1u << kLinearBits))
            return static_cast<std::size_t>(v);
        unsigned exponent = 63 - static_cast<unsigned>(std::countl_zero(v));
        if (exponent > kMaxExponent) {
            exponent = kMaxExponent;
            v = (std::uint64_t{2} << kMaxExponent) - 1;
        }
        const auto sub =
            static_cast<std::size_t>((v >> (exponent - kSubBits)) & ((1u << kSubBits) - 1));
        return (std::size_t{1} << kLinearBits) + (exponent - kLinearBits) * (1u << kSubBits) + sub;
    }

    static std::uint64_t upper_edge(std::size_t index) {
        if (index < (1u << kLinearBits))
            return index;
        const std::size_t above = index - (std::size_t{1} << kLinearBits);
        const unsigned exponent = static_cast<unsigned>(above >> kSubBits) + kLinearBits;
        const std::uint64_t sub = above & ((1u << kSubBits) - 1);
        const std::uint64_t step = std::uint64_t{1} << (exponent - kSubBits);
        return (std::uint64_t{1} << exponent) + (sub + 1) * step - 1;
    }

    std::array<std::uint64_t, kBuckets> buckets_{};
    std::uint64_t count_ = 0;
    std::uint64_t max_ = 0;
};

}  // namespace sluice::perf
