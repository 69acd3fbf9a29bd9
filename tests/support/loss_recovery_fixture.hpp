// The fixture of the loss-recovery tests (loss_recovery_test.cpp, rack_tlp_test.cpp): a TcpFixture
// whose peer ACKs with SACK blocks given as offsets from the engine's first byte of data, sends
// data of its own, and whose transmissions are sorted into first sends and retransmissions.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "tests/support/tcp_fixture.hpp"

namespace sluice::test::loss {

using namespace std::chrono_literals;
using namespace wire::tcp_flag;
using tcp::TcpState;
using tcp::congestion::Algorithm;

inline constexpr std::uint32_t kMss = 1000;
// The round trip of tests that need RACK (RFC 8985) to see time pass between a send and its ACK.
inline constexpr auto kRtt = std::chrono::milliseconds(10);

// A SACK block as offsets from some base sequence number: [left, right).
struct Block {
    std::uint32_t left;
    std::uint32_t right;
};

inline std::vector<Sent> with_payload(const std::vector<Sent>& out) {
    std::vector<Sent> data;
    for (const Sent& s : out) {
        if (!s.payload.empty())
            data.push_back(s);
    }
    return data;
}

// Every data segment the engine sends, sorted into first transmissions and retransmissions by
// their offset from the first byte of data.
class Transmissions {
  public:
    explicit Transmissions(std::uint32_t base) : base_(base) {}
    // Takes a batch; returns its data segments' offsets, in order.
    std::vector<std::uint32_t> see(const std::vector<Sent>& out) {
        std::vector<std::uint32_t> offsets;
        for (const Sent& s : out) {
            if (s.payload.empty())
                continue;
            const std::uint32_t offset = s.seq() - base_;  // modulo 2^32
            offsets.push_back(offset);
            if (offset < end_) {
                retransmitted_[offset] += 1;
            } else {
                EXPECT_EQ(offset, end_) << "new data must follow the last byte sent";
                fresh_.push_back(offset);
                end_ = offset + static_cast<std::uint32_t>(s.payload.size());
            }
        }
        return offsets;
    }
    const std::map<std::uint32_t, int>& retransmitted() const { return retransmitted_; }
    const std::vector<std::uint32_t>& fresh() const { return fresh_; }
    std::uint32_t end() const { return end_; }

  private:
    std::uint32_t base_;
    std::uint32_t end_ = 0;
    std::map<std::uint32_t, int> retransmitted_;
    std::vector<std::uint32_t> fresh_;
};

class LossRecovery : public TcpFixture {
  protected:
    void start_with(Algorithm a) {
        config_.congestion = a;
        start(config_);
    }

    api::ConnectionInfo info_of(api::Connection c) {
        auto i = c.info();
        EXPECT_TRUE(i.has_value());
        return i.has_value() ? *i : api::ConnectionInfo{};
    }

    static wire::TcpOptions syn_options(std::uint16_t mss, bool sack, bool timestamps = false,
                                        std::optional<std::uint8_t> window_scale = {}) {
        wire::TcpOptions o;
        o.mss = mss;
        o.sack_permitted = sack;
        if (timestamps)
            o.timestamps = wire::TcpTimestamps{100, 0};
        o.window_scale = window_scale;
        return o;
    }

    // SACK blocks at offsets from `base`.
    static wire::TcpOptions sack(std::uint32_t base, std::initializer_list<Block> blocks) {
        wire::TcpOptions o;
        for (const Block& b : blocks) {
            o.sack_blocks[o.sack_block_count++] = {tcp::SeqNum(base + b.left),
                                                   tcp::SeqNum(base + b.right)};
        }
        return o;
    }

    // A plain ACK from the peer of our_seq + `offset`, with SACK blocks at offsets from our_seq.
    void ack(std::uint32_t offset, std::initializer_list<Block> blocks = {},
             std::uint16_t window = 65535) {
        inject(Seg{.seq = peer_seq,
                   .ack = our_seq + offset,
                   .window = window,
                   .options = sack(our_seq, blocks),
                   .source_port = peer_port});
    }
    // The same ACK again and again: duplicates in RFC 5681's sense.
    void dup_ack() { ack(0); }

    // Queues `n` bytes (pattern() from `offset`); the send buffer must take them all.
    void send(api::Connection c, std::size_t n, std::size_t offset = 0) {
        auto r = c.send(pattern(n, offset));
        ASSERT_TRUE(r.has_value());
        ASSERT_EQ(*r, n);
    }

    // Data from the peer, in order from peer_seq on, and peer_seq moved past it.
    void peer_data(std::size_t n, std::uint32_t ack_offset, wire::TcpOptions options = {},
                   std::uint16_t window = 65535) {
        inject(Seg{.seq = peer_seq,
                   .ack = our_seq + ack_offset,
                   .window = window,
                   .options = options,
                   .payload = pattern(n, 7777),
                   .source_port = peer_port});
        peer_seq += static_cast<std::uint32_t>(n);
    }

    // A data segment from the peer at peer_seq + `offset` (pattern() bytes at that offset).
    void peer_segment(std::uint32_t offset, std::size_t n, std::uint8_t flags = kAck,
                      wire::TcpOptions options = {}) {
        inject(Seg{.flags = flags,
                   .seq = peer_seq + offset,
                   .ack = our_seq,
                   .options = options,
                   .payload = pattern(n, offset),
                   .source_port = peer_port});
    }

    // The blocks of a segment we sent, as offsets from `base`.
    static std::vector<std::pair<std::uint32_t, std::uint32_t>> blocks_of(const Sent& s,
                                                                          std::uint32_t base) {
        std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
        for (std::uint8_t i = 0; i < s.tcp.options.sack_block_count; ++i) {
            out.emplace_back(s.tcp.options.sack_blocks[i].left.raw() - base,
                             s.tcp.options.sack_blocks[i].right.raw() - base);
        }
        return out;
    }

    // ISS = M + F(tuple) (RFC 6528), M counting 64 ns ticks: as tcp_behaviour_test.cpp's
    // SendsAcrossTheSequenceWrap does, learn F for a tuple from one SYN-ACK and move the clock so
    // that the next connection on it starts at `iss`. Sets peer_port.
    bool arrange_iss(std::uint32_t iss) {
        constexpr std::uint32_t kMaxTicks = 150'000'000'000ull / 64;
        const Nanos t0 = clock_.now();
        for (std::uint16_t port = 41000; port < 43000; ++port) {
            inject(Seg{.flags = kSyn, .seq = peer_seq, .source_port = port});
            const Sent synack = expect_one();
            inject(Seg{.flags = kRst, .seq = peer_seq + 1, .source_port = port});
            expect_none();
            const std::uint32_t delta = iss - synack.seq();
            if (delta <= kMaxTicks) {
                peer_port = port;
                clock_.set(t0 + std::chrono::nanoseconds(64 * std::int64_t{delta}));
                return stack().connection_count() == 0;
            }
        }
        return false;
    }
};

}  // namespace sluice::test::loss
