#ifndef JOBWATCH_TESTS_TEST_PATHS_HPP
#define JOBWATCH_TESTS_TEST_PATHS_HPP

// Where the tests find their data: the build folder is the test executable's
// own folder, the source folder is written beside it by CMake. Read at run
// time rather than compiled in, so no object file depends on where the
// checkout lies and ccache reuses them from another clone.

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace jobwatch::test {

inline std::filesystem::path binary_dir()
{
    return std::filesystem::read_symlink("/proc/self/exe").parent_path();
}

inline std::filesystem::path source_dir()
{
    static std::filesystem::path const dir = [] {
        auto const file = binary_dir() / "jobwatch_source_dir.txt";
        std::ifstream in(file);
        std::string line;
        if (!std::getline(in, line) || line.empty())
            throw std::runtime_error("cannot read the source folder from " + file.string());
        return std::filesystem::path(line);
    }();
    return dir;
}

} // namespace jobwatch::test

#endif
