#ifndef JOBWATCH_STORAGE_SQLITE_HPP
#define JOBWATCH_STORAGE_SQLITE_HPP

/** @file
    The few SQLite calls the journal makes, with ownership and errors that
    name the file. Written on SQLite's C API directly: it is SQLite's own
    interface, and the C++ wrapper Debian packages (SQLiteCpp) is a compiled
    library of its own for what is here a connection, a statement and an
    error.
*/

#include <sqlite3.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace jobwatch::storage {

/// A storage failure: its text names the file and SQLite's error.
class storage_error : public std::runtime_error
{
public:
    storage_error(std::string const& what, int code) : std::runtime_error(what), code_(code) {}
    /// SQLite's primary result code (SQLITE_FULL, SQLITE_BUSY, ...), or 0.
    int code() const noexcept { return code_; }

private:
    int code_ = 0;
};

/// One statement, prepared once and reset after each use.
class statement
{
public:
    statement() = default;
    statement(sqlite3* db, std::string_view sql, std::string const& file) : db_(db), file_(&file)
    {
        if (int const rc = ::sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                                SQLITE_PREPARE_PERSISTENT, &st_, nullptr);
            rc != SQLITE_OK)
            fail(rc, "prepare");
    }
    statement(statement&& o) noexcept
        : db_(o.db_), file_(o.file_), st_(std::exchange(o.st_, nullptr))
    {
    }
    statement& operator=(statement&& o) noexcept
    {
        std::swap(db_, o.db_);
        std::swap(file_, o.file_);
        std::swap(st_, o.st_);
        return *this;
    }
    ~statement() { ::sqlite3_finalize(st_); }

    statement& bind(int i, std::int64_t v)
    {
        check(::sqlite3_bind_int64(st_, i, v), "bind");
        return *this;
    }
    statement& bind_null(int i)
    {
        check(::sqlite3_bind_null(st_, i), "bind");
        return *this;
    }
    /// The text must outlive the statement's next step (no copy).
    statement& bind(int i, std::string_view v)
    {
        check(::sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC), "bind");
        return *this;
    }
    /// true: a row is there; false: done (the statement is reset).
    bool step()
    {
        int const rc = ::sqlite3_step(st_);
        if (rc == SQLITE_ROW)
            return true;
        ::sqlite3_reset(st_);
        if (rc != SQLITE_DONE)
            fail(rc, "step");
        return false;
    }
    void reset() { ::sqlite3_reset(st_); }
    std::int64_t int64(int col) const { return ::sqlite3_column_int64(st_, col); }
    bool is_null(int col) const { return ::sqlite3_column_type(st_, col) == SQLITE_NULL; }
    std::string_view text(int col) const
    {
        auto const* p = reinterpret_cast<char const*>(::sqlite3_column_text(st_, col));
        return p ? std::string_view(p, static_cast<std::size_t>(::sqlite3_column_bytes(st_, col))) : std::string_view{};
    }

private:
    void check(int rc, char const* what) const
    {
        if (rc != SQLITE_OK)
            fail(rc, what);
    }
    [[noreturn]] void fail(int rc, char const* what) const
    {
        throw storage_error(*file_ + ": " + what + ": " + ::sqlite3_errmsg(db_) + " (" + ::sqlite3_errstr(rc) + ")",
                            rc & 0xff);
    }

    sqlite3* db_ = nullptr;
    std::string const* file_ = nullptr;
    sqlite3_stmt* st_ = nullptr;
};

/// One connection to the database file.
class database
{
public:
    /// Opens (or creates) `file` read-write; @throws storage_error naming it.
    explicit database(std::string file, bool create = true) : file_(std::move(file))
    {
        int const rc = ::sqlite3_open_v2(file_.c_str(), &db_,
                                         SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) |
                                             SQLITE_OPEN_NOMUTEX,
                                         nullptr);
        if (rc != SQLITE_OK) {
            std::string why = db_ ? ::sqlite3_errmsg(db_) : ::sqlite3_errstr(rc);
            ::sqlite3_close_v2(db_);
            db_ = nullptr;
            throw storage_error(file_ + ": cannot open: " + why, rc & 0xff);
        }
        ::sqlite3_extended_result_codes(db_, 1);
    }
    database(database const&) = delete;
    database& operator=(database const&) = delete;
    ~database() { ::sqlite3_close_v2(db_); }

    /// Runs statements that return no rows we need.
    void exec(std::string_view sql)
    {
        std::string const s(sql);
        char* err = nullptr;
        if (int const rc = ::sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err); rc != SQLITE_OK) {
            std::string why = err ? err : ::sqlite3_errmsg(db_);
            ::sqlite3_free(err);
            throw storage_error(file_ + ": " + why + " (" + ::sqlite3_errstr(rc) + ")", rc & 0xff);
        }
    }

    /// The first column of the first row of `sql` as an integer (0 when no row).
    std::int64_t scalar(std::string_view sql)
    {
        statement st(db_, sql, file_);
        std::int64_t v = 0;
        if (st.step()) {
            v = st.int64(0);
            st.reset();
        }
        return v;
    }

    statement prepare(std::string_view sql) { return statement(db_, sql, file_); }
    sqlite3* handle() const noexcept { return db_; }
    std::string const& file() const noexcept { return file_; }

private:
    std::string file_;
    sqlite3* db_ = nullptr;
};

}  // namespace jobwatch::storage

#endif
