#ifndef JOBWATCH_SCHEMA_VALIDATOR_HPP
#define JOBWATCH_SCHEMA_VALIDATOR_HPP

/** @file
    A JSON Schema validator for schemas loaded at run time (users' own event
    types), deciding as the generated parsers do: the same subset of draft
    2020-12 as jobwatch-codegen, the same refusals, the same order of checks,
    and errors with the same JSON Pointers and wording.

    @code
    auto v = jobwatch::schema::compile(boost::json::parse(schema_text));
    if (!v) log(v.error().path, v.error().message);   // a pointer into the schema
    if (auto e = v->validate(event)) reject(e->path, e->message);
    @endcode

    The supported keywords are those of docs/schemas.md, "What the generator supports":
    `type` (one or a list, `null` included), `properties`, `required`,
    `additionalProperties` (false, true or a schema), `items`, `enum`, `const`,
    `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf`,
    `minLength`, `maxLength` (code points), `minItems`, `maxItems`, `pattern`
    (ECMA-262), `format` (`date-time` checked, others annotations), `$ref` to
    `#/$defs/...` or `#`, `oneOf`/`anyOf` of `$ref`s tagged by a `const`
    property, `minContains`/`maxContains` (inert without `contains`), and the
    annotations (`title`, `description`, `default`, `examples`, `$comment`,
    ...). Keywords whose name starts with `x-` are extensions and are ignored
    (`x-cpp-type` is checked as the generator checks it). Everything else is
    refused when the schema is compiled.
*/

#include <boost/json/value.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace jobwatch::schema {

/** @brief What was wrong: in a schema (`compile`) or in a document (`validate`). */
struct error
{
    std::string path;     ///< JSON Pointer (RFC 6901) of the offending value; "" is the root
    std::string message;  ///< what was wrong, in words
};

/** @brief A `T`, or an `error`; the shape of `jobwatch::parse_result`. */
template <class T> class result
{
public:
    result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    result(schema::error e) : v_(std::in_place_index<1>, std::move(e)) {}

    explicit operator bool() const noexcept { return v_.index() == 0; }
    bool has_value() const noexcept { return v_.index() == 0; }

    T& operator*() & { return std::get<0>(v_); }
    T const& operator*() const& { return std::get<0>(v_); }
    T&& operator*() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &std::get<0>(v_); }
    T const* operator->() const { return &std::get<0>(v_); }

    /// Precondition: `!*this`.
    schema::error const& error() const { return std::get<1>(v_); }

private:
    std::variant<T, schema::error> v_;
};

/** @brief Bounds that keep compiling and validating finite and shallow. */
struct limits
{
    /// Deepest nesting of arrays and objects in a schema document, and deepest
    /// chain of subschemas (each `$ref` followed counts as one more level).
    std::size_t max_schema_depth = 64;
    /// Deepest nesting of arrays and objects in a validated document (as
    /// `jobwatch::parse_options::max_depth`).
    std::size_t max_instance_depth = 64;
};

namespace detail {
struct graph;
}  // namespace detail

/** @brief A compiled schema; made by `compile`.

    @par Thread Safety
    Immutable once compiled: `validate` may be called from any number of
    threads at once, and copies share the compiled form.
*/
class validator
{
public:
    /** @brief Checks `instance`; nothing when it is valid.

        On failure, `path` is the JSON Pointer of the first offending value
        (members in document order, as the generated parsers report it) and
        `message` says what was wrong, in the generated parsers' words
        (`missing required property "job_id"`, `expected integer, got string`,
        `must be <= 100`, `unknown property`, `must be one of "a", "b"`). A
        document nested deeper than `limits::max_instance_depth` is refused
        before any schema check.
    */
    std::optional<error> validate(boost::json::value const& instance) const;

    /// The limits the schema was compiled with.
    limits const& get_limits() const noexcept;

private:
    friend result<validator> compile(boost::json::value const& schema, limits const& lim);
    explicit validator(std::shared_ptr<detail::graph const> g) : g_(std::move(g)) {}

    std::shared_ptr<detail::graph const> g_;
};

/** @brief Compiles a schema document (draft 2020-12, the generator's subset).

    Refuses, with the JSON Pointer into the schema and the generator's
    wording, every keyword the generator refuses (`allOf`, `not`, `if`,
    `patternProperties`, ...), keywords it does not know, `$ref`s that do not
    resolve or point outside the document or at anything but a `$defs` entry
    or the root, recursive references, patterns that are not ECMA-262 or that
    `std::regex` cannot carry over, and schemas nested deeper than
    `lim.max_schema_depth`.
*/
result<validator> compile(boost::json::value const& schema, limits const& lim = {});

}  // namespace jobwatch::schema

#include <jobwatch/schema/impl/validator.hpp>

#endif
