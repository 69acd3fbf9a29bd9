// The Toeplitz hash of a TCP/IPv4 4-tuple, the RSS function: the NIC computes it to pick a queue,
// and the engine recomputes it in software to choose ephemeral ports whose answers come back to
// the right worker (control/ports, WorkerLinks::take_port) and, with a known device key, to insert
// flows under the hash the NIC will put in the mbuf (flow/flow_hash.hpp). Variants, each over
// batches of 32 tuples drawn in turn from 1024 random ones (rte_softrss branches on every bit of
// the tuple, so the tuples must vary), reported per hash in per_hash:
//   rss_model_hash     flow::RssModel::hash: rte_softrss_be with the key converted once
//                      (rte_convert_rss_key), a call into rss_model.cpp as the engine makes it
//   rte_softrss        rte_softrss with the raw key, converted bit by bit on every call
//   rte_thash_gfni     DPDK's GFNI/AVX-512 Toeplitz, one tuple per call (toeplitz_gfni.hpp);
//                      registered only when the CPU and the build allow it
//   rte_thash_gfni_bulk  the same, rte_thash_gfni_bulk over the batch (two tuples per pass)
//   crc32c_flow_hash   for scale: FourTupleCrcHash, the flow table's hash when the device's key
//                      is not known
// All use the engine's key (RssModel::symmetric_key()).
#include <benchmark/benchmark.h>
#include <rte_cpuflags.h>
#include <rte_thash.h>

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "bench/micro/micro_benchmarks.hpp"
#include "bench/micro/micro_environment.hpp"
#include "bench/micro/toeplitz_gfni.hpp"
#include "dataplane/flow/open_addressing_index.hpp"
#include "dataplane/flow/rss_model.hpp"

namespace sluice::bench {

namespace {

using flow::FourTuple;
using flow::RssModel;

constexpr std::size_t kBatch = 32;
constexpr std::size_t kTuples = 1024;  // a multiple of kBatch
constexpr int kTupleBytes = RTE_THASH_V4_L4_LEN * 4;

// The same 1024 tuples (remote -> local, as a received segment travels) in the three layouts the
// functions take.
struct Tuples {
    std::vector<FourTuple> tuples;
    std::vector<rte_ipv4_tuple> host_words;                   // rte_softrss: host-order words
    std::vector<std::array<std::uint8_t, 16>> network_bytes;  // rte_thash_gfni: wire order
    std::vector<std::uint8_t*> network_pointers;              // rte_thash_gfni_bulk
};

Tuples make_tuples() {
    Tuples t;
    std::mt19937 rng(1);
    t.tuples.resize(kTuples);
    t.host_words.resize(kTuples);
    t.network_bytes.resize(kTuples);
    for (std::size_t i = 0; i < kTuples; ++i) {
        const FourTuple f{0xac100001u, static_cast<std::uint32_t>(rng()),
                          static_cast<std::uint16_t>(80), static_cast<std::uint16_t>(rng())};
        t.tuples[i] = f;
        rte_ipv4_tuple& w = t.host_words[i];
        w.src_addr = f.remote_ip;
        w.dst_addr = f.local_ip;
        w.sport = f.remote_port;
        w.dport = f.local_port;
        auto& b = t.network_bytes[i];
        b.fill(0);
        const std::uint32_t words[3] = {f.remote_ip, f.local_ip,
                                        std::uint32_t{f.remote_port} << 16 | f.local_port};
        for (int k = 0; k < 3; ++k) {
            for (int byte = 0; byte < 4; ++byte)
                b[k * 4 + byte] = static_cast<std::uint8_t>(words[k] >> (24 - 8 * byte));
        }
    }
    for (auto& b : t.network_bytes)
        t.network_pointers.push_back(b.data());
    return t;
}

const Tuples& tuples() {
    static const Tuples t = make_tuples();
    return t;
}

const RssModel& engine_model() {
    static const RssModel model(RssModel::symmetric_key(), RssModel::round_robin_table(2, 128));
    return model;
}

// Calls `hash_batch(first)` on consecutive batches; it returns something that depends on every
// hash, so nothing is optimised away.
template <typename HashBatch>
void run(benchmark::State& state, HashBatch hash_batch) {
    std::size_t next = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(hash_batch(next));
        next = (next + kBatch) % kTuples;
    }
    state.counters["per_hash"] = per_unit(kBatch);
}

void rss_model_hash(benchmark::State& state) {
    const Tuples& t = tuples();
    const RssModel& model = engine_model();
    run(state, [&](std::size_t first) {
        std::uint32_t acc = 0;
        for (std::size_t i = first; i < first + kBatch; ++i) {
            const FourTuple& f = t.tuples[i];
            acc ^= model.hash(f.remote_ip, f.local_ip, f.remote_port, f.local_port);
        }
        return acc;
    });
}

void plain_softrss(benchmark::State& state) {
    const Tuples& t = tuples();
    const RssModel::Key key = engine_model().key();
    run(state, [&](std::size_t first) {
        std::uint32_t acc = 0;
        for (std::size_t i = first; i < first + kBatch; ++i) {
            auto* words =
                reinterpret_cast<std::uint32_t*>(const_cast<rte_ipv4_tuple*>(&t.host_words[i]));
            acc ^= rte_softrss(words, RTE_THASH_V4_L4_LEN, key.data());
        }
        return acc;
    });
}

void crc_flow_hash(benchmark::State& state) {
    const Tuples& t = tuples();
    run(state, [&](std::size_t first) {
        std::uint32_t acc = 0;
        for (std::size_t i = first; i < first + kBatch; ++i)
            acc ^= flow::FourTupleCrcHash{}(t.tuples[i]);
        return acc;
    });
}

std::array<std::uint64_t, RssModel::kKeyLength> gfni_matrices() {
    std::array<std::uint64_t, RssModel::kKeyLength> m{};
    rte_thash_complete_matrix(m.data(), engine_model().key().data(), RssModel::kKeyLength);
    return m;
}

void thash_gfni(benchmark::State& state) {
    const Tuples& t = tuples();
    const auto matrices = gfni_matrices();
    run(state, [&](std::size_t first) {
        return gfni::hash_each(matrices.data(), t.network_bytes[first].data(), kBatch,
                               sizeof t.network_bytes[0], kTupleBytes);
    });
}

void thash_gfni_bulk(benchmark::State& state) {
    const Tuples& t = tuples();
    const auto matrices = gfni_matrices();
    std::uint8_t* const* pointers = t.network_pointers.data();
    run(state, [&](std::size_t first) {
        std::array<std::uint32_t, kBatch> hashes;
        gfni::hash_bulk(matrices.data(), const_cast<std::uint8_t**>(pointers + first),
                        hashes.data(), kBatch, kTupleBytes);
        std::uint32_t acc = 0;
        for (std::uint32_t h : hashes)
            acc ^= h;
        return acc;
    });
}

// Empty when rte_thash_gfni can run here and agrees with rte_softrss on every tuple.
std::string gfni_unavailable_reason() {
    if (!gfni::compiled())
        return "the compiler lacks one of -mgfni -mavx512{f,bw,dq,vl,vbmi}";
    for (const auto flag : {RTE_CPUFLAG_GFNI, RTE_CPUFLAG_AVX512F, RTE_CPUFLAG_AVX512BW,
                            RTE_CPUFLAG_AVX512DQ, RTE_CPUFLAG_AVX512VL, RTE_CPUFLAG_AVX512VBMI}) {
        if (rte_cpu_get_flag_enabled(flag) <= 0)
            return std::string("this CPU lacks ") + rte_cpu_get_flag_name(flag);
    }
    const Tuples& t = tuples();
    const auto matrices = gfni_matrices();
    const RssModel& model = engine_model();
    for (std::size_t i = 0; i < kTuples; ++i) {
        const FourTuple& f = t.tuples[i];
        const std::uint32_t expected =
            model.hash(f.remote_ip, f.local_ip, f.remote_port, f.local_port);
        if (gfni::hash_each(matrices.data(), t.network_bytes[i].data(), 1, 0, kTupleBytes) !=
            expected) {
            return "rte_thash_gfni disagrees with rte_softrss";
        }
    }
    return {};
}

}  // namespace

void register_toeplitz_benchmarks() {
    with_min(benchmark::RegisterBenchmark("toeplitz/rss_model_hash", rss_model_hash));
    with_min(benchmark::RegisterBenchmark("toeplitz/rte_softrss", plain_softrss));
    const std::string why_not = gfni_unavailable_reason();
    // The Debian library is built for baseline x86-64: its own check says 0 even on a GFNI CPU.
    benchmark::AddCustomContext("rte_thash_gfni_supported",
                                std::to_string(rte_thash_gfni_supported()));
    benchmark::AddCustomContext("toeplitz_gfni",
                                why_not.empty() ? "usable" : "unavailable: " + why_not);
    if (why_not.empty()) {
        with_min(benchmark::RegisterBenchmark("toeplitz/rte_thash_gfni", thash_gfni));
        with_min(benchmark::RegisterBenchmark("toeplitz/rte_thash_gfni_bulk", thash_gfni_bulk));
    }
    with_min(benchmark::RegisterBenchmark("toeplitz/crc32c_flow_hash", crc_flow_hash));
}

}  // namespace sluice::bench
