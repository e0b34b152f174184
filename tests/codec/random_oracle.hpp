// Shared by the random-schema oracle test and its generated parts.
#ifndef JOBWATCH_TESTS_CODEC_RANDOM_ORACLE_HPP
#define JOBWATCH_TESTS_CODEC_RANDOM_ORACLE_HPP

#include <jobwatch/codec.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace jobwatch::test {

/// What the generated parser of one schema does with a document.
enum class decision
{
    rejected,
    accepted,
    /// parse<T> (fast path first) and the DOM path alone disagree.
    paths_disagree,
};
using acceptor = decision (*)(std::string_view);
using acceptor_table = std::map<std::string, acceptor>;

template<class T>
decision decide(std::string_view text)
{
    auto const both = jobwatch::parse<T>(text);
    boost::json::error_code ec;
    auto const jv = jobwatch::detail::parse_json(text, ec, {}, 64);
    auto const dom = ec ? std::nullopt : std::optional(jobwatch::parse_value<T>(jv));
    bool const dom_ok = dom && dom->has_value();
    if (both.has_value() != dom_ok || (dom_ok && !(**dom == *both)))
        return decision::paths_disagree;
    return both ? decision::accepted : decision::rejected;
}

}  // namespace jobwatch::test

void register_random_part_0(jobwatch::test::acceptor_table& t);
void register_random_part_1(jobwatch::test::acceptor_table& t);
void register_random_part_2(jobwatch::test::acceptor_table& t);
void register_random_part_3(jobwatch::test::acceptor_table& t);
void register_random_part_4(jobwatch::test::acceptor_table& t);

#endif
