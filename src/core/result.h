// Expected failures as values: a Result<T> holds either a T or an Error with a
// typed code and a message meant for a person (no absolute paths, no traces).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace kiln {

enum class ErrorCode {
    invalid_request,   // malformed or out-of-range input from a client or user
    not_found,         // a route, file or resource that does not exist
    model_not_found,   // a model name that resolves to nothing
    context_exceeded,  // prompt does not fit the context
    unavailable,       // busy, shutting down, queue full
    cancelled,         // the requester went away
    unauthorized,      // no API key, or a wrong one
    forbidden,         // a Host or Origin this server does not answer
    rate_limited,      // more requests than a key may make per minute
    io,                // file system or network failure
    internal,          // a bug or an unexpected library failure
};

const char * error_code_name(ErrorCode code);

struct Error {
    ErrorCode   code = ErrorCode::internal;
    std::string message;
    std::string param;  // the request field at fault, if any
};

inline Error make_error(ErrorCode code, std::string message, std::string param = {}) {
    return Error{code, std::move(message), std::move(param)};
}

template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error error) : v_(std::move(error)) {}

    bool ok() const { return std::holds_alternative<T>(v_); }
    explicit operator bool() const { return ok(); }

    T &       value() & { return std::get<T>(v_); }
    const T & value() const & { return std::get<T>(v_); }
    T &&      value() && { return std::get<T>(std::move(v_)); }
    T *       operator->() { return &std::get<T>(v_); }
    const T * operator->() const { return &std::get<T>(v_); }
    T &       operator*() & { return std::get<T>(v_); }
    const T & operator*() const & { return std::get<T>(v_); }
    T &&      operator*() && { return std::get<T>(std::move(v_)); }

    const Error & error() const { return std::get<Error>(v_); }

  private:
    std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
class [[nodiscard]] Status {
  public:
    Status() = default;
    Status(Error error) : error_(std::move(error)), ok_(false) {}

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error & error() const { return error_; }

  private:
    Error error_;
    bool  ok_ = true;
};

}  // namespace kiln

// KILN_TRY(auto x, expr): evaluates a Result expression; on error returns the
// Error from the enclosing function, else binds the value to the declaration.
#define KILN_CONCAT_INNER(a, b) a##b
#define KILN_CONCAT(a, b) KILN_CONCAT_INNER(a, b)
#define KILN_TRY(decl, expr)                                             \
    auto KILN_CONCAT(kiln_try_, __LINE__) = (expr);                      \
    if (!KILN_CONCAT(kiln_try_, __LINE__)) return KILN_CONCAT(kiln_try_, __LINE__).error(); \
    decl = std::move(*KILN_CONCAT(kiln_try_, __LINE__))

// KILN_CHECK(expr): evaluates a Status expression; on error returns it from
// the enclosing function.
#define KILN_CHECK(expr)                                                  \
    do {                                                                  \
        if (auto kiln_check_ = (expr); !kiln_check_) return kiln_check_.error(); \
    } while (0)
