// libFuzzer target: parse<job_event> of arbitrary bytes must never crash,
// leak or hit undefined behaviour, and whatever it accepts must survive
// to_json and parse again unchanged.
#include <jobwatch/messages/job_event.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    std::string_view const text{reinterpret_cast<char const*>(data), size};
    auto r = jobwatch::parse<jobwatch::job_event>(text);
    if (!r) {
        // An error always names a place: a JSON Pointer is "" or starts with '/'.
        if (!r.error().path.empty() && r.error().path.front() != '/')
            std::abort();
        return 0;
    }
    auto const written = jobwatch::to_json(*r);
    auto again = jobwatch::parse<jobwatch::job_event>(written);
    if (!again || !(*again == *r))
        std::abort();
    return 0;
}
