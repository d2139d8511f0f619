#include "store/catalog.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <set>
#include <utility>

#include <sqlite3.h>
#include <sys/stat.h>

#include "core/log.h"
#include "core/utf8.h"
#include "store/model_ref.h"

namespace kiln::store {
namespace fs = std::filesystem;

namespace {

using utf8::ascii_lower;

int64_t mtime_of(const fs::path & p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_mtime) : 0;
}

Error db_error(sqlite3 * db, const std::string & what) {
    return make_error(ErrorCode::io, "catalog (kiln.db): " + what + ": " + sqlite3_errmsg(db));
}

// One prepared statement; binds by position from 1, steps, reads columns.
// Made only by prepare(), so a statement that failed to prepare is an Error
// the caller sees, never a statement whose steps quietly fail.
class Stmt {
  public:
    Stmt(Stmt && o) noexcept : stmt_(std::exchange(o.stmt_, nullptr)) {}
    Stmt & operator=(Stmt &&) = delete;
    Stmt(const Stmt &) = delete;
    Stmt & operator=(const Stmt &) = delete;
    ~Stmt() { sqlite3_finalize(stmt_); }

    Stmt & bind(int i, const std::string & v) {
        sqlite3_bind_text(stmt_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Stmt & bind(int i, int64_t v) {
        sqlite3_bind_int64(stmt_, i, v);
        return *this;
    }
    // SQLITE_ROW, SQLITE_DONE or an error code.
    int step() { return sqlite3_step(stmt_); }
    std::string text(int i) const {
        const auto * p = sqlite3_column_text(stmt_, i);
        return p ? reinterpret_cast<const char *>(p) : "";
    }
    int64_t integer(int i) const { return sqlite3_column_int64(stmt_, i); }

  private:
    friend Result<Stmt> prepare(sqlite3 * db, const char * sql);
    explicit Stmt(sqlite3_stmt * stmt) : stmt_(stmt) {}
    sqlite3_stmt * stmt_ = nullptr;
};

Result<Stmt> prepare(sqlite3 * db, const char * sql) {
    sqlite3_stmt * stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return db_error(db, "prepare");
    }
    return Stmt(stmt);
}

// PRAGMA user_version; the statement is finalized on return, as a DROP
// TABLE while it is open would find the table locked.
Result<int64_t> schema_version(sqlite3 * db) {
    KILN_TRY(Stmt version, prepare(db, "PRAGMA user_version"));
    if (version.step() != SQLITE_ROW) return db_error(db, "read the schema version");
    return version.integer(0);
}

// gguf_meta is a cache: a failed write only costs a re-read next time, so it
// is logged, not returned.
void cache_write_failed(sqlite3 * db) { log::warn("catalog (kiln.db): a metadata cache write failed: {}", sqlite3_errmsg(db)); }

Status exec(sqlite3 * db, const char * sql) {
    char * err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        Error e = make_error(ErrorCode::io, std::string("catalog (kiln.db): ") + (err ? err : "error"));
        sqlite3_free(err);
        return e;
    }
    return {};
}

// Rolls back unless committed. A write transaction takes the write lock at
// once (IMMEDIATE); a read one only sees one snapshot of the database.
class Transaction {
  public:
    enum Mode { read, write };
    explicit Transaction(sqlite3 * db, Mode mode = write) : db_(db) {
        ok_ = exec(db, mode == write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED").ok();
    }
    ~Transaction() {
        if (ok_ && !done_) (void)exec(db_, "ROLLBACK");
    }
    bool   ok() const { return ok_; }
    Status commit() {
        done_ = true;
        return exec(db_, "COMMIT");
    }

  private:
    sqlite3 * db_;
    bool      ok_ = false, done_ = false;
};

constexpr const char * kSchema = R"(
CREATE TABLE IF NOT EXISTS models(
  name TEXT PRIMARY KEY COLLATE NOCASE,
  source TEXT NOT NULL,
  added_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS files(
  model TEXT NOT NULL REFERENCES models(name) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  path TEXT NOT NULL,
  kind TEXT NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(model, seq));
CREATE TABLE IF NOT EXISTS aliases(
  alias TEXT PRIMARY KEY COLLATE NOCASE,
  model TEXT NOT NULL REFERENCES models(name) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS gguf_meta(
  path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime INTEGER NOT NULL,
  architecture TEXT, name TEXT, license TEXT, n_params INTEGER, quant TEXT,
  context_length INTEGER, embedding_length INTEGER, block_count INTEGER,
  chat_template TEXT, split_count INTEGER, projector INTEGER, capabilities TEXT,
  error TEXT);
)";
// gguf_meta is a cache: a database from before a change of its columns
// drops it and reads the files again.
constexpr int kSchemaVersion = 1;

std::string join(const std::vector<std::string> & v, const char * sep) {
    std::string out;
    for (const auto & s : v) out += (out.empty() ? "" : sep) + s;
    return out;
}


// The name a GGUF found in models/ gets: "org/repo:QUANT" when it sits at
// models/org/repo/, else its path without .gguf.
std::string local_name(const fs::path & rel) {
    std::vector<std::string> parts;
    for (const auto & p : rel) parts.push_back(p.string());
    std::string stem = rel.string();
    if (stem.size() > 5) stem.resize(stem.size() - 5);
    if (const auto sp = split_part_of(rel.filename().string())) {
        stem = (rel.parent_path() / sp->prefix).string();
    }
    const std::string quant = quant_of(rel.filename().string());
    if (parts.size() == 3 && !quant.empty()) return parts[0] + "/" + parts[1] + ":" + quant;
    return stem;
}

}  // namespace

Catalog::Catalog(sqlite3 * db, fs::path home) : db_(db), home_(std::move(home)), models_(home_ / "models") {}

Catalog::~Catalog() { sqlite3_close(db_); }

Result<std::unique_ptr<Catalog>> Catalog::open(const fs::path & home) {
    std::error_code ec;
    fs::create_directories(home / "models", ec);
    if (ec) return make_error(ErrorCode::io, "cannot create the models folder in KILN_HOME: " + ec.message());
    sqlite3 * db = nullptr;
    if (sqlite3_open((home / "kiln.db").c_str(), &db) != SQLITE_OK) {
        Error e = db_error(db, "cannot open");
        sqlite3_close(db);
        return e;
    }
    std::unique_ptr<Catalog> c(new Catalog(db, home));
    sqlite3_busy_timeout(db, 10000);
    KILN_CHECK(exec(db, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;"));
    KILN_TRY(const int64_t version, schema_version(db));
    if (version < kSchemaVersion) {
        KILN_CHECK(exec(db, "DROP TABLE IF EXISTS gguf_meta"));
        KILN_CHECK(exec(db, ("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str()));
    }
    KILN_CHECK(exec(db, kSchema));
    return c;
}

fs::path Catalog::absolute(const ModelFile & f) const {
    const fs::path p(f.path);
    return p.is_absolute() ? p : models_ / p;
}

Status Catalog::add(const ModelEntry & e) {
    Transaction tx(db_);
    if (!tx.ok()) return db_error(db_, "busy");
    KILN_CHECK(insert(e));
    return tx.commit();
}

Status Catalog::insert(const ModelEntry & e) {
    KILN_TRY(Stmt del, prepare(db_, "DELETE FROM models WHERE name = ?"));
    if (del.bind(1, e.name).step() != SQLITE_DONE) return db_error(db_, "replace " + e.name);
    KILN_TRY(Stmt ins, prepare(db_, "INSERT INTO models(name, source, added_at) VALUES(?, ?, ?)"));
    const int64_t now = e.added_at > 0 ? e.added_at
                                       : std::chrono::duration_cast<std::chrono::seconds>(
                                             std::chrono::system_clock::now().time_since_epoch()).count();
    if (ins.bind(1, e.name).bind(2, e.source).bind(3, now).step() != SQLITE_DONE) return db_error(db_, "add " + e.name);
    int64_t seq = 0;
    for (const auto & f : e.files) {
        KILN_TRY(Stmt fi, prepare(db_, "INSERT INTO files(model, seq, path, kind, size, sha256) VALUES(?, ?, ?, ?, ?, ?)"));
        fi.bind(1, e.name).bind(2, seq++).bind(3, f.path).bind(4, f.kind).bind(5, static_cast<int64_t>(f.size)).bind(6, f.sha256);
        if (fi.step() != SQLITE_DONE) return db_error(db_, "add a file of " + e.name);
    }
    for (const auto & a : e.aliases) {
        KILN_TRY(Stmt al, prepare(db_, "INSERT OR REPLACE INTO aliases(alias, model) VALUES(?, ?)"));
        if (al.bind(1, a).bind(2, e.name).step() != SQLITE_DONE) return db_error(db_, "add alias " + a);
    }
    return {};
}

bool named_by_alias(const ModelEntry & entry, std::string_view name) {
    const std::string n = ascii_lower(name);
    return n != ascii_lower(entry.name) &&
           std::any_of(entry.aliases.begin(), entry.aliases.end(), [&](const std::string & a) { return ascii_lower(a) == n; });
}

Status Catalog::remove(const std::string & name, bool delete_files) {
    auto entry = find(name);
    if (!entry) return entry.error();
    Transaction tx(db_);
    if (!tx.ok()) return db_error(db_, "busy");
    // A second name (kiln cp, Ollama's copy) goes alone; the model stays.
    if (named_by_alias(*entry, name)) {
        KILN_TRY(Stmt del, prepare(db_, "DELETE FROM aliases WHERE alias = ?"));
        if (del.bind(1, name).step() != SQLITE_DONE) return db_error(db_, "remove alias " + name);
        return tx.commit();
    }
    KILN_TRY(Stmt del, prepare(db_, "DELETE FROM models WHERE name = ?"));
    if (del.bind(1, entry->name).step() != SQLITE_DONE) return db_error(db_, "remove " + entry->name);
    KILN_CHECK(tx.commit());
    if (!delete_files) return {};
    for (const auto & f : entry->files) {
        if (fs::path(f.path).is_absolute()) continue;  // an import stays where the user keeps it
        std::error_code ec;
        const auto p = absolute(f);
        fs::remove(p, ec);
        // Empty org/repo folders go too.
        for (auto dir = p.parent_path(); dir != models_ && dir.string().size() > models_.string().size();
             dir = dir.parent_path()) {
            if (!fs::is_empty(dir, ec) || !fs::remove(dir, ec)) break;
        }
    }
    return {};
}

Status Catalog::add_alias(const std::string & alias, const std::string & name) {
    auto entry = find(name);
    if (!entry) return entry.error();
    if (alias.empty() || alias.size() > 200) return make_error(ErrorCode::invalid_request, "an alias is 1 to 200 characters");
    {
        KILN_TRY(Stmt taken, prepare(db_, "SELECT name FROM models WHERE name = ?"));
        if (taken.bind(1, alias).step() == SQLITE_ROW && ascii_lower(taken.text(0)) != ascii_lower(entry->name)) {
            return make_error(ErrorCode::invalid_request, "'" + alias + "' is already the name of a model");
        }
    }
    KILN_TRY(Stmt al, prepare(db_, "INSERT OR REPLACE INTO aliases(alias, model) VALUES(?, ?)"));
    if (al.bind(1, alias).bind(2, entry->name).step() != SQLITE_DONE) return db_error(db_, "add alias " + alias);
    return {};
}

Result<std::vector<ModelEntry>> Catalog::load_entries() {
    std::map<std::string, ModelEntry> by_name;
    KILN_TRY(Stmt m, prepare(db_, "SELECT name, source, added_at FROM models"));
    int rc;
    while ((rc = m.step()) == SQLITE_ROW) {
        ModelEntry e;
        e.name     = m.text(0);
        e.source   = m.text(1);
        e.added_at = m.integer(2);
        by_name[e.name] = std::move(e);
    }
    if (rc != SQLITE_DONE) return db_error(db_, "read models");
    KILN_TRY(Stmt f, prepare(db_, "SELECT model, path, kind, size, sha256 FROM files ORDER BY model, seq"));
    while ((rc = f.step()) == SQLITE_ROW) {
        if (auto it = by_name.find(f.text(0)); it != by_name.end()) {
            it->second.files.push_back({f.text(1), f.text(2), static_cast<uint64_t>(f.integer(3)), f.text(4)});
        }
    }
    if (rc != SQLITE_DONE) return db_error(db_, "read files");
    KILN_TRY(Stmt a, prepare(db_, "SELECT alias, model FROM aliases ORDER BY alias"));
    while ((rc = a.step()) == SQLITE_ROW) {
        if (auto it = by_name.find(a.text(1)); it != by_name.end()) it->second.aliases.push_back(a.text(0));
    }
    if (rc != SQLITE_DONE) return db_error(db_, "read aliases");
    std::vector<ModelEntry> out;
    for (auto & [name, e] : by_name) out.push_back(std::move(e));
    return out;
}

Result<Catalog::Drift> Catalog::drift() {
    auto entries = load_entries();
    if (!entries) return entries.error();
    Drift d;
    std::set<std::string> known;  // files under models/ that some entry holds
    for (const auto & e : *entries) {
        bool ok = !e.files.empty();
        for (const auto & f : e.files) {
            std::error_code ec;
            const auto size = fs::file_size(absolute(f), ec);
            // A model file deleted or changed by hand: the entry cannot be
            // trusted. Its files count as dropped in (found again below).
            if (f.kind == "model" && (ec || size != f.size)) ok = false;
        }
        if (!ok) {
            d.gone.push_back(e.name);
            continue;
        }
        for (const auto & f : e.files) known.insert(f.path);
    }

    // GGUFs dropped into models/ by hand.
    std::map<std::string, std::vector<fs::path>> found;  // directory -> gguf files (relative)
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(models_, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        const auto rel = fs::relative(it->path(), models_, ec);
        if (ec || rel.extension() != ".gguf") continue;  // *.partial and others
        found[rel.parent_path().string()].push_back(rel);
    }
    std::set<std::string> names;
    for (const auto & e : *entries) {
        if (std::find(d.gone.begin(), d.gone.end(), e.name) == d.gone.end()) names.insert(ascii_lower(e.name));
    }
    for (auto & [dir, files] : found) {
        std::sort(files.begin(), files.end());
        std::optional<fs::path> mmproj;
        for (const auto & f : files) {
            if (is_mmproj(f.filename().string()) && !known.count(f.string())) mmproj = f;
        }
        for (const auto & f : files) {
            const std::string fname = f.filename().string();
            if (known.count(f.string()) || is_mmproj(fname)) continue;
            ModelEntry e;
            e.source = "local";
            if (const auto part = split_part_of(fname)) {
                if (part->index != 1) continue;  // listed with part 1
                for (int i = 1; i <= part->count; ++i) {
                    char suffix[32];
                    std::snprintf(suffix, sizeof suffix, "-%05d-of-%05d.gguf", i, part->count);
                    const auto p = f.parent_path() / (part->prefix + suffix);
                    const auto size = fs::file_size(models_ / p, ec);
                    if (ec) break;
                    e.files.push_back({p.string(), "model", size, ""});
                }
                if (static_cast<int>(e.files.size()) != part->count) continue;  // incomplete: not a model yet
            } else {
                e.files.push_back({f.string(), "model", fs::file_size(models_ / f, ec), ""});
                if (ec) continue;
            }
            if (mmproj) e.files.push_back({mmproj->string(), "mmproj", fs::file_size(models_ / *mmproj, ec), ""});
            e.name = local_name(f);
            if (names.count(ascii_lower(e.name))) e.name = f.string().substr(0, f.string().size() - 5);
            if (names.count(ascii_lower(e.name))) continue;
            names.insert(ascii_lower(e.name));
            d.found.push_back(std::move(e));
        }
    }
    return d;
}

Status Catalog::reconcile() {
    {
        // Usually nothing changed: a read, no write lock (a `kiln pull`
        // beside a busy `kiln serve` never waits on a `kiln list`).
        Transaction rd(db_, Transaction::read);
        auto d = drift();
        if (!d) return d.error();
        if (d->empty()) return {};
    }
    Transaction tx(db_);
    if (!tx.ok()) return db_error(db_, "busy");
    auto d = drift();  // again, under the write lock
    if (!d) return d.error();
    for (const auto & name : d->gone) {
        KILN_TRY(Stmt del, prepare(db_, "DELETE FROM models WHERE name = ?"));
        if (del.bind(1, name).step() != SQLITE_DONE) return db_error(db_, "drop " + name);
    }
    for (const auto & e : d->found) KILN_CHECK(insert(e));
    return tx.commit();
}

Result<GgufInfo> Catalog::cached_info(const fs::path & path) {
    std::error_code ec;
    const auto size  = static_cast<int64_t>(fs::file_size(path, ec));
    const auto mtime = mtime_of(path);
    KILN_TRY(Stmt q, prepare(db_, "SELECT architecture, name, license, n_params, quant, context_length, embedding_length, block_count, "
                                  "chat_template, split_count, projector, capabilities, error FROM gguf_meta WHERE path = ? AND size = ? AND mtime = ?"));
    if (q.bind(1, path.string()).bind(2, size).bind(3, mtime).step() == SQLITE_ROW) {
        if (const auto error = q.text(12); !error.empty()) return make_error(ErrorCode::invalid_request, error);
        GgufInfo i;
        i.architecture     = q.text(0);
        i.name             = q.text(1);
        i.license          = q.text(2);
        i.n_params         = static_cast<uint64_t>(q.integer(3));
        i.quant            = q.text(4);
        i.context_length   = static_cast<uint32_t>(q.integer(5));
        i.embedding_length = static_cast<uint32_t>(q.integer(6));
        i.block_count      = static_cast<uint32_t>(q.integer(7));
        i.chat_template    = q.text(8);
        i.split_count      = static_cast<uint16_t>(q.integer(9));
        i.projector        = q.integer(10) != 0;
        i.capabilities     = utf8::split_list(q.text(11));
        return i;
    }
    auto info = read_gguf_info(path);
    if (!info) {
        // Remembered too, so a broken file is not parsed (and logged) again
        // until it changes.
        if (info.error().code != ErrorCode::not_found) {
            auto bad = prepare(db_, "INSERT OR REPLACE INTO gguf_meta(path, size, mtime, error) VALUES(?, ?, ?, ?)");
            if (!bad || bad->bind(1, path.string()).bind(2, size).bind(3, mtime).bind(4, info.error().message).step() != SQLITE_DONE) {
                cache_write_failed(db_);
            }
        }
        return info.error();
    }
    auto put_or = prepare(db_, "INSERT OR REPLACE INTO gguf_meta VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)");
    if (!put_or) {
        cache_write_failed(db_);
        return info;
    }
    Stmt & put = *put_or;
    put.bind(1, path.string()).bind(2, size).bind(3, mtime).bind(4, info->architecture).bind(5, info->name);
    put.bind(6, info->license).bind(7, static_cast<int64_t>(info->n_params)).bind(8, info->quant);
    put.bind(9, static_cast<int64_t>(info->context_length)).bind(10, static_cast<int64_t>(info->embedding_length));
    put.bind(11, static_cast<int64_t>(info->block_count)).bind(12, info->chat_template);
    put.bind(13, static_cast<int64_t>(info->split_count)).bind(14, static_cast<int64_t>(info->projector ? 1 : 0));
    put.bind(15, join(info->capabilities, ","));
    if (put.step() != SQLITE_DONE) cache_write_failed(db_);
    return info;
}

Result<std::vector<ModelEntry>> Catalog::list(std::vector<std::string> * skipped) {
    KILN_CHECK(reconcile());
    auto entries = load_entries();
    if (!entries) return entries.error();
    std::vector<ModelEntry> out;
    out.reserve(entries->size());
    {
        // One transaction for every cache write; it takes the write lock
        // only at the first miss.
        Transaction tx(db_, Transaction::read);
        for (auto & e : *entries) {
            for (const auto & f : e.files) {
                e.size += f.size;
                e.modified = std::max(e.modified, mtime_of(absolute(f)));
            }
            auto info = cached_info(absolute(e.files.front()));
            if (!info) {  // not a readable GGUF: never listed
                if (skipped) skipped->push_back(e.files.front().path + ": " + info.error().message);
                continue;
            }
            e.info = std::move(*info);
            if (std::any_of(e.files.begin(), e.files.end(), [](const ModelFile & f) { return f.kind == "mmproj"; })) {
                e.info.capabilities.push_back("vision");
            }
            out.push_back(std::move(e));
        }
        if (tx.ok()) (void)tx.commit();
    }
    return out;
}

Result<ModelEntry> Catalog::find(const std::string & query) {
    auto all = list();
    if (!all) return all.error();
    std::string q = ascii_lower(query);
    for (std::string_view prefix : {"hf.co/", "huggingface.co/", "https://huggingface.co/"}) {
        if (q.rfind(prefix, 0) == 0) q = q.substr(prefix.size());
    }
    if (q.size() > 7 && q.ends_with(":latest")) q.resize(q.size() - 7);
    std::vector<const ModelEntry *> hits;
    auto take = [&](auto pred) {
        for (const auto & e : *all) {
            if (pred(e)) hits.push_back(&e);
        }
        return !hits.empty();
    };
    auto ambiguous = [&] {
        std::vector<std::string> names;
        for (const auto * e : hits) names.push_back(e->name);
        return make_error(ErrorCode::model_not_found,
                          "'" + query + "' matches several models: " + join(names, ", ") + "; use the full name");
    };
    // Exact name or alias.
    if (take([&](const ModelEntry & e) {
            return ascii_lower(e.name) == q ||
                   std::any_of(e.aliases.begin(), e.aliases.end(), [&](const std::string & a) { return ascii_lower(a) == q; });
        })) {
        return *hits.front();
    }
    // org/repo (any quant), repo:quant (any org), or a unique suffix at a boundary.
    auto suffix_at_boundary = [&](const std::string & name) {
        const auto n = ascii_lower(name);
        return n.size() > q.size() && n.ends_with(q) && (n[n.size() - q.size() - 1] == '/' || n[n.size() - q.size() - 1] == ':');
    };
    if (take([&](const ModelEntry & e) { return ascii_lower(e.name).rfind(q + ":", 0) == 0; }) ||
        take([&](const ModelEntry & e) { return suffix_at_boundary(e.name); }) ||
        take([&](const ModelEntry & e) {
            const auto n = ascii_lower(e.name);
            const auto colon = n.find(':');
            return colon != std::string::npos && suffix_at_boundary(n.substr(0, colon)) ;
        })) {
        if (hits.size() == 1) return *hits.front();
        return ambiguous();
    }
    // Nothing: suggest the closest names.
    std::vector<std::pair<size_t, std::string>> near;
    for (const auto & e : *all) {
        const auto n = ascii_lower(e.name);
        const auto tail = n.substr(n.rfind('/') == std::string::npos ? 0 : n.rfind('/') + 1);
        const size_t d = std::min(utf8::edit_distance(q, n), utf8::edit_distance(q, tail));
        if (d <= std::max<size_t>(2, q.size() / 3) || n.find(q) != std::string::npos) near.emplace_back(d, e.name);
    }
    std::sort(near.begin(), near.end());
    std::string msg = "model '" + query + "' not found";
    if (!near.empty()) {
        msg += "; did you mean ";
        for (size_t i = 0; i < near.size() && i < 3; ++i) msg += (i ? ", " : "") + near[i].second;
        msg += "?";
    } else {
        msg += "; 'kiln list' shows the models you have, 'kiln pull ORG/REPO' gets one";
    }
    return make_error(ErrorCode::model_not_found, msg);
}

}  // namespace kiln::store
