// A program outside jobwatch that uses the installed package: jobwatch's own
// message types, and its own schema generated with jobwatch_generate().
// [snippet:consumer-main]
#include <jobwatch/messages/job_event.hpp>
#include <shop_events/order_shipped.hpp>

#include <iostream>

int main()
{
    auto order = jobwatch::parse<shop::events::order_shipped>(
        R"({"type":"order.shipped","order_id":"A-17","carrier":"dhl","parcels":2,"note":null})");
    if (!order) {
        std::cerr << order.error().path << ": " << order.error().message << '\n';
        return 1;
    }
    std::cout << jobwatch::to_json(*order) << '\n';

    auto bad = jobwatch::parse<shop::events::order_shipped>(
        R"({"type":"order.shipped","order_id":"A-17","carrier":"fedex","parcels":2})");
    std::cout << bad.error().path << ": " << bad.error().message << '\n';  // /carrier: must be one of ...

    jobwatch::job_event ev = jobwatch::job_progress{.job_id = "A-17", .queue = "shipping", .percent = 50};
    std::cout << jobwatch::to_json(ev) << '\n';
    return bad ? 1 : 0;
}
// [end:consumer-main]
