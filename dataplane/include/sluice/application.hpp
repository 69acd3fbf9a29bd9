// A program on Sluice: its main() makes an Application, registers its services and hooks, and
// calls run(), which does all that the `sluice` binary does (the same options, config file,
// workers, control plane, telemetry and sluicectl). docs/sdk.md tells the whole shape.
//
// Threads: Application is used from main() only. A WorkerContext belongs to one worker and is
// used only on that worker's thread (from a callback, a timer, a message or on_worker_start);
// none of it is thread-safe and none of it takes a lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include <sluice/addresses.hpp>
#include <sluice/connection.hpp>
#include <sluice/result.hpp>
#include <sluice/time.hpp>

namespace sluice {

class WorkerContext;

// Work carried to a worker (a message) or kept for later (a timer): a trivially copyable callable
// of at most kTaskBytes bytes, copied whole, so neither allocates.
inline constexpr std::size_t kTaskBytes = 48;

class Task {
  public:
    Task() = default;
    // `fn` is called as fn(WorkerContext&) on the worker that runs the task.
    template <typename F>
    static Task of(const F& fn) {
        static_assert(std::is_trivially_copyable_v<F> && std::is_trivially_destructible_v<F>,
                      "a task must be trivially copyable: capture values and pointers, not "
                      "std::string or std::function");
        static_assert(sizeof(F) <= kTaskBytes, "a task carries at most kTaskBytes bytes");
        static_assert(alignof(F) <= alignof(std::max_align_t), "over-aligned task");
        Task t;
        // memcpy of a trivially copyable type begins its lifetime in the bytes (C++20's
        // implicit object creation), copied with the task wherever it travels.
        t.run_ = [](WorkerContext& w, const std::byte* bytes) {
            (*std::launder(reinterpret_cast<const F*>(bytes)))(w);
        };
        std::memcpy(t.bytes_, static_cast<const void*>(&fn), sizeof(F));
        return t;
    }
    void operator()(WorkerContext& w) const { run_(w, bytes_); }
    explicit operator bool() const { return run_ != nullptr; }

  private:
    void (*run_)(WorkerContext&, const std::byte*) = nullptr;
    alignas(std::max_align_t) std::byte bytes_[kTaskBytes]{};
};

// An armed timer, for cancel(). Zero is never a timer.
using TimerId = std::uint64_t;

// One worker as the program sees it. Made by the engine, one per worker, alive as long as it.
class WorkerContext {
  public:
    virtual ~WorkerContext() = default;

    // This worker's number, 0 to count() - 1, and how many there are.
    virtual unsigned id() const = 0;
    virtual unsigned count() const = 0;
    // Connections are numbered by slot, 0 to connection_slots() - 1, on each worker: per-connection
    // state can live in an array indexed by Connection::slot().
    virtual std::uint32_t connection_slots() const = 0;

    // Opens a connection from this worker. The handler gets on_connected (or on_closed with
    // CloseReason::Refused or TimedOut) and must live until its on_closed has returned.
    // Errors: EINVAL (a zero, multicast or broadcast address, or port 0), EADDRNOTAVAIL (no
    // local port free on this worker), ENOBUFS (every connection slot is taken). An address
    // that never answers ARP, or a peer that never answers, ends in on_closed(TimedOut).
    virtual Result<api::Connection, api::Errno> connect(Ipv4Address ip, std::uint16_t port,
                                                        api::ConnectionHandler* handler) = 0;

    // Runs `fn(WorkerContext&)` on worker `to` (this one included) in a later turn of its loop, in
    // the order sent. Errors: EAGAIN (the ring to that worker is full: retry later, or fail the
    // request), EINVAL (no such worker).
    //
    // Messages one worker's ring to another holds (1023 up to 8 workers, fewer with more): a
    // program that keeps fewer than this in flight towards a worker never meets EAGAIN.
    virtual unsigned message_capacity() const = 0;
    template <typename F>
    Status<api::Errno> send_to(unsigned to, const F& fn) {
        return post(to, Task::of(fn));
    }
    // Runs `fn(WorkerContext&)` once on this worker after `delay` (to the loop's granularity; a
    // delay of zero runs in the next turn). Errors: EAGAIN (timer_capacity timers are armed).
    template <typename F>
    Result<TimerId, api::Errno> after(Nanos delay, const F& fn) {
        return arm(delay, Task::of(fn));
    }
    // Stops a timer that has not run; false when it already ran or was cancelled.
    virtual bool cancel(TimerId id) = 0;

    // The worker's clock: the time of this loop turn.
    virtual Nanos now() const = 0;

    // Asks the engine to stop at the end of this turn; Application::run() returns `status` (the
    // first one asked for) for main() to return.
    virtual void stop(int status) = 0;

    virtual Status<api::Errno> post(unsigned to, const Task& task) = 0;
    virtual Result<TimerId, api::Errno> arm(Nanos delay, const Task& task) = 0;

    // The worker's TCP, opaque to a program: what api::Sockets is built over.
    virtual tcp::TcpStack& tcp_stack() = 0;
};

// Makes a service's handler for one worker. Called once per worker when the service is installed:
// before the workers start for --serve and the config file, or on the control thread for
// `sluicectl listen`, so it must only build the handler, not call into the worker. The handler
// lives as long as the engine.
using ServiceFactory = std::function<std::unique_ptr<api::ListenHandler>(WorkerContext&)>;

class Application {
  public:
    // `name` prefixes the program's messages ("kv: --workers: ...").
    explicit Application(std::string name);
    ~Application();
    Application(const Application&) = delete;
    Application& operator=(const Application&) = delete;

    // Offers a service by name to --serve NAME:PORT, the config file's serve = NAME:PORT and
    // `sluicectl listen NAME:PORT`. Names are letters, digits, '-' and '_', and unique; the
    // built-in echo, discard, source and http are already registered. Returns a message when
    // the name is taken or malformed.
    Status<std::string> add_service(std::string name, std::string summary, ServiceFactory factory);

    // Runs on each worker's thread before its first loop turn: where a client opens its
    // connections and arms its timers.
    void on_worker_start(std::function<void(WorkerContext&)> hook);

    // Lines appended to `--help` under the engine's own usage (the program's own words).
    void set_help(std::string text);

    // A program's own arguments: `PROGRAM [EAL options] -- [engine options] -- [its own]`, what
    // follows the second "--" (run() leaves them alone). Empty when there are none.
    static std::vector<std::string> program_arguments(int argc, char** argv);

    // Everything `sluice [EAL options] -- [engine options]` does: parses (refusing a bad option
    // with a message before EAL starts), starts the engine, runs it until SIGINT, SIGTERM,
    // --duration or WorkerContext::stop(), prints the counters, and returns the exit status for
    // main(): 0, the status given to stop(), 1 when the engine's own client failed or start-up
    // failed, 2 for bad options.
    int run(int argc, char** argv);

  private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace sluice
