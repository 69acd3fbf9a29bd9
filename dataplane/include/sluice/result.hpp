// A value or an error, as returned by parsers on the fast path (error = a DropReason) and by
// start-up code (error = a message for the operator). C++23's std::expected, in the small.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace sluice {

template <typename E>
struct Unexpected {
    E error;
};
template <typename E>
Unexpected(E) -> Unexpected<E>;

template <typename T, typename E>
class [[nodiscard]] Result {
  public:
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
    // Builds the value where the result lives: a parser filling in a large header this way
    // writes it once, instead of building it aside and copying it in (a store-forwarding stall
    // on every segment; bench/micro segment_path).
    template <typename... Args>
    explicit Result(std::in_place_t, Args&&... args)
        : state_(std::in_place_index<0>, std::forward<Args>(args)...) {}
    template <typename F>
    Result(Unexpected<F> u) : state_(std::in_place_index<1>, E(std::move(u.error))) {}  // NOLINT

    bool has_value() const { return state_.index() == 0; }
    explicit operator bool() const { return has_value(); }

    T& value() & { return std::get<0>(state_); }
    const T& value() const& { return std::get<0>(state_); }
    T&& value() && { return std::get<0>(std::move(state_)); }
    const E& error() const { return std::get<1>(state_); }

    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

  private:
    std::variant<T, E> state_;
};

// A result with no value: success, or an error.
template <typename E>
class [[nodiscard]] Status {
  public:
    Status() = default;
    template <typename F>
    Status(Unexpected<F> u) : error_(E(std::move(u.error))), ok_(false) {}  // NOLINT: implicit

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const E& error() const { return error_; }

  private:
    E error_{};
    bool ok_ = true;
};

}  // namespace sluice
