// The one command: plans a run for each workload over each stack (and each MTU for stream), runs
// them one after the other (for each: the server on its core, then the client on its own, the
// client's progress shown as it comes), then prints the table and writes the JSON and the chart.
//
// Everything it makes is removed on every way out: the veth lab's namespaces (veth_lab.hpp), the
// memif sockets, EAL's runtime directories, its work directory and its children (which also stop
// by themselves if it dies: child_process.hpp).
#pragma once

#include "bench/perf/perf_options.hpp"

namespace sluice::perf {

// Returns the exit status: 0 when every run produced its figures, 1 when some did not (the table
// and the JSON still show the rest), 2 for a set-up problem, 130 when interrupted.
int run_orchestrator(const PerfOptions& options, int argc, char** argv);

}  // namespace sluice::perf
