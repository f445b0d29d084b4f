#pragma once
// Expected<T, E>: a value or an error, with std::expected's member names
// (C++23) so that moving to <expected> later is an alias. g++ 12 in C++20
// mode and clang-14 with libstdc++ cannot use <expected>.
//
// Only what tapir uses is here: has_value/operator bool, value, error,
// operator*/->, value_or, and Expected<void, E>. Accessing the wrong
// alternative is a broken invariant and aborts with file:line.

#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <utility>
#include <variant>

namespace tapir {

[[noreturn]] inline void expected_misuse(const char* what) {
  std::fprintf(stderr, "tapir: %s:%d: Expected misuse: %s\n", __FILE__, __LINE__, what);
  std::abort();
}

template <class E>
class Unexpected {
 public:
  constexpr explicit Unexpected(E e) : error_(std::move(e)) {}
  constexpr const E& error() const& noexcept { return error_; }
  constexpr E&& error() && noexcept { return std::move(error_); }

 private:
  E error_;
};

template <class E>
Unexpected(E) -> Unexpected<E>;

template <class E>
constexpr Unexpected<std::decay_t<E>> unexpected(E&& e) {
  return Unexpected<std::decay_t<E>>(std::forward<E>(e));
}

template <class T, class E>
class [[nodiscard]] Expected {
 public:
  using value_type = T;
  using error_type = E;

  constexpr Expected()
    requires std::is_default_constructible_v<T>
      : v_(std::in_place_index<0>) {}
  template <class U = T>
    requires std::is_constructible_v<T, U&&> &&
             (!std::is_same_v<std::remove_cvref_t<U>, Expected>) &&
             (!std::is_same_v<std::remove_cvref_t<U>, Unexpected<E>>)
  constexpr Expected(U&& v) : v_(std::in_place_index<0>, std::forward<U>(v)) {}  // NOLINT
  template <class G>
  constexpr Expected(const Unexpected<G>& u) : v_(std::in_place_index<1>, u.error()) {}  // NOLINT
  template <class G>
  constexpr Expected(Unexpected<G>&& u)  // NOLINT
      : v_(std::in_place_index<1>, std::move(u).error()) {}

  constexpr bool has_value() const noexcept { return v_.index() == 0; }
  constexpr explicit operator bool() const noexcept { return has_value(); }

  constexpr T& value() & {
    if (!has_value()) expected_misuse("value() on an error");
    return *std::get_if<0>(&v_);
  }
  constexpr const T& value() const& {
    if (!has_value()) expected_misuse("value() on an error");
    return *std::get_if<0>(&v_);
  }
  constexpr T&& value() && {
    if (!has_value()) expected_misuse("value() on an error");
    return std::move(*std::get_if<0>(&v_));
  }
  constexpr const E& error() const& {
    if (has_value()) expected_misuse("error() on a value");
    return *std::get_if<1>(&v_);
  }
  constexpr E&& error() && {
    if (has_value()) expected_misuse("error() on a value");
    return std::move(*std::get_if<1>(&v_));
  }

  constexpr T& operator*() & { return value(); }
  constexpr const T& operator*() const& { return value(); }
  constexpr T&& operator*() && { return std::move(*this).value(); }
  constexpr T* operator->() { return &value(); }
  constexpr const T* operator->() const { return &value(); }

  template <class U>
  constexpr T value_or(U&& fallback) const& {
    return has_value() ? *std::get_if<0>(&v_) : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, E> v_;
};

template <class E>
class [[nodiscard]] Expected<void, E> {
 public:
  using value_type = void;
  using error_type = E;

  constexpr Expected() = default;
  template <class G>
  constexpr Expected(const Unexpected<G>& u) : err_(u.error()), ok_(false) {}  // NOLINT
  template <class G>
  constexpr Expected(Unexpected<G>&& u) : err_(std::move(u).error()), ok_(false) {}  // NOLINT

  constexpr bool has_value() const noexcept { return ok_; }
  constexpr explicit operator bool() const noexcept { return ok_; }
  constexpr void value() const {
    if (!ok_) expected_misuse("value() on an error");
  }
  constexpr const E& error() const& {
    if (ok_) expected_misuse("error() on a value");
    return err_;
  }

 private:
  E err_{};
  bool ok_ = true;
};

}  // namespace tapir
