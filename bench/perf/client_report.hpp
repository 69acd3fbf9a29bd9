// The client's "result" line, the same fields for both stacks (each may add its own after them):
//
//   result unit=transactions|bytes rate=<units per second> units=N seconds=S cpu=<% of a core>
//          errors=N [samples=N p50=ns p90=ns p99=ns p999=ns max=ns]
#pragma once

#include "bench/perf/histogram.hpp"
#include "bench/perf/load_meter.hpp"
#include "bench/perf/protocol.hpp"
#include "bench/perf/workload.hpp"

namespace sluice::perf {

inline MessageWriter client_result(const LoadParams& params, const LoadMeter& meter,
                                   const LatencyHistogram& latency, std::uint64_t errors) {
    MessageWriter m("result");
    m.field("unit", params.workload == Workload::Stream ? "bytes" : "transactions")
        .field("rate", meter.rate())
        .field("units", meter.units())
        .field("seconds", meter.seconds())
        .field("cpu", meter.cpu_percent())
        .field("errors", errors);
    if (latency.count() > 0) {
        m.field("samples", latency.count())
            .field("p50", latency.percentile(0.50))
            .field("p90", latency.percentile(0.90))
            .field("p99", latency.percentile(0.99))
            .field("p999", latency.percentile(0.999))
            .field("max", latency.max());
    }
    return m;
}

}  // namespace sluice::perf
