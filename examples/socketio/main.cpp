// A Socket.IO backend moved to jobwatch without touching its frontend: the
// frontend keeps calling io(url + '/campaigns', {auth: {token}}), emitting
// join_campaign / leave_campaign with {campaignId} and listening for
// campaign:status and job-completed (docs/socketio.md). Workers publish job
// events with run_id = the campaign's id (POST /api/v1/events, or BullMQ).
// Namespace "/" still speaks the native mapping, and /ws, SSE and REST are
// there as in every jobwatch server.
// [snippet:socketio-campaigns]
#include <jobwatch/jobwatch.hpp>

#include <iostream>

namespace {

// The payload views: what the old backend emitted, computed from jobwatch's typed messages.
std::optional<jobwatch::gw::sio_emit> campaign_view(jobwatch::gw::sio_message const& m)
{
    namespace json = boost::json;
    if (auto const* s = m.as_summary) {  // the summary of room run:{campaignId}
        json::object by_queue;
        for (auto const& [queue, c] : s->by_queue)
            by_queue[queue] = {{"total", c.total}, {"succeeded", c.succeeded}, {"failed", c.failed},
                               {"queued", c.queued}, {"running", c.running}};
        auto const& n = s->counts;
        auto const id = m.room.substr(m.room.find(':') + 1);
        return jobwatch::gw::sio_emit{
            "campaign:status",
            {{"runId", id},
             {"campaignId", id},
             {"status", n.queued + n.running > 0 ? "running" : "completed"},
             {"metrics", {{"totalJobs", n.total},
                          {"succeededJobs", n.succeeded},
                          {"failedJobs", n.failed},
                          {"queuedJobs", n.queued},
                          {"runningJobs", n.running},
                          {"cancelledJobs", n.cancelled},
                          {"successRate", s->success_rate},
                          {"byQueue", std::move(by_queue)},
                          {"totalExecutions", s->executions},
                          {"avgLatencyMs", s->latency.avg_ms}}},
             {"updatedAt", s->updated_at}}};
    }
    if (auto const* done = m.as_event ? std::get_if<jobwatch::job_completed>(m.as_event) : nullptr)
        return jobwatch::gw::sio_emit{"job-completed",
                                      {{"jobId", done->job_id},
                                       {"result", done->result.value_or(nullptr)},
                                       {"processingTime", done->duration_ms.value_or(0.0)}}};
    return std::nullopt;  // other messages are not emitted on /campaigns
}

}  // namespace

int main(int argc, char** argv)
{
    jobwatch::app app{jobwatch::load_config(argc, argv)};
    app.add<jobwatch::aggregator>({.interval = std::chrono::seconds{1}});
    app.add<jobwatch::health>();
    auto& gw = app.add<jobwatch::gateway>(
        {.socketio_namespaces = {{.name = "/campaigns",
                                  .joins = {{"join_campaign", "run:{campaignId}"}},
                                  .leaves = {{"leave_campaign", "run:{campaignId}"}},
                                  .emits = {},
                                  .view = campaign_view}}});
    std::cout << "listening " << gw.port() << std::endl;
    return app.run();
}
// [end:socketio-campaigns]
