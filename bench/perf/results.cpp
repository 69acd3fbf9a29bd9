#include "bench/perf/results.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <cmath>
#include <ctime>
#include <fstream>
#include <sstream>

#include "bench/perf/child_process.hpp"
#include "bench/perf/core_distance.hpp"
#include "dataplane/tcp/config.hpp"

namespace sluice::perf {

namespace {

struct LatencyFigure {
    const char* field;  // in the client's result line, nanoseconds
    const char* key;
    const char* label;
    const char* target;
    double target_us;  // 0: none
};

constexpr LatencyFigure kLatencyFigures[] = {
    {"p50", "latency_p50", "latency p50", "<= 5 us", 5},
    {"p90", "latency_p90", "latency p90", "", 0},
    {"p99", "latency_p99", "latency p99", "", 0},
    {"p999", "latency_p99_9", "latency p99.9", "<= 20 us", 20},
    {"max", "latency_max", "latency max", "", 0},
};

Row make_row(std::string key, std::string label, std::string unit) {
    Row row;
    row.key = std::move(key);
    row.label = std::move(label);
    row.unit = std::move(unit);
    return row;
}

const Run* find_run(const std::vector<Run>& runs, Workload w, Stack s,
                    std::optional<std::uint16_t> mtu) {
    for (const Run& r : runs) {
        if (r.spec.load.workload == w && r.spec.stack == s && (!mtu || r.spec.load.mtu == *mtu))
            return &r;
    }
    return nullptr;
}

std::optional<double> client_number(const Run* run, const char* field) {
    if (run == nullptr || !run->outcome.ok || !run->outcome.client)
        return std::nullopt;
    return run->outcome.client->number(field);
}

std::string format_value(const Row& row, double v) {
    char buffer[32];
    if (row.unit == "us") {
        std::snprintf(buffer, sizeof buffer, v < 100 ? "%.1f" : "%.0f", v);
        return buffer;
    }
    if (row.unit == "Gbit/s") {
        std::snprintf(buffer, sizeof buffer, "%.2f", v);
        return buffer;
    }
    return human_number(v);
}

std::string cell_text(const Row& row, Stack s, const PerfOptions& options,
                      const RunContext& context) {
    bool asked = false;
    for (Stack a : options.stacks)
        asked = asked || a == s;
    const auto it = row.cells.find(s);
    if (!asked || it == row.cells.end() || it->second.run == nullptr)
        return "-";
    if (!it->second.run->outcome.ok)
        return "failed";
    if (!it->second.value)
        return "?";
    // Marked when even the last attempt was made with the cores far apart (the notes say more).
    return format_value(row, *it->second.value) +
           (cores_were_far(*it->second.run, context) ? "*" : "");
}

std::string json_escape(const std::string& s) {
    std::string out = "\"";
    for (const char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buffer[8];
                    std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
                    out += buffer;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

std::string json_number(std::optional<double> v) {
    if (!v || !std::isfinite(*v))
        return "null";
    char buffer[40];
    std::snprintf(buffer, sizeof buffer, "%.10g", *v);
    return buffer;
}

std::string json_fields(const Message& m) {
    std::string out = "{";
    bool first = true;
    for (const auto& [key, value] : m.fields) {
        out += (first ? "" : ", ") + json_escape(key) + ": ";
        first = false;
        const auto n = m.number(key);
        out += n ? json_number(n) : json_escape(value);
    }
    return out + "}";
}

std::string seconds_text(std::chrono::nanoseconds d) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%g", std::chrono::duration<double>(d).count());
    return buffer;
}

}  // namespace

bool cores_were_far(const Run& run, const RunContext& context) {
    return context.nearest_round_trip_ns &&
           run_cores_far_apart(run.outcome.round_trip_before_ns, run.outcome.round_trip_after_ns,
                               *context.nearest_round_trip_ns);
}

std::uint32_t sluice_buffer(const PerfOptions& options) {
    return options.sluice_buffer != 0 ? options.sluice_buffer : tcp::TcpConfig{}.send_buffer;
}

std::string human_number(double value) {
    const char* prefix = "";
    double v = value;
    if (std::fabs(v) >= 1e9) {
        v /= 1e9;
        prefix = " G";
    } else if (std::fabs(v) >= 1e6) {
        v /= 1e6;
        prefix = " M";
    } else if (std::fabs(v) >= 1e3) {
        v /= 1e3;
        prefix = " k";
    }
    char buffer[32];
    std::snprintf(buffer, sizeof buffer,
                  std::fabs(v) >= 100  ? "%.0f%s"
                  : std::fabs(v) >= 10 ? "%.1f%s"
                                       : "%.2f%s",
                  v, prefix);
    return buffer;
}

RunContext describe_machine(int argc, char** argv) {
    RunContext c;
    for (int i = 0; i < argc; ++i) {
        if (i > 0)
            c.command += ' ';
        c.command += argv[i];
    }
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
            c.cpu_model = line.substr(line.find(':') + 2);
            break;
        }
    }
    c.cores = static_cast<unsigned>(sysconf(_SC_NPROCESSORS_ONLN));
    utsname u{};
    if (uname(&u) == 0)
        c.kernel = std::string(u.sysname) + " " + u.release;
    std::ifstream loadavg("/proc/loadavg");
    loadavg >> c.load_average;
    const std::time_t now = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    c.started_at = stamp;
    return c;
}

std::vector<Row> build_rows(const PerfOptions& options, const std::vector<Run>& runs) {
    std::vector<Row> rows;
    const auto fill = [&](Row& row, Workload w, std::optional<std::uint16_t> mtu,
                          const auto& value_of) {
        for (Stack s : options.stacks) {
            // Loopback's MTU is its own (65536): its one stream run stands in the first MTU's row.
            std::optional<std::uint16_t> wanted = mtu;
            if (s == Stack::LinuxLoopback && w == Workload::Stream) {
                if (mtu && *mtu != options.mtus.front())
                    continue;
                wanted.reset();
            }
            const Run* run = find_run(runs, w, s, wanted);
            row.cells[s] = Cell{value_of(run), run};
        }
        if (!row.baseline)
            return;
        const auto sluice = row.cells.find(Stack::Sluice);
        const auto base = row.cells.find(*row.baseline);
        if (sluice == row.cells.end() || base == row.cells.end() || !sluice->second.value ||
            !base->second.value || *sluice->second.value <= 0 || *base->second.value <= 0) {
            return;
        }
        row.ratio = row.lower_is_better ? *base->second.value / *sluice->second.value
                                        : *sluice->second.value / *base->second.value;
    };
    const auto rate = [](const Run* run) { return client_number(run, "rate"); };
    // rr and crr: a rate per server core against Linux loopback, with a floor and a ratio.
    const auto rate_row = [&](Workload w, const std::string& key, const std::string& unit,
                              const std::string& target, double min_rate, double min_ratio) {
        Row row = make_row(key, key, unit);
        row.baseline = Stack::LinuxLoopback;
        fill(row, w, options.mtus.front(), rate);
        row.target = target;
        if (row.cells.count(Stack::Sluice) && row.cells[Stack::Sluice].value && row.ratio) {
            row.target_met = *row.cells[Stack::Sluice].value >= min_rate && *row.ratio >= min_ratio;
        }
        rows.push_back(row);
    };

    for (Workload w : options.workloads) {
        switch (w) {
            case Workload::Rr:
                rate_row(w, "rr", "transactions/s", ">= 1 M/s and >= 8x lo", 1e6, 8);
                break;
            case Workload::Crr:
                rate_row(w, "crr", "connections/s", ">= 300 k/s and >= 15x lo", 3e5, 15);
                break;
            case Workload::Stream:
                for (std::uint16_t mtu : options.mtus) {
                    Row row = make_row("stream_mtu" + std::to_string(mtu),
                                       "stream, MTU " + std::to_string(mtu), "Gbit/s");
                    row.baseline = Stack::LinuxVeth;
                    fill(row, w, mtu, [](const Run* run) -> std::optional<double> {
                        const auto bytes_per_second = client_number(run, "rate");
                        if (!bytes_per_second)
                            return std::nullopt;
                        return *bytes_per_second * 8 / 1e9;
                    });
                    if (mtu == 1500) {
                        row.target = ">= 2x veth";
                        if (row.ratio)
                            row.target_met = *row.ratio >= 2;
                    }
                    rows.push_back(row);
                }
                break;
            case Workload::Latency:
                for (const LatencyFigure& f : kLatencyFigures) {
                    Row row = make_row(f.key, f.label, "us");
                    row.lower_is_better = true;
                    row.baseline = Stack::LinuxLoopback;
                    fill(row, w, options.mtus.front(),
                         [&f](const Run* run) -> std::optional<double> {
                             const auto ns = client_number(run, f.field);
                             if (!ns)
                                 return std::nullopt;
                             return *ns / 1000;
                         });
                    row.target = f.target;
                    if (f.target_us > 0 && row.cells.count(Stack::Sluice) &&
                        row.cells[Stack::Sluice].value) {
                        row.target_met = *row.cells[Stack::Sluice].value <= f.target_us;
                    }
                    rows.push_back(row);
                }
                break;
        }
    }
    return rows;
}

void print_table(std::FILE* out, const PerfOptions& options, const RunContext& context,
                 const std::vector<Row>& rows, const std::vector<Run>& runs) {
    const LoadParams& p = options.load;
    std::fprintf(out,
                 "\nsluice-perf: %s, %u cores, %s; load average %.2f at the start (cores "
                 "shared with whatever else runs)\n",
                 context.cpu_model.c_str(), context.cores, context.kernel.c_str(),
                 context.load_average);
    std::fprintf(out,
                 "  each run: %s s warm-up, then %s s measured; servers pinned to core %u, "
                 "clients to core %u\n",
                 seconds_text(p.warmup).c_str(), seconds_text(p.duration).c_str(),
                 options.server_core, options.client_core);
    std::fprintf(out,
                 "  rr: %u connections, %u-byte requests and responses, %u outstanding per "
                 "connection; crr: %u connections at once, %u bytes each way\n",
                 p.connections, p.size, p.pipeline, options.crr_connections, p.size);
    std::fprintf(out,
                 "  stream: %u connection(s), server to client, %u-byte sends; latency: 1 "
                 "connection, 1 outstanding, %u bytes each way\n",
                 options.stream_connections, p.write_size, p.size);
    std::fprintf(out,
                 "  Sluice: two processes joined by net_memif (EAL --no-huge; zero-copy on the "
                 "client's side), %u-byte send and receive buffers per connection%s; TCP "
                 "checksums %s%s\n",
                 sluice_buffer(options), options.sluice_buffer == 0 ? " (the default)" : "",
                 std::string(tcp_checksums_name(options.sluice_checksums)).c_str(),
                 options.sluice_checksums == TcpChecksums::Off
                     ? " (neither summed nor checked, as Linux does over lo and veth)"
                     : "");
    std::fprintf(out,
                 "  Linux: epoll, non-blocking sockets, TCP_NODELAY, buffers autotuned; over "
                 "127.0.0.1 and over a veth pair between two namespaces\n");
    if (context.nearest_round_trip_ns) {
        std::fprintf(out,
                     "  cores %u and %u: a cache line's round trip between them, measured before "
                     "and after each run, was %.0f ns at the nearest; a run with either over "
                     "twice that was made again, up to %u times (--placement-retries)\n",
                     options.server_core, options.client_core, *context.nearest_round_trip_ns,
                     options.placement_retries);
    }
    std::fprintf(out, "\n");

    std::fprintf(out, "%-18s %-15s %11s %11s %11s  %-12s %s\n", "workload", "unit", "Sluice",
                 "Linux lo", "Linux veth", "ratio", "target");
    for (const Row& row : rows) {
        std::string ratio = "-";
        if (row.ratio) {
            char buffer[32];
            std::snprintf(buffer, sizeof buffer, "%.2fx %s", *row.ratio,
                          *row.baseline == Stack::LinuxLoopback ? "lo" : "veth");
            ratio = buffer;
        }
        std::string target = row.target;
        if (!target.empty())
            target += row.target_met ? (*row.target_met ? ": met" : ": missed") : ": n/a";
        std::fprintf(out, "%-18s %-15s %11s %11s %11s  %-12s %s\n", row.label.c_str(),
                     row.unit.c_str(), cell_text(row, Stack::Sluice, options, context).c_str(),
                     cell_text(row, Stack::LinuxLoopback, options, context).c_str(),
                     cell_text(row, Stack::LinuxVeth, options, context).c_str(), ratio.c_str(),
                     target.c_str());
    }
    std::fprintf(out,
                 "\n  ratio: Sluice over the Linux baseline the target names (for latency, "
                 "the baseline over Sluice): above 1, Sluice is ahead\n");
    std::fprintf(out,
                 "  Linux lo keeps its own MTU (65536) for stream; it stands in the first "
                 "MTU's row\n");
    for (const Run& r : runs) {
        if (cores_were_far(r, context)) {
            std::fprintf(out,
                         "  *: made with the cores far apart (the hypervisor's placement), even "
                         "after retries: see the notes\n");
            break;
        }
    }

    // Is the client the bottleneck? Linux: its CPU time over the window. Sluice polls, so its
    // CPU is always a whole core; what counts is how much of the loop found work.
    std::fprintf(out,
                 "\nload over the measured window, %% of one core (Sluice: share of the poll "
                 "loop's time on turns that received packets)\n");
    std::fprintf(out, "%-18s %13s %13s %13s %13s %13s %13s\n", "run", "Sluice client",
                 "Sluice server", "lo client", "lo server", "veth client", "veth server");
    for (Workload w : options.workloads) {
        std::vector<std::uint16_t> mtus{options.mtus.front()};
        if (w == Workload::Stream)
            mtus = options.mtus;
        for (std::uint16_t mtu : mtus) {
            std::string label(workload_name(w));
            if (w == Workload::Stream) {
                label += ' ';
                label += std::to_string(mtu);
            }
            std::string cells[6];
            int i = 0;
            for (Stack s : kAllStacks) {
                const Run* run = find_run(runs, w, s,
                                          s == Stack::LinuxLoopback && w == Workload::Stream
                                              ? std::optional<std::uint16_t>{}
                                              : std::optional<std::uint16_t>{mtu});
                if (s == Stack::LinuxLoopback && w == Workload::Stream &&
                    mtu != options.mtus.front())
                    run = nullptr;
                std::string client = "-";
                std::string server = "-";
                if (run != nullptr && run->outcome.ok) {
                    char buffer[32];
                    const char* client_field = s == Stack::Sluice ? "busy" : "cpu";
                    if (const auto v = client_number(run, client_field)) {
                        std::snprintf(buffer, sizeof buffer, "%.0f %%", *v);
                        client = buffer;
                    }
                    std::optional<double> sv;
                    if (s == Stack::Sluice && run->outcome.server)
                        sv = run->outcome.server->number("window_busy");
                    else
                        sv = run->outcome.server_cpu_percent;
                    if (sv) {
                        std::snprintf(buffer, sizeof buffer, "%.0f %%", *sv);
                        server = buffer;
                    }
                }
                cells[i++] = client;
                cells[i++] = server;
            }
            std::fprintf(out, "%-18s %13s %13s %13s %13s %13s %13s\n", label.c_str(),
                         cells[0].c_str(), cells[1].c_str(), cells[2].c_str(), cells[3].c_str(),
                         cells[4].c_str(), cells[5].c_str());
        }
    }

    // What went wrong, and anything unusual the counters say.
    bool header = false;
    for (const Run& r : runs) {
        std::string note;
        const auto add = [&note](const std::string& text) {
            if (!note.empty())
                note += ", ";
            note += text;
        };
        // Counts worth a look when they are not zero; drops by reason come as "drop.<reason>".
        const auto add_counts = [&add](const Message& m, const std::string& side) {
            for (const auto& [key, value] : m.fields) {
                const bool wanted = key == "errors" || key == "retransmits" ||
                                    key == "connect_failures" || key.starts_with("drop.");
                const auto n = m.number(key);
                if (wanted && n && *n > 0)
                    add(side + " " + key + " " + std::to_string(static_cast<std::uint64_t>(*n)));
            }
        };
        if (!r.outcome.ok) {
            note = "failed: " + r.outcome.failure;
        } else {
            if (r.outcome.client)
                add_counts(*r.outcome.client, "client");
            if (r.outcome.server)
                add_counts(*r.outcome.server, "server");
            if (r.outcome.attempts > 1 || cores_were_far(r, context)) {
                char text[160];
                std::snprintf(text, sizeof text,
                              "made %u time%s, the cores %s at the last (round trip %.0f ns "
                              "before, %.0f after)",
                              r.outcome.attempts, r.outcome.attempts > 1 ? "s" : "",
                              cores_were_far(r, context) ? "still far apart" : "near each other",
                              r.outcome.round_trip_before_ns.value_or(0),
                              r.outcome.round_trip_after_ns.value_or(0));
                add(text);
            }
            if (r.outcome.server_exit && *r.outcome.server_exit != 0) {
                add("server exit status " + std::to_string(*r.outcome.server_exit) +
                    (*r.outcome.server_exit > 128 ? " (killed by a signal)" : ""));
            }
        }
        if (note.empty())
            continue;
        if (!header) {
            std::fprintf(out, "\nnotes:\n");
            header = true;
        }
        std::fprintf(out, "  %s over %s (MTU %u): %s\n",
                     std::string(workload_name(r.spec.load.workload)).c_str(),
                     std::string(stack_name(r.spec.stack)).c_str(), r.spec.load.mtu, note.c_str());
    }
    std::fflush(out);
}

Status<std::string> write_json(const std::string& path, const PerfOptions& options,
                               const RunContext& context, const std::vector<Row>& rows,
                               const std::vector<Run>& runs) {
    const LoadParams& p = options.load;
    std::ostringstream j;
    j << "{\n";
    j << "  \"tool\": \"sluice-perf\",\n";
    j << "  \"command\": " << json_escape(context.command) << ",\n";
    j << "  \"started_at\": " << json_escape(context.started_at) << ",\n";
    j << "  \"machine\": {\"cpu_model\": " << json_escape(context.cpu_model)
      << ", \"cores\": " << context.cores << ", \"kernel\": " << json_escape(context.kernel)
      << ", \"load_average_1min\": " << json_number(context.load_average)
      << ", \"nearest_core_round_trip_ns\": " << json_number(context.nearest_round_trip_ns)
      << "},\n";
    j << "  \"settings\": {\n";
    j << "    \"warmup_seconds\": " << json_number(std::chrono::duration<double>(p.warmup).count())
      << ", \"duration_seconds\": "
      << json_number(std::chrono::duration<double>(p.duration).count()) << ",\n";
    j << "    \"server_core\": " << options.server_core
      << ", \"client_core\": " << options.client_core << ",\n";
    j << "    \"rr\": {\"connections\": " << p.connections << ", \"size\": " << p.size
      << ", \"pipeline\": " << p.pipeline << "},\n";
    j << "    \"crr\": {\"connections\": " << options.crr_connections << ", \"size\": " << p.size
      << "},\n";
    j << "    \"stream\": {\"connections\": " << options.stream_connections
      << ", \"write_size\": " << p.write_size << ", \"mtus\": [";
    for (std::size_t i = 0; i < options.mtus.size(); ++i)
        j << (i ? ", " : "") << options.mtus[i];
    j << "]},\n";
    j << "    \"latency\": {\"connections\": 1, \"pipeline\": 1, \"size\": " << p.size << "},\n";
    j << "    \"sluice_buffer\": " << sluice_buffer(options) << ",\n";
    j << "    \"sluice_tcp_checksums\": \"" << tcp_checksums_name(options.sluice_checksums)
      << "\",\n";
    j << "    \"stacks\": {\"sluice\": \"two processes joined by net_memif (zero-copy on the "
         "client's side), EAL --no-huge, one worker each\", \"linux-lo\": \"epoll, non-blocking "
         "sockets, TCP_NODELAY over "
         "127.0.0.1\", \"linux-veth\": \"the same over a veth pair between two namespaces\"}\n";
    j << "  },\n";
    j << "  \"rows\": [\n";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const Row& row = rows[i];
        j << "    {\"key\": " << json_escape(row.key) << ", \"label\": " << json_escape(row.label)
          << ", \"unit\": " << json_escape(row.unit)
          << ", \"lower_is_better\": " << (row.lower_is_better ? "true" : "false")
          << ", \"values\": {";
        bool first = true;
        for (Stack s : options.stacks) {
            const auto it = row.cells.find(s);
            if (it == row.cells.end())
                continue;
            j << (first ? "" : ", ") << json_escape(std::string(stack_name(s))) << ": "
              << json_number(it->second.value);
            first = false;
        }
        j << "}, \"baseline\": "
          << (row.baseline ? json_escape(std::string(stack_name(*row.baseline))) : "null")
          << ", \"ratio\": " << json_number(row.ratio)
          << ", \"target\": " << json_escape(row.target) << ", \"target_met\": "
          << (row.target_met ? (*row.target_met ? "true" : "false") : "null") << "}"
          << (i + 1 < rows.size() ? "," : "") << "\n";
    }
    j << "  ],\n";
    j << "  \"runs\": [\n";
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const Run& r = runs[i];
        j << "    {\"workload\": " << json_escape(std::string(workload_name(r.spec.load.workload)))
          << ", \"stack\": " << json_escape(std::string(stack_name(r.spec.stack)))
          << ", \"mtu\": " << r.spec.load.mtu
          << ", \"connections\": " << r.spec.load.effective_connections()
          << ", \"ok\": " << (r.outcome.ok ? "true" : "false");
        if (!r.outcome.ok)
            j << ", \"failure\": " << json_escape(r.outcome.failure);
        if (r.outcome.client)
            j << ", \"client\": " << json_fields(*r.outcome.client);
        if (r.outcome.server)
            j << ", \"server\": " << json_fields(*r.outcome.server);
        j << ", \"core_round_trip_ns\": {\"before\": "
          << json_number(r.outcome.round_trip_before_ns)
          << ", \"after\": " << json_number(r.outcome.round_trip_after_ns)
          << "}, \"attempts\": " << r.outcome.attempts
          << ", \"cores_far_apart\": " << (cores_were_far(r, context) ? "true" : "false");
        j << ", \"server_cpu_percent\": " << json_number(r.outcome.server_cpu_percent)
          << ", \"server_exit\": "
          << (r.outcome.server_exit ? std::to_string(*r.outcome.server_exit) : "null") << "}"
          << (i + 1 < runs.size() ? "," : "") << "\n";
    }
    j << "  ]\n}\n";

    std::ofstream file(path);
    file << j.str();
    file.close();
    if (!file)
        return Unexpected{"cannot write " + path};
    return {};
}

Status<std::string> draw_chart(const std::string& png_path, const std::string& work_dir,
                               const PerfOptions& options, const std::vector<Row>& rows) {
    struct Panel {
        std::string file;
        std::string title;
        bool log_scale;
        std::vector<const Row*> rows;
    };
    std::vector<Panel> panels;
    const auto panel_for = [&](const std::string& file, const std::string& title,
                               bool log_scale) -> Panel& {
        for (Panel& p : panels) {
            if (p.file == file)
                return p;
        }
        panels.push_back(Panel{file, title, log_scale, {}});
        return panels.back();
    };
    const LoadParams& p = options.load;
    for (const Row& row : rows) {
        if (row.key == "rr") {
            panel_for("rr.dat",
                      "rr: transactions/s (C=" + std::to_string(p.connections) + ", S=" +
                          std::to_string(p.size) + " B, P=" + std::to_string(p.pipeline) + ")",
                      false)
                .rows.push_back(&row);
        } else if (row.key == "crr") {
            panel_for("crr.dat",
                      "crr: connections/s (" + std::to_string(options.crr_connections) +
                          " at once, S=" + std::to_string(p.size) + " B)",
                      false)
                .rows.push_back(&row);
        } else if (row.key.rfind("stream", 0) == 0) {
            panel_for("stream.dat",
                      "stream: Gbit/s, server to client (Linux lo at its own MTU, 65536)", false)
                .rows.push_back(&row);
        } else {
            panel_for("latency.dat",
                      "latency: us per round trip (C=1, P=1, S=" + std::to_string(p.size) +
                          " B; log scale)",
                      true)
                .rows.push_back(&row);
        }
    }
    if (panels.empty())
        return {};

    for (const Panel& panel : panels) {
        std::ofstream data(work_dir + "/" + panel.file);
        data << "# label sluice linux-lo linux-veth\n";
        for (const Row* row : panel.rows) {
            std::string label = row->label;
            if (label.rfind("latency ", 0) == 0)
                label = label.substr(8);
            data << '"' << label << '"';
            for (Stack s : kAllStacks) {
                const auto it = row->cells.find(s);
                if (it == row->cells.end() || !it->second.value) {
                    data << " -";
                } else {
                    data << ' ' << *it->second.value;
                }
            }
            data << "\n";
        }
    }

    const int columns = panels.size() > 1 ? 2 : 1;
    const int lines = static_cast<int>((panels.size() + 1) / 2);
    std::ofstream script(work_dir + "/chart.gp");
    script << "set terminal pngcairo size " << 700 * columns << "," << 450 * lines
           << " font 'sans,10'\n";
    script << "set output '" << png_path << "'\n";
    script << "set datafile missing '-'\n";
    script << "set style data histogram\n";
    script << "set style histogram clustered gap 1\n";
    script << "set style fill solid 0.85 border -1\n";
    script << "set boxwidth 0.9\n";
    script << "set key top left\n";
    script << "set grid ytics\n";
    script << "set multiplot layout " << lines << "," << columns
           << " title 'sluice-perf: Sluice (net\\_memif) against Linux TCP, server and client on "
              "one core each'\n";
    for (const Panel& panel : panels) {
        script << "set title '" << panel.title << "'\n";
        if (panel.log_scale) {
            script << "set logscale y\nset yrange [*:*]\nset format y '%g'\n";
        } else {
            script << "unset logscale y\nset yrange [0:*]\nset format y '%.1s%c'\n";
        }
        const std::string file = work_dir + "/" + panel.file;
        script << "plot '" << file << "' using 2:xtic(1) title 'Sluice' lc rgb '#1b9e77', "
               << "'' using 3 title 'Linux lo' lc rgb '#d95f02', "
               << "'' using 4 title 'Linux veth' lc rgb '#7570b3'\n";
    }
    script << "unset multiplot\n";
    script.close();
    return run_command({"gnuplot", work_dir + "/chart.gp"});
}

}  // namespace sluice::perf
