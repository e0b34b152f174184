// Reading the oracle corpora (tests/oracle/): one JSON object per line.
#ifndef JOBWATCH_TESTS_CODEC_CORPUS_HPP
#define JOBWATCH_TESTS_CODEC_CORPUS_HPP

#include <string>
#include <string_view>

namespace jobwatch::test {

/// The document bytes of a corpus line's `doc_hex`.
inline std::string from_hex(std::string_view hex)
{
    std::string out;
    out.reserve(hex.size() / 2);
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    return out;
}

}  // namespace jobwatch::test

#endif
