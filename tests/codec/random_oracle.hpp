// Shared by the random-schema oracle test and its generated parts.
#ifndef JOBWATCH_TESTS_CODEC_RANDOM_ORACLE_HPP
#define JOBWATCH_TESTS_CODEC_RANDOM_ORACLE_HPP

#include <jobwatch/codec.hpp>

#include <map>
#include <string>
#include <string_view>

namespace jobwatch::test {

/// Whether the generated parser of one schema accepts a document.
using acceptor = bool (*)(std::string_view);
using acceptor_table = std::map<std::string, acceptor>;

template<class T>
bool accepts(std::string_view text)
{
    return jobwatch::parse<T>(text).has_value();
}

}  // namespace jobwatch::test

void register_random_part_0(jobwatch::test::acceptor_table& t);
void register_random_part_1(jobwatch::test::acceptor_table& t);
void register_random_part_2(jobwatch::test::acceptor_table& t);
void register_random_part_3(jobwatch::test::acceptor_table& t);
void register_random_part_4(jobwatch::test::acceptor_table& t);

#endif
