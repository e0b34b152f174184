// Durable history (storage.mode sqlite): a server restarted on its file answers
// as one that never stopped, clients resume across the restart, sync ingest is
// answered only once stored, and files that cannot be used stop the start clearly.
#include "gateway/gateway_support.hpp"

#include <jobwatch/storage/journal.hpp>

#include <sqlite3.h>
#include <sys/resource.h>
#include <csignal>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <regex>

namespace jobwatch::test {
namespace {

class StorageTest : public ::testing::Test
{
protected:
    void SetUp() override
    {
        dir_ = std::filesystem::temp_directory_path() /
               ("jobwatch-storage-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override
    {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    std::string db_path() const { return (dir_ / "history" / "jobwatch.db").string(); }

    config storage_config(storage_durability d = storage_durability::batch) const
    {
        auto c = test_server::default_config();
        c.storage.mode = storage_mode::sqlite;
        c.storage.path = db_path();
        c.storage.durability = d;
        return c;
    }

    std::filesystem::path dir_;
};

/// A read-only look into the journal file from outside the server.
class storage_peek
{
public:
    explicit storage_peek(std::string const& path)
    {
        if (::sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
            throw std::runtime_error("cannot open " + path);
    }
    ~storage_peek() { ::sqlite3_close(db_); }
    storage_peek(storage_peek const&) = delete;
    storage_peek& operator=(storage_peek const&) = delete;

    /// The first column of the first row of `sql`, with ?1 bound to `arg`.
    std::int64_t number(char const* sql, std::int64_t arg = 0)
    {
        sqlite3_stmt* st = nullptr;
        if (::sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK)
            throw std::runtime_error(std::string("prepare: ") + ::sqlite3_errmsg(db_));
        if (::sqlite3_bind_parameter_count(st) > 0)
            ::sqlite3_bind_int64(st, 1, arg);
        std::int64_t n = -1;
        if (::sqlite3_step(st) == SQLITE_ROW)
            n = ::sqlite3_column_int64(st, 0);
        ::sqlite3_finalize(st);
        return n;
    }
    sqlite3* handle() { return db_; }

private:
    sqlite3* db_ = nullptr;
};

/// A seeded stream of NDJSON lines over many jobs: every event type, retries,
/// reports out of order, repeated producer ids, three tenants (one of them none).
std::vector<std::string> storage_stream(std::size_t count, unsigned seed)
{
    std::mt19937 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    struct job
    {
        std::string id, queue, tenant;
        int step = 0, attempt = 1;
        bool done = false;
    };
    std::vector<job> jobs;
    std::vector<std::string> out;
    std::string last;
    int next_id = 0;
    while (out.size() < count) {
        if (jobs.empty() || pick(8) == 0) {
            static char const* const tenants[] = {"", "acme", "globex"};
            jobs.push_back({"j" + std::to_string(next_id++), "q" + std::to_string(pick(4)), tenants[pick(3)]});
        }
        auto& j = jobs[static_cast<std::size_t>(pick(static_cast<int>(jobs.size())))];
        std::string extra = j.tenant.empty() ? "" : R"("tenant_id":")" + j.tenant + "\",";
        extra += R"("id":"e)" + std::to_string(out.size()) + "\"";
        std::string line;
        int const s = j.step++;
        if (s == 0) {
            line = event_json("job.queued", j.id, j.queue, extra + R"(,"run_id":"r)" + std::to_string(pick(3)) + "\"");
        } else if (s == 1) {
            line = event_json("job.started", j.id, j.queue, extra + ",\"attempt\":" + std::to_string(j.attempt));
        } else if (s < 6) {
            line = pick(2) ? event_json("job.progress", j.id, j.queue,
                                        extra + ",\"percent\":" + std::to_string(s * 15 + pick(10)))
                           : event_json("job.log", j.id, j.queue,
                                        extra + R"(,"level":"info","message":"step )" + std::to_string(s) + "\"");
        } else {
            int const end = pick(10);
            if (end < 5) {
                line = event_json("job.completed", j.id, j.queue, extra);
            } else if (end < 8) {
                bool const retry = j.attempt < 3 && pick(2);
                line = event_json("job.failed", j.id, j.queue,
                                  extra + R"(,"error":"boom","attempt":)" + std::to_string(j.attempt) +
                                      ",\"will_retry\":" + (retry ? "true" : "false"));
                if (retry) {
                    ++j.attempt;
                    j.step = 1;
                }
            } else {
                line = event_json("job.cancelled", j.id, j.queue, extra);
            }
            if (j.step > 1)
                j.done = true;
        }
        if (pick(50) == 0 && !last.empty())
            out.push_back(last);  // a producer's retry: the same id again
        if (pick(50) == 0 && !out.empty())
            std::swap(line, out.back());  // two reports out of order
        out.push_back(line);
        last = out.back();
        if (j.done)
            std::erase_if(jobs, [](job const& x) { return x.done; });
    }
    out.resize(count);
    return out;
}

void post_lines(std::uint16_t port, std::vector<std::string> const& lines, std::size_t per_post = 1000)
{
    http_client h(port);
    for (std::size_t i = 0; i < lines.size(); i += per_post) {
        std::string body;
        for (std::size_t k = i; k < std::min(lines.size(), i + per_post); ++k)
            body += lines[k] + "\n";
        auto const r = h.post("/api/v1/events", body, "application/x-ndjson");
        ASSERT_EQ(r.status, 200u) << r.body;
    }
}

/// What the REST API answers about everything, as text: the same on a server that restarted.
std::map<std::string, std::string> storage_answers(std::uint16_t port)
{
    http_client h(port);
    std::map<std::string, std::string> out;
    std::vector<std::string> targets = {"/api/v1/jobs?limit=1000",
                                        "/api/v1/jobs?limit=1000&tenant_id=acme",
                                        "/api/v1/jobs?limit=1000&status=failed",
                                        "/api/v1/jobs/failed/recent?limit=1000",
                                        "/api/v1/jobs/failed/stats",
                                        "/api/v1/queues"};
    for (auto const* tenant : {"", "acme", "globex"})
        for (int run = 0; run < 3; ++run)
            targets.push_back("/api/v1/runs/r" + std::to_string(run) + "/summary?tenant_id=" + tenant);
    for (int i = 0; i < 400; i += 7) {
        auto const id = "j" + std::to_string(i);
        for (auto const* part : {"", "/logs", "/events"})
            targets.push_back("/api/v1/jobs/" + id + part + "?tenant_id=acme");
        targets.push_back("/api/v1/jobs/" + id);
    }
    // A summary's updated_at is when the aggregator computed it, not part of the
    // history: a restarted server computes its summaries again. Everything else counts.
    static std::regex const computed_at(R"("updated_at":"[^"]*")");
    for (auto const& t : targets) {
        auto const r = h.get(t);
        out[t] = std::to_string(r.status) + " " + std::regex_replace(r.body, computed_at, R"("updated_at":"")");
    }
    return out;
}

TEST_F(StorageTest, ARestartedServerAnswersAsOneThatNeverStopped)
{
    auto const lines = storage_stream(50'000, 20261206);
    std::map<std::string, std::string> before;
    std::uint64_t last_seq = 0;
    {
        test_server srv(storage_config());
        post_lines(srv.port(), lines);
        before = storage_answers(srv.port());
        last_seq = srv.on_core([&] { return srv.get_app().get_core().events().last_seq(); });
        ASSERT_GT(last_seq, 40'000u);
    }
    test_server again(storage_config());
    auto const after = storage_answers(again.port());
    for (auto const& [target, answer] : before)
        EXPECT_EQ(after.at(target), answer) << target;
    // Recovery is logged with what it found, and numbering continues.
    auto const log = again.log_lines();
    EXPECT_TRUE(std::any_of(log.begin(), log.end(), [&](std::string const& l) {
        return l.find("recovered ") != std::string::npos &&
               l.find("continues after " + std::to_string(last_seq)) != std::string::npos;
    })) << ::testing::PrintToString(log);
    http_client h(again.port());
    auto const r = h.post("/api/v1/events", event_json("job.queued", "after-restart", "q0"));
    ASSERT_EQ(r.status, 202u) << r.body;
    EXPECT_EQ(r.json().at("seq").to_number<std::uint64_t>(), last_seq + 1);
    // A producer's retry of an event from before the restart is still a duplicate.
    auto const dup = h.post("/api/v1/events", lines.back());
    EXPECT_NE(dup.body.find("\"duplicate\""), std::string::npos) << dup.body;
}

TEST_F(StorageTest, AClientResumesAcrossARestartWithExactlyWhatItMissed)
{
    std::int64_t seen = 0;
    {
        test_server srv(storage_config());
        auto ws = ws_client::open(srv.port());
        ASSERT_EQ(ws.subscribe("queue:resume").at("type").as_string(), "subscribed");
        http_client h(srv.port());
        for (int i = 0; i < 3; ++i)
            ASSERT_EQ(h.post("/api/v1/events", event_json("job.queued", "r" + std::to_string(i), "resume")).status,
                      202u);
        for (int i = 0; i < 3; ++i)
            seen = ws.read_until("event").at("seq").as_int64();
        // Missed by the client: two more before the server stops.
        for (int i = 3; i < 5; ++i)
            ASSERT_EQ(h.post("/api/v1/events", event_json("job.queued", "r" + std::to_string(i), "resume")).status,
                      202u);
    }
    test_server again(storage_config());
    auto ws = ws_client::open(again.port());
    auto const sub = ws.subscribe("queue:resume", seen);
    ASSERT_EQ(sub.at("type").as_string(), "subscribed") << boost::json::serialize(sub);
    EXPECT_FALSE(sub.contains("reset") && sub.at("reset").as_bool()) << boost::json::serialize(sub);
    std::vector<std::string> got;
    for (auto const& m : ws.skipped)
        if (m.at("type").as_string() == "event")
            got.emplace_back(m.at("event").at("job_id").as_string());
    while (got.size() < 2)
        got.emplace_back(ws.read_until("event").at("event").at("job_id").as_string());
    EXPECT_EQ(got, (std::vector<std::string>{"r3", "r4"}));
    // SSE resumes the same way (Last-Event-ID is the seq).
    sse_client sse(again.port(), "/api/v1/stream?room=queue:resume", std::to_string(seen + 1));
    auto const rec = sse.next_event();
    EXPECT_EQ(rec.data.at("event").at("job_id").as_string(), "r4") << boost::json::serialize(rec.data);
}

TEST_F(StorageTest, ARecordThatCannotBeReplayedIsSkippedAndItsNumberNeverGivenAgain)
{
    std::uint64_t last = 0;
    {
        test_server srv(storage_config());
        http_client h(srv.port());
        for (int i = 0; i < 5; ++i) {
            auto const r = h.post("/api/v1/events", event_json("job.queued", "k" + std::to_string(i), "skip"));
            ASSERT_EQ(r.status, 202u);
            last = r.json().at("seq").to_number<std::uint64_t>();
        }
    }
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(::sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
        auto const sql = "UPDATE journal SET body = '{not json' WHERE seq = " + std::to_string(last);
        ASSERT_EQ(::sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
        ::sqlite3_close(db);
    }
    test_server again(storage_config());
    // The next event takes the next number, not the skipped one's, and is stored.
    http_client h(again.port());
    auto const r = h.post("/api/v1/events", event_json("job.queued", "k-after", "skip"));
    ASSERT_EQ(r.status, 202u) << r.body;
    EXPECT_EQ(r.json().at("seq").to_number<std::uint64_t>(), last + 1);
    // (Answered: the replay is over, and it said what it skipped.)
    auto const log = again.log_lines();
    EXPECT_TRUE(std::any_of(log.begin(), log.end(), [&](std::string const& l) {
        return l.find("record " + std::to_string(last)) != std::string::npos &&
               l.find("skipped") != std::string::npos;
    })) << ::testing::PrintToString(log);
    storage_peek peek(db_path());
    auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
    while (peek.number("SELECT count(*) FROM journal WHERE seq = ?1", static_cast<std::int64_t>(last + 1)) != 1) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the event after the skipped record was not stored";
        std::this_thread::sleep_for(std::chrono::milliseconds{50});
    }
}

TEST_F(StorageTest, SyncIngestIsAnsweredOnlyOnceTheEventIsInTheFile)
{
    test_server srv(storage_config(storage_durability::sync));
    http_client h(srv.port());
    storage_peek peek(db_path());
    auto rows_with = [&](std::uint64_t seq) {
        return peek.number("SELECT count(*) FROM journal WHERE seq = ?1", static_cast<std::int64_t>(seq));
    };
    for (int i = 0; i < 20; ++i) {
        auto const r = h.post("/api/v1/events", event_json("job.queued", "s" + std::to_string(i), "sync"));
        ASSERT_EQ(r.status, 202u) << r.body;
        EXPECT_EQ(rows_with(r.json().at("seq").to_number<std::uint64_t>()), 1) << i;
    }
    std::string batch;
    for (int i = 0; i < 50; ++i)
        batch += event_json("job.queued", "b" + std::to_string(i), "sync") + "\n";
    auto const r = h.post("/api/v1/events", batch, "application/x-ndjson");
    ASSERT_EQ(r.status, 200u) << r.body;
    auto const last = srv.on_core([&] { return srv.get_app().get_core().events().last_seq(); });
    EXPECT_EQ(rows_with(last), 1);
    // A consistent copy while it runs, from another connection: a complete database.
    auto const copy = (dir_ / "backup.db").string();
    ASSERT_EQ(::sqlite3_exec(peek.handle(), ("VACUUM INTO '" + copy + "'").c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK)
        << ::sqlite3_errmsg(peek.handle());
    storage_peek backup(copy);
    EXPECT_EQ(backup.number("SELECT max(seq) FROM journal"), static_cast<std::int64_t>(last));
    EXPECT_EQ(backup.number("SELECT count(*) FROM journal"), 70);
}

TEST_F(StorageTest, AFullDiskRefusesIngestWith503UntilItCanWriteAgain)
{
    test_server srv(storage_config(storage_durability::sync));
    http_client h(srv.port());
    std::vector<std::uint64_t> acknowledged;
    auto post = [&](int i) {
        auto const r = h.post("/api/v1/events",
                              event_json("job.log", "full", "disk",
                                         R"("level":"info","message":")" + std::string(2000, 'x') + "-" +
                                             std::to_string(i) + "\""));
        if (r.status == 202u)
            acknowledged.push_back(r.json().at("seq").to_number<std::uint64_t>());
        return r;
    };
    ASSERT_EQ(h.post("/api/v1/events", event_json("job.queued", "full", "disk")).status, 202u);
    // The disk fills: no file of this process may grow past a few hundred KiB.
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit old{};
    ::getrlimit(RLIMIT_FSIZE, &old);
    rlimit small = old;
    small.rlim_cur = 512 * 1024;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    struct restore
    {
        rlimit lim;
        ~restore()
        {
            ::setrlimit(RLIMIT_FSIZE, &lim);
            std::signal(SIGXFSZ, SIG_DFL);
        }
    } restore_on_exit{old};
    http_reply refused;
    for (int i = 0; i < 1000 && refused.status != 503u; ++i)
        if (auto r = post(i); r.status != 202u)
            refused = r;
    ASSERT_EQ(refused.status, 503u) << refused.body;
    EXPECT_NE(refused.body.find("storage unavailable"), std::string::npos) << refused.body;
    EXPECT_EQ(refused.headers[bhttp::field::retry_after], "1");
    EXPECT_EQ(post(5000).status, 503u);  // still full: refused at once
    // The monitor says so.
    auto const storage = h.get("/api/v1/monitor/connections").json().at("storage");
    EXPECT_EQ(storage.at("writing"), false);
    EXPECT_GE(storage.at("refused").to_number<int>(), 1);
    EXPECT_GE(storage.at("failures").to_number<int>(), 1);
    // Reads and live updates go on.
    EXPECT_EQ(h.get("/api/v1/jobs?limit=5").status, 200u);
    // Space returns: writing resumes by itself.
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
    auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds{15};
    while (post(6000).status != 202u) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "ingest still refused after the disk had room";
        std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
    auto const resumed = h.get("/api/v1/monitor/connections").json().at("storage");
    EXPECT_EQ(resumed.at("writing"), true);
    EXPECT_GE(resumed.at("committed_seq").to_number<std::uint64_t>(), acknowledged.back());
    // Everything acknowledged is in the file, once.
    storage_peek peek(db_path());
    for (auto seq : acknowledged)
        EXPECT_EQ(peek.number("SELECT count(*) FROM journal WHERE seq = ?1", static_cast<std::int64_t>(seq)), 1)
            << seq;
    EXPECT_GT(acknowledged.size(), 10u);
}

TEST_F(StorageTest, RetentionDeletesTheOldestAndNumberingNeverRepeats)
{
    auto c = storage_config();
    c.storage.retention_ms = std::chrono::milliseconds{4000};
    std::uint64_t last = 0;
    {
        test_server srv(c);
        http_client h(srv.port());
        for (int i = 0; i < 10; ++i)
            ASSERT_EQ(h.post("/api/v1/events", event_json("job.queued", "old" + std::to_string(i), "ret")).status,
                      202u);
        std::this_thread::sleep_for(std::chrono::milliseconds{3000});
        for (int i = 0; i < 10; ++i) {
            auto const r = h.post("/api/v1/events", event_json("job.queued", "new" + std::to_string(i), "ret"));
            ASSERT_EQ(r.status, 202u);
            last = r.json().at("seq").to_number<std::uint64_t>();
        }
        storage_peek peek(db_path());
        auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
        while (peek.number("SELECT count(*) FROM journal WHERE seq <= 10") != 0) {
            ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the old events were not deleted";
            std::this_thread::sleep_for(std::chrono::milliseconds{100});
        }
        // The newer ones are younger than retention_ms: kept.
        EXPECT_EQ(peek.number("SELECT count(*) FROM journal WHERE seq > 10"), 10);
        EXPECT_EQ(peek.number("SELECT value FROM meta WHERE key = 'seq_floor'"), 10);
    }
    // Those jobs are gone after a restart; the numbers go on.
    test_server again(c);
    http_client h(again.port());
    EXPECT_EQ(h.get("/api/v1/jobs/old0").status, 404u);
    EXPECT_EQ(h.get("/api/v1/jobs/new9").status, 200u);
    auto const r = h.post("/api/v1/events", event_json("job.queued", "after", "ret"));
    EXPECT_EQ(r.json().at("seq").to_number<std::uint64_t>(), last + 1);
}

/// A history of 300 jobs over three tenants (one of them none), runs and
/// users, each told in order with explicit times: some succeed, some fail
/// (a few after a retry), some are cancelled; each logs two lines. Two
/// tenants also have a job with the same id ("dup").
std::vector<std::string> history_stream()
{
    std::vector<std::string> out;
    static char const* const tenants[] = {"", "acme", "globex"};
    auto const base = std::int64_t{1'700'000'000'000};
    auto add = [&](char const* type, std::string const& id, int k, int step, std::string const& tenant,
                   std::string extra) {
        auto const t = base + k * 1000 + step;
        std::string scope = R"("time":")" + format_time(time_point{std::chrono::milliseconds{t}}) + "\"";
        if (!tenant.empty())
            scope += R"(,"tenant_id":")" + tenant + "\"";
        out.push_back(event_json(type, id, "q" + std::to_string(k % 4), scope + extra));
    };
    for (int k = 0; k < 300; ++k) {
        auto const id = "j" + std::to_string(k);
        std::string const tenant = tenants[k % 3];
        add("job.queued", id, k, 0, tenant,
            R"(,"run_id":"r)" + std::to_string(k % 5) + R"(","user_id":"u)" + std::to_string(k % 2) +
                R"(","job_type":"t)" + std::to_string(k % 2) + "\"");
        add("job.started", id, k, 1, tenant, R"(,"attempt":1)");
        add("job.log", id, k, 2, tenant, R"(,"level":"info","message":"first of )" + id + "\"");
        add("job.progress", id, k, 3, tenant, R"(,"percent":50)");
        add("job.log", id, k, 4, tenant, R"(,"level":"warn","message":"second of )" + id + "\"");
        switch (k % 5) {
        case 0:
            add("job.failed", id, k, 5, tenant, R"(,"error":"timeout )" + id + R"(","attempt":1,"will_retry":true)");
            add("job.started", id, k, 6, tenant, R"(,"attempt":2)");
            add("job.failed", id, k, 7, tenant, R"(,"error":"gave up )" + id + R"(","attempt":2,"will_retry":false)");
            break;
        case 1:
            add("job.failed", id, k, 5, tenant, R"(,"error":"bad input )" + id + R"(","attempt":1,"will_retry":false)");
            break;
        case 2: add("job.cancelled", id, k, 5, tenant, ""); break;
        default: add("job.completed", id, k, 5, tenant, R"(,"result":{"n":)" + std::to_string(k) + "}"); break;
        }
    }
    for (auto const* tenant : {"acme", "globex"}) {
        add("job.queued", "dup", 300, 0, tenant, "");
        add("job.completed", "dup", 300, 1, tenant, "");
    }
    return out;
}

/// What the REST API answers about the history of `history_stream`, per target.
std::map<std::string, std::string> history_answers(std::uint16_t port, std::string const& token = {})
{
    std::vector<std::string> targets;
    auto const t0 = std::int64_t{1'700'000'000'000};
    for (auto const* filter : {"", "&tenant_id=acme", "&status=failed", "&queue=q1", "&run_id=r2&tenant_id=globex",
                               "&user_id=u1", "&type=t0&tenant_id=acme", "&status=succeeded&queue=q3"})
        for (auto const* page : {"limit=100&offset=0", "limit=100&offset=100", "limit=7&offset=93",
                                 "limit=50&offset=280", "limit=1&offset=301"})
            targets.push_back(std::string("/api/v1/jobs?") + page + filter);
    targets.push_back("/api/v1/jobs?limit=100&since=" + std::to_string(t0 + 50'000) +
                      "&until=" + std::to_string(t0 + 120'000));
    targets.push_back("/api/v1/jobs?limit=100&since=" + std::to_string(t0 + 250'003));
    for (int k = 0; k < 300; ++k) {
        auto const id = "/api/v1/jobs/j" + std::to_string(k);
        for (auto const* part : {"", "/logs", "/events", "/logs?limit=1", "/logs?since=1&limit=1"})
            targets.push_back(id + part);
    }
    for (auto const* part : {"/api/v1/jobs/dup", "/api/v1/jobs/dup?tenant_id=globex", "/api/v1/jobs/dup/events?tenant_id=acme",
                             "/api/v1/jobs/j1?tenant_id=acme", "/api/v1/jobs/nothing"})
        targets.push_back(part);
    http_client h(port);
    std::map<std::string, std::string> out;
    for (auto const& t : targets) {
        auto const r = h.get(t, token);
        out[t] = std::to_string(r.status) + " " + r.body;
    }
    return out;
}

/// The whole dead-letter list, newest first, read `per_page` at a time following `next_before`.
std::vector<std::string> dead_letter_pages(std::uint16_t port, int per_page, std::string const& token = {})
{
    http_client h(port);
    std::vector<std::string> out;
    std::string cursor;
    for (int pages = 0; pages < 1000; ++pages) {
        auto const r = h.get("/api/v1/jobs/failed/recent?limit=" + std::to_string(per_page) + cursor, token);
        EXPECT_EQ(r.status, 200u) << r.body;
        auto const answer = r.json().as_object();
        for (auto const& e : answer.at("items").as_array())
            out.push_back(boost::json::serialize(e));
        auto const* next = answer.if_contains("next_before");
        if (!next)
            return out;
        cursor = "&before=" + std::to_string(next->to_number<std::uint64_t>());
    }
    ADD_FAILURE() << "the pages did not end";
    return out;
}

/// Waits until the server's store holds at most `n` jobs (its retention runs once a second).
void wait_for_eviction(test_server& srv, std::size_t n)
{
    auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
    while (srv.on_core([&] { return srv.get_app().get_core().store().size(); }) > n) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "finished jobs were not evicted";
        std::this_thread::sleep_for(std::chrono::milliseconds{50});
    }
}

TEST_F(StorageTest, JobsThatLeftMemoryAreAnsweredFromTheFileAsIfMemoryHeldEverything)
{
    auto const lines = history_stream();
    // The reference holds everything in memory.
    auto ref_cfg = test_server::default_config();
    ref_cfg.dlq.max_entries = 10'000;
    ref_cfg.store.finished_ttl_ms = std::chrono::hours{24 * 365 * 10};  // the stream's times are of 2023
    test_server reference(ref_cfg);
    post_lines(reference.port(), lines);
    auto const expected = history_answers(reference.port());
    auto const expected_dead = dead_letter_pages(reference.port(), 1000);
    ASSERT_EQ(expected_dead.size(), 120u);
    EXPECT_EQ(dead_letter_pages(reference.port(), 7), expected_dead);  // paged in memory alone
    // This one keeps 20 finished jobs and 10 dead-letter entries in memory; the rest is in its file.
    auto c = storage_config();
    c.store.max_finished_jobs = 20;
    c.store.finished_ttl_ms = std::chrono::hours{24 * 365 * 10};  // the stream's times are of 2023
    c.dlq.max_entries = 10;
    auto check = [&](test_server& srv, char const* when) {
        auto const got = history_answers(srv.port());
        for (auto const& [target, answer] : expected)
            EXPECT_EQ(got.at(target), answer) << when << ": " << target;
        EXPECT_EQ(dead_letter_pages(srv.port(), 7), expected_dead) << when;
        EXPECT_EQ(dead_letter_pages(srv.port(), 1000), expected_dead) << when;
    };
    {
        test_server srv(c);
        post_lines(srv.port(), lines);
        wait_for_eviction(srv, 20);
        check(srv, "evicted");
    }
    // And after a restart, from the same file: replay brings the jobs back into
    // memory (and out of the file) until retention evicts them again.
    test_server again(c);
    check(again, "restarted");
    wait_for_eviction(again, 20);
    check(again, "restarted and evicted");
    storage_peek peek(db_path());
    EXPECT_EQ(peek.number("SELECT count(*) FROM jobs"), 302 - 20);
    EXPECT_EQ(peek.number("SELECT count(*) FROM dead_letters"), 120);
}

TEST_F(StorageTest, HistoryFromTheFileIsEachTenantsOwn)
{
    auto c = storage_config();
    c.store.max_finished_jobs = 1;  // every finished job but the last leaves memory
    c.dlq.max_entries = 0;
    c.auth.mode = auth_mode::static_tokens;
    c.auth.tokens["tok-admin"] = principal{.subject = "admin", .scopes = {auth_scope::read, auth_scope::publish}};
    c.auth.tokens["tok-acme"] =
        principal{.subject = "acme-app", .tenant_id = "acme", .scopes = {auth_scope::read, auth_scope::publish}};
    c.auth.tokens["tok-acme-u1"] = principal{
        .subject = "acme-u1", .tenant_id = "acme", .user_id = "u1", .scopes = {auth_scope::read}};
    test_server srv(c);
    http_client h(srv.port());
    std::string body;
    for (auto const& l : history_stream())
        body += l + "\n";
    ASSERT_EQ(h.post("/api/v1/events", body, "application/x-ndjson", "tok-admin").status, 200u);
    wait_for_eviction(srv, 1);
    // j1 is acme's, j2 globex's, j0 of no tenant: acme's principal sees only its own.
    EXPECT_EQ(h.get("/api/v1/jobs/j1", "tok-acme").status, 200u);
    for (auto const* t : {"/api/v1/jobs/j2", "/api/v1/jobs/j2?tenant_id=globex", "/api/v1/jobs/j2/logs?tenant_id=globex",
                          "/api/v1/jobs/j2/events?tenant_id=globex", "/api/v1/jobs/j0", "/api/v1/jobs/j0/events"}) {
        auto const r = h.get(t, "tok-acme");
        EXPECT_EQ(r.status, 404u) << t << " " << r.body;
        EXPECT_EQ(r.body.find("globex"), std::string::npos) << t;
    }
    auto const mine = h.get("/api/v1/jobs?limit=100&offset=0&tenant_id=globex", "tok-acme").json();
    EXPECT_EQ(mine.at("total").to_number<int>(), 0);
    auto const listed = h.get("/api/v1/jobs?limit=100&offset=0", "tok-acme").json();
    EXPECT_EQ(listed.at("total").to_number<int>(), 101);  // j1, j4, ..., j298 and acme's dup
    for (auto const& j : listed.at("items").as_array())
        EXPECT_EQ(j.at("tenant_id"), "acme");
    for (auto const& e : dead_letter_pages(srv.port(), 3, "tok-acme"))
        EXPECT_NE(e.find(R"("tenant_id":"acme")"), std::string::npos) << e;
    EXPECT_EQ(dead_letter_pages(srv.port(), 3, "tok-acme").size(), 40u);
    // A user's principal: that user's jobs of its tenant only.
    auto const users = h.get("/api/v1/jobs?limit=100", "tok-acme-u1").json();
    for (auto const& j : users.at("items").as_array())
        EXPECT_EQ(j.at("user_id"), "u1");
    EXPECT_EQ(users.at("total").to_number<int>(), 50);
    EXPECT_EQ(h.get("/api/v1/jobs/j4", "tok-acme-u1").status, 404u);  // acme's, of u0
    EXPECT_EQ(h.get("/api/v1/jobs/j1", "tok-acme-u1").status, 200u);
    for (auto const& e : dead_letter_pages(srv.port(), 3, "tok-acme-u1"))
        EXPECT_NE(e.find(R"("user_id":"u1")"), std::string::npos) << e;
}

TEST_F(StorageTest, AFileOfTheFirstFormatIsMigratedForward)
{
    std::filesystem::create_directories(std::filesystem::path(db_path()).parent_path());
    {
        // Format 1, as the first durable jobwatch wrote it.
        sqlite3* db = nullptr;
        ASSERT_EQ(::sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
        std::string sql =
            "PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL;"
            "CREATE TABLE journal(seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, kind INTEGER NOT NULL,"
            " body TEXT NOT NULL);"
            "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL); PRAGMA user_version = 1;";
        auto const at = std::to_string(
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count());
        std::vector<std::string> const events = {
            event_json("job.queued", "m1", "q", R"("tenant_id":"acme","time":"2026-01-02T03:04:05.000Z")"),
            event_json("job.log", "m1", "q",
                       R"("tenant_id":"acme","level":"error","message":"disk full","time":"2026-01-02T03:04:06.000Z")"),
            event_json("job.completed", "m1", "q", R"("tenant_id":"acme","time":"2026-01-02T03:04:07.000Z")")};
        for (std::size_t i = 0; i < events.size(); ++i)
            sql += "INSERT INTO journal VALUES (" + std::to_string(i + 1) + ", " + at + ", 0, '" + events[i] + "');";
        char* err = nullptr;
        ASSERT_EQ(::sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
        ::sqlite3_close(db);
    }
    // The job finished long before finished_ttl_ms: evicted at once, answered from the file.
    test_server srv(storage_config());
    wait_for_eviction(srv, 0);
    // Served from the file: the migration named each old row's job.
    http_client h(srv.port());
    auto const events = h.get("/api/v1/jobs/m1/events?tenant_id=acme");
    ASSERT_EQ(events.status, 200u) << events.body;
    EXPECT_EQ(events.json().at("items").as_array().size(), 3u) << events.body;
    EXPECT_EQ(events.json().at("complete"), true);
    auto const logs = h.get("/api/v1/jobs/m1/logs?tenant_id=acme").json();
    ASSERT_EQ(logs.at("items").as_array().size(), 1u);
    EXPECT_EQ(logs.at("items").at(0).at("message"), "disk full");
    EXPECT_EQ(logs.at("items").at(0).at("level"), "error");
    EXPECT_EQ(h.get("/api/v1/jobs/m1?tenant_id=acme").json().at("state"), "succeeded");
    storage_peek peek(db_path());
    EXPECT_EQ(peek.number("PRAGMA user_version"), storage::schema_version);
    // The migration gave every old row its job's key (one job here: one key).
    EXPECT_EQ(peek.number("SELECT count(DISTINCT job) FROM journal WHERE seq <= 3 AND job IS NOT NULL"), 1);
    EXPECT_EQ(peek.number("SELECT count(*) FROM journal WHERE seq <= 3 AND job IS NULL"), 0);
}

TEST_F(StorageTest, FilesThatCannotBeUsedStopTheStartNamingTheFile)
{
    auto expect_refused = [&](std::string const& path, std::string const& why) {
        auto c = storage_config();
        c.storage.path = path;
        try {
            app a(c, app::options{.handle_signals = false});
            ADD_FAILURE() << path << " was accepted; expected: " << why;
        } catch (storage::storage_error const& e) {
            std::string const what = e.what();
            EXPECT_NE(what.find(path), std::string::npos) << what;
            EXPECT_NE(what.find(why), std::string::npos) << what;
        }
    };
    // Not a database.
    auto const garbage = (dir_ / "garbage.db").string();
    {
        std::ofstream f(garbage, std::ios::binary);
        for (int i = 0; i < 4096; ++i)
            f.put(static_cast<char>('A' + i % 26));
    }
    expect_refused(garbage, "not a database");
    // Written by a newer jobwatch.
    auto const newer = (dir_ / "newer.db").string();
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(::sqlite3_open(newer.c_str(), &db), SQLITE_OK);
        ASSERT_EQ(::sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
        ::sqlite3_close(db);
    }
    expect_refused(newer, "newer jobwatch (format version 99");
    // In use by another jobwatch.
    auto const shared = (dir_ / "shared.db").string();
    {
        auto c = storage_config();
        c.storage.path = shared;
        app first(c, app::options{.handle_signals = false});
        expect_refused(shared, "locked by another process");
    }
    // Its folder cannot be made (a file is in the way).
    {
        std::ofstream f(dir_ / "plain-file");
    }
    expect_refused((dir_ / "plain-file" / "jobwatch.db").string(), "cannot create its folder");
    // A file whose first page is intact but whose tables are damaged.
    auto const damaged = (dir_ / "damaged.db").string();
    {
        auto c = storage_config();
        c.storage.path = damaged;
        test_server srv(c);
        post_lines(srv.port(), storage_stream(3000, 7));
    }
    {
        std::fstream f(damaged, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(4096 * 3);
        for (int i = 0; i < 4096 * 4; ++i)
            f.put('\x5a');
    }
    expect_refused(damaged, "damaged");
}

}  // namespace
}  // namespace jobwatch::test
