// Flow lookup, hit and miss, for the per-worker 4-tuple table: rte_hash as FlowTable uses it, the
// same rte_hash looked up in bursts, and the purpose-built open-addressing index. The issue asks
// for the choice to be made by measurement, and for the measurement to stay.
//
// Run (release build, see bench/README.md):
//   build-bench/bench/flow_lookup_bench --benchmark_format=console --benchmark_out=flow.json
// Sizes: --flows=1000,1000000,10000000 (the default). Each size's tables are built once, before
// its first benchmark, and the build time is not measured.
//
// Variants, each timed over bursts of 32 lookups (the size of an rx burst) and reported per key
// in the per_lookup column:
//   rte_hash_lookup       rte_hash_lookup() per key, as FlowTable::find does, on an rte_hash made
//                         by create_flow_index (CRC hash, extendable buckets)
//   rte_hash_bulk32       rte_hash_lookup_bulk() on the same table, 32 keys per call
//   oa_find               OpenAddressingIndex::find() per key
//   oa_burst32_prefetch   the index used the way rx_pipeline would: hash the burst, prefetch every
//                         home bucket, then every candidate's key (the index keeps hashes and
//                         slots; keys live with the slots), then find_with_hash() (the fair
//                         partner of the bulk call, which pipelines its memory accesses the
//                         same way)
//
//   table_find_entry      FlowTable::find() and a read of the entry found (a TCB-sized struct), as
//                         the engine's receive path does: the index alone leaves out the entry's
//                         cache miss, which the engine pays either way
//
// Flows: a fixed local 172.16.0.1:80 and remote 10.x.y.z:port, every remote address different
// (a bijection of the flow number onto 10/8) and the port random. A miss is a stored flow's remote
// address with another port, so it hashes like a hit but is absent. Keys are looked up in a
// shuffled order, so at 10^6 and 10^7 flows most lookups miss the caches, as a server's would.
//
// EAL runs with --no-huge: memory is 4 KiB pages, so at 10^6 and more flows every variant pays
// TLB misses that a hugepage deployment would not. All tables come from the EAL heap alike.
// Peak EAL memory at 10^7 flows is about 1.2 GiB (rte_hash ~0.65 GiB, the index 0.55 GiB), within
// the -m 4096 given here.
#include <benchmark/benchmark.h>
#include <rte_eal.h>
#include <rte_hash.h>
#include <rte_malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/rte_hash_flow_index.hpp"
#include "dataplane/flow/flow_table.hpp"
#include "dataplane/flow/open_addressing_index.hpp"
#include "tests/support/start_eal.hpp"

namespace {

using sluice::flow::FourTuple;
using Index = sluice::flow::OpenAddressingIndex<>;

// As big as a TCB, its 4-tuple first: the engine reads the entry right after the lookup.
struct BenchEntry {
    FourTuple tuple;
    std::uint32_t generation = 0;
    std::byte rest[216];
};
using Table = sluice::flow::FlowTable<BenchEntry>;

constexpr std::size_t kBurst = 32;
constexpr std::uint32_t kLocalIp = 0xac100001;  // 172.16.0.1
constexpr std::uint16_t kLocalPort = 80;

// One size's flows and tables. Only one size is kept at a time: benchmarks are registered size by
// size, and 10^7 flows need most of the EAL memory.
struct Workload {
    std::uint32_t flows = 0;
    std::vector<FourTuple> hits;    // every stored flow once, shuffled, padded to a whole burst
    std::vector<FourTuple> misses;  // as many absent flows, likewise
    rte_hash* rte = nullptr;
    std::unique_ptr<Index> index;
    std::unique_ptr<Table> table;
    std::size_t rte_bytes = 0;
    std::size_t index_bytes = 0;

    Workload() = default;
    Workload(const Workload&) = delete;
    Workload& operator=(const Workload&) = delete;
    ~Workload() { rte_hash_free(rte); }
};

std::unique_ptr<Workload> g_workload;

[[noreturn]] void fail(const std::string& why) {
    std::fprintf(stderr, "flow_lookup_bench: %s\n", why.c_str());
    std::exit(1);
}

std::size_t heap_bytes() {
    rte_malloc_socket_stats stats{};
    rte_malloc_get_socket_stats(0, &stats);  // --no-huge: all memory is on socket 0
    return stats.heap_allocsz_bytes;
}

std::uint16_t random_port(std::mt19937_64& rng) {
    return static_cast<std::uint16_t>(1024 + rng() % (65536 - 1024));
}

// Shuffled, then padded with its own first keys to a multiple of the burst, so that the timed
// loop never has to wrap inside a burst.
std::vector<FourTuple> lookup_order(std::vector<FourTuple> keys, std::mt19937_64& rng) {
    std::shuffle(keys.begin(), keys.end(), rng);
    const std::size_t n = keys.size();
    for (std::size_t i = 0; keys.size() % kBurst != 0; ++i)
        keys.push_back(keys[i % n]);
    return keys;
}

std::unique_ptr<Workload> build(std::uint32_t flows) {
    if (flows == 0 || flows > (1U << 24))
        fail("--flows must be in [1, 2^24] (distinct 10/8 remotes)");
    auto w = std::make_unique<Workload>();
    w->flows = flows;
    std::mt19937_64 rng(flows);
    std::vector<FourTuple> stored(flows), absent(flows);
    for (std::uint32_t i = 0; i < flows; ++i) {
        // An odd multiplier is a bijection mod 2^24: distinct, scattered remote addresses.
        const std::uint32_t remote = 0x0a000000 | ((i * 2654435761U) & 0xffffff);
        const std::uint16_t port = random_port(rng);
        std::uint16_t other = random_port(rng);
        while (other == port)
            other = random_port(rng);
        stored[i] = FourTuple{kLocalIp, remote, kLocalPort, port};
        absent[i] = FourTuple{kLocalIp, remote, kLocalPort, other};
    }

    // What each table takes from the EAL heap, printed with the build time.
    const std::size_t heap_before = heap_bytes();
    std::string error;
    w->rte = sluice::flow::create_flow_index("bench_flows_" + std::to_string(flows), flows, error);
    if (w->rte == nullptr)
        fail(error);
    w->rte_bytes = heap_bytes() - heap_before;
    auto index = Index::create("bench_index", flows);
    if (!index)
        fail(index.error());
    w->index = std::move(index).value();
    w->index_bytes = heap_bytes() - heap_before - w->rte_bytes;

    auto table = Table::create("bench_table", flows);
    if (!table)
        fail(table.error());
    w->table = std::move(table).value();

    // Insertion in flow order, as connections would arrive; lookups come in another order.
    for (const FourTuple& k : stored) {
        BenchEntry* e = w->table->insert(k);
        if (e == nullptr)
            fail("the flow table refused a flow");
        e->tuple = k;
        e->generation = 1;
        if (rte_hash_add_key(w->rte, &k) < 0)
            fail("rte_hash is full before " + std::to_string(flows));
        if (w->index->insert(k) == Index::kNoSlot)
            fail("the index refused a flow");
    }
    for (std::uint32_t i = 0; i < flows; ++i) {
        if (rte_hash_lookup(w->rte, &stored[i]) < 0 || w->index->find(stored[i]) == Index::kNoSlot)
            fail("a stored flow is not found");
        if (rte_hash_lookup(w->rte, &absent[i]) >= 0 || w->index->find(absent[i]) != Index::kNoSlot)
            fail("an absent flow is found");
    }
    w->hits = lookup_order(std::move(stored), rng);
    w->misses = lookup_order(std::move(absent), rng);
    return w;
}

const Workload& workload(std::uint32_t flows) {
    if (!g_workload || g_workload->flows != flows) {
        g_workload.reset();  // free the previous size's tables first
        const auto start = std::chrono::steady_clock::now();
        g_workload = build(flows);
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
        std::fprintf(stderr,
                     "(%u flows: built and checked in %.1f s; EAL heap: rte_hash %.1f MiB, "
                     "index %.1f MiB)\n",
                     flows, took.count(), g_workload->rte_bytes / 1048576.0,
                     g_workload->index_bytes / 1048576.0);
    }
    return *g_workload;
}

enum class Probe { kHit, kMiss };

// Calls `burst_lookup(keys)` once per iteration on consecutive bursts of the lookup order; it
// returns something that depends on every result, so nothing is optimised away.
template <typename BurstLookup>
void run(benchmark::State& state, const std::vector<FourTuple>& order, BurstLookup burst_lookup) {
    std::size_t next = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(burst_lookup(&order[next]));
        next += kBurst;
        if (next == order.size())
            next = 0;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBurst));
    state.counters["per_lookup"] = benchmark::Counter(
        kBurst, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

const std::vector<FourTuple>& keys_for(const Workload& w, Probe probe) {
    return probe == Probe::kHit ? w.hits : w.misses;
}

void rte_hash_lookup_each(benchmark::State& state, std::uint32_t flows, Probe probe) {
    const Workload& w = workload(flows);
    rte_hash* const h = w.rte;
    run(state, keys_for(w, probe), [h](const FourTuple* keys) {
        std::int32_t acc = 0;
        for (std::size_t i = 0; i < kBurst; ++i)
            acc += rte_hash_lookup(h, &keys[i]);  // exactly FlowTable::find's call
        return acc;
    });
}

void rte_hash_bulk(benchmark::State& state, std::uint32_t flows, Probe probe) {
    const Workload& w = workload(flows);
    rte_hash* const h = w.rte;
    run(state, keys_for(w, probe), [h](const FourTuple* keys) {
        const void* pointers[kBurst];
        std::int32_t positions[kBurst];
        for (std::size_t i = 0; i < kBurst; ++i)
            pointers[i] = &keys[i];
        rte_hash_lookup_bulk(h, pointers, kBurst, positions);
        std::int32_t acc = 0;
        for (std::int32_t p : positions)
            acc += p;
        return acc;
    });
}

void oa_find(benchmark::State& state, std::uint32_t flows, Probe probe) {
    const Workload& w = workload(flows);
    const Index* const index = w.index.get();
    run(state, keys_for(w, probe), [index](const FourTuple* keys) {
        std::uint32_t acc = 0;
        for (std::size_t i = 0; i < kBurst; ++i)
            acc += index->find(keys[i]);
        return acc;
    });
}

void oa_burst_prefetch(benchmark::State& state, std::uint32_t flows, Probe probe) {
    const Workload& w = workload(flows);
    const Index* const index = w.index.get();
    run(state, keys_for(w, probe), [index](const FourTuple* keys) {
        std::uint32_t hashes[kBurst];
        for (std::size_t i = 0; i < kBurst; ++i) {
            hashes[i] = index->hash(keys[i]);
            index->prefetch(hashes[i]);
        }
        for (std::size_t i = 0; i < kBurst; ++i)
            index->prefetch_key(hashes[i]);
        std::uint32_t acc = 0;
        for (std::size_t i = 0; i < kBurst; ++i)
            acc += index->find_with_hash(keys[i], hashes[i]);
        return acc;
    });
}

// What the engine's receive path does: find the connection, then read its TCB.
void table_find_entry(benchmark::State& state, std::uint32_t flows, Probe probe) {
    const Workload& w = workload(flows);
    Table* const table = w.table.get();
    run(state, keys_for(w, probe), [table](const FourTuple* keys) {
        std::uint32_t acc = 0;
        for (std::size_t i = 0; i < kBurst; ++i) {
            if (const BenchEntry* e = table->find(keys[i]))
                acc += e->generation;
        }
        return acc;
    });
}

// "--flows=1000,1000000" from the command line, removed from argv; the default otherwise.
std::vector<std::uint32_t> take_flow_sizes(int& argc, char** argv) {
    std::vector<std::uint32_t> sizes = {1000, 1000000, 10000000};
    const std::string flag = "--flows=";
    for (int i = 1; i < argc; ++i) {
        if (std::strncmp(argv[i], flag.c_str(), flag.size()) != 0)
            continue;
        sizes.clear();
        std::string list = argv[i] + flag.size();
        for (std::size_t start = 0; start <= list.size();) {
            const std::size_t comma = std::min(list.find(',', start), list.size());
            sizes.push_back(static_cast<std::uint32_t>(
                std::strtoul(list.substr(start, comma - start).c_str(), nullptr, 10)));
            start = comma + 1;
        }
        std::copy(argv + i + 1, argv + argc, argv + i);
        --argc;
        --i;
    }
    return sizes;
}

void init_eal(const char* program) {
    if (!sluice::test::start_eal(program, "sluice-flows", 4096))
        fail("cannot start EAL (run as root)");
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    const std::vector<std::uint32_t> sizes = take_flow_sizes(argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    init_eal(argv[0]);

    struct Variant {
        const char* name;
        void (*fn)(benchmark::State&, std::uint32_t, Probe);
    };
    const Variant variants[] = {{"rte_hash_lookup", rte_hash_lookup_each},
                                {"rte_hash_bulk32", rte_hash_bulk},
                                {"oa_find", oa_find},
                                {"oa_burst32_prefetch", oa_burst_prefetch},
                                {"table_find_entry", table_find_entry}};
    for (std::uint32_t flows : sizes) {
        for (const Variant& v : variants) {
            for (Probe probe : {Probe::kHit, Probe::kMiss}) {
                const std::string name = std::string(v.name) +
                                         (probe == Probe::kHit ? "/hit/" : "/miss/") +
                                         std::to_string(flows);
                benchmark::RegisterBenchmark(name.c_str(), v.fn, flows, probe);
            }
        }
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    g_workload.reset();
    rte_eal_cleanup();
    return 0;
}
