// What the runs measured, as a person reads it (the table), as a program reads it (JSON) and as a
// picture (a PNG drawn by gnuplot). One row per figure: rr, crr, stream at each MTU, and the
// latency percentiles; one column per stack; the ratio against the Linux baseline the issue's
// target names; the target and whether it was met.
#pragma once

#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bench/perf/perf_options.hpp"
#include "bench/perf/protocol.hpp"
#include "bench/perf/workload.hpp"

namespace sluice::perf {

struct RunSpec {
    Stack stack = Stack::Sluice;
    LoadParams load;
};

struct RunOutcome {
    bool ok = false;
    std::string failure;                       // why not, when not ok
    std::optional<Message> client;             // the client's "result" line
    std::optional<Message> server;             // the server's closing "server" line
    std::optional<double> server_cpu_percent;  // from /proc, over the window
    std::optional<int> server_exit;            // 128 + signal when a signal ended it
    // The cores' distance (core_distance.hpp) just before and just after the run, and how many
    // times it was made (more than once when the cores were far apart).
    std::optional<double> round_trip_before_ns;
    std::optional<double> round_trip_after_ns;
    unsigned attempts = 1;
};

struct Run {
    RunSpec spec;
    RunOutcome outcome;
};

// Facts about the machine and the settings, for the table's header and the JSON.
struct RunContext {
    std::string command;  // as typed
    std::string cpu_model;
    unsigned cores = 0;
    std::string kernel;
    double load_average = 0;  // one-minute, when the tool started
    std::string started_at;   // UTC, ISO 8601
    // The shortest round trip between the server's and the client's core measured over all runs:
    // the nearest placement the cores had (core_distance.hpp).
    std::optional<double> nearest_round_trip_ns;
};

// Whether the run was made with the cores farther apart than the nearest placement seen.
bool cores_were_far(const Run& run, const RunContext& context);

RunContext describe_machine(int argc, char** argv);

struct Cell {
    std::optional<double> value;
    const Run* run = nullptr;
};

struct Row {
    std::string key;    // stable, for JSON readers: "rr", "stream_mtu1500", "latency_p99_9"
    std::string label;  // for people
    std::string unit;
    bool lower_is_better = false;
    std::map<Stack, Cell> cells;
    std::optional<Stack> baseline;  // the ratio compares Sluice with this stack
    std::optional<double> ratio;    // > 1: Sluice is better
    std::string target;             // the target, or ""
    std::optional<bool> target_met;
};

std::vector<Row> build_rows(const PerfOptions& options, const std::vector<Run>& runs);

void print_table(std::FILE* out, const PerfOptions& options, const RunContext& context,
                 const std::vector<Row>& rows, const std::vector<Run>& runs);

Status<std::string> write_json(const std::string& path, const PerfOptions& options,
                               const RunContext& context, const std::vector<Row>& rows,
                               const std::vector<Run>& runs);

// Writes the data and the gnuplot script into `work_dir` and runs gnuplot.
Status<std::string> draw_chart(const std::string& png_path, const std::string& work_dir,
                               const PerfOptions& options, const std::vector<Row>& rows);

// Sluice's send and receive buffer per connection in these runs.
std::uint32_t sluice_buffer(const PerfOptions& options);

// "1.23 M", "456.7 k", "12.3": three significant digits with an SI prefix.
std::string human_number(double value);

}  // namespace sluice::perf
