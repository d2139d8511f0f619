#include <gtest/gtest.h>

#include <fstream>

#include <sqlite3.h>

#include "store/catalog.h"
#include "test_models.h"

using namespace kiln::store;
namespace fs = std::filesystem;

namespace {

struct Home {
    fs::path                 dir = kiln::test::temp_dir();
    std::unique_ptr<Catalog> catalog;
    Home() {
        auto c = Catalog::open(dir);
        EXPECT_TRUE(c) << c.error().message;
        catalog = std::move(*c);
    }
    // Copies the tiny model to models/<rel>.
    fs::path put(const std::string & rel) {
        const auto p = dir / "models" / rel;
        fs::create_directories(p.parent_path());
        fs::copy_file(kiln::test::tiny_model("qwen2", 512), p, fs::copy_options::overwrite_existing);
        return p;
    }
    ModelEntry pulled(const std::string & name, const std::string & rel) {
        const auto p = put(rel);
        ModelEntry e;
        e.name   = name;
        e.source = "hf.co/" + name.substr(0, name.find(':'));
        e.files  = {{rel, "model", fs::file_size(p), std::string(64, 'a')}};
        return e;
    }
    std::vector<std::string> names() {
        auto l = catalog->list();
        EXPECT_TRUE(l) << l.error().message;
        std::vector<std::string> out;
        if (l) {
            for (const auto & e : *l) out.push_back(e.name);
        }
        return out;
    }
};

}  // namespace

TEST(Catalog, StartsEmptyAndCreatesItsFiles) {
    Home h;
    EXPECT_TRUE(h.names().empty());
    EXPECT_TRUE(fs::exists(h.dir / "kiln.db"));
    EXPECT_TRUE(fs::is_directory(h.dir / "models"));
}

TEST(Catalog, RecordsAPulledModelWithItsMetadata) {
    Home h;
    ASSERT_TRUE(h.catalog->add(h.pulled("org/Tiny-GGUF:Q8_0", "org/Tiny-GGUF/tiny-Q8_0.gguf")));
    auto l = h.catalog->list();
    ASSERT_TRUE(l);
    ASSERT_EQ(l->size(), 1u);
    const auto & e = l->front();
    EXPECT_EQ(e.name, "org/Tiny-GGUF:Q8_0");
    EXPECT_EQ(e.source, "hf.co/org/Tiny-GGUF");
    EXPECT_EQ(e.info.architecture, "llama");
    EXPECT_GT(e.size, 0u);
    EXPECT_GT(e.modified, 0);
    EXPECT_EQ(h.catalog->absolute(e.files.front()), h.dir / "models/org/Tiny-GGUF/tiny-Q8_0.gguf");
}

TEST(Catalog, FindsModelsByWhatUsersType) {
    Home h;
    ASSERT_TRUE(h.catalog->add(h.pulled("org/Tiny-GGUF:Q8_0", "org/Tiny-GGUF/tiny-Q8_0.gguf")));
    ASSERT_TRUE(h.catalog->add(h.pulled("org/Tiny-GGUF:Q4_0", "org/Tiny-GGUF/tiny-Q4_0.gguf")));
    ASSERT_TRUE(h.catalog->add(h.pulled("other/Small-GGUF:Q4_K_M", "other/Small-GGUF/small-Q4_K_M.gguf")));
    ASSERT_TRUE(h.catalog->add_alias("tiny", "org/Tiny-GGUF:Q8_0"));
    for (const char * q : {"org/Tiny-GGUF:Q8_0", "org/tiny-gguf:q8_0", "hf.co/org/Tiny-GGUF:Q8_0", "tiny",
                           "Tiny-GGUF:q8_0"}) {
        auto e = h.catalog->find(q);
        ASSERT_TRUE(e) << q << ": " << e.error().message;
        EXPECT_EQ(e->name, "org/Tiny-GGUF:Q8_0") << q;
    }
    auto one = h.catalog->find("other/Small-GGUF");  // one quant: no need to say which
    ASSERT_TRUE(one) << one.error().message;
    EXPECT_EQ(one->name, "other/Small-GGUF:Q4_K_M");
    auto both = h.catalog->find("org/Tiny-GGUF");
    ASSERT_FALSE(both);
    EXPECT_NE(both.error().message.find("Q4_0"), std::string::npos) << both.error().message;
    auto typo = h.catalog->find("org/Tiny-GUF:Q8_0");
    ASSERT_FALSE(typo);
    EXPECT_EQ(typo.error().code, kiln::ErrorCode::model_not_found);
    EXPECT_NE(typo.error().message.find("did you mean org/Tiny-GGUF:Q8_0"), std::string::npos) << typo.error().message;
}

TEST(Catalog, TheFilesystemIsTheTruth) {
    Home h;
    ASSERT_TRUE(h.catalog->add(h.pulled("org/Tiny-GGUF:Q8_0", "org/Tiny-GGUF/tiny-Q8_0.gguf")));
    // Dropped in by hand: appears, named after where it is.
    h.put("me/Mine/mine-Q4_K_M.gguf");
    h.put("loose.gguf");
    EXPECT_EQ(h.names(), (std::vector<std::string>{"loose", "me/Mine:Q4_K_M", "org/Tiny-GGUF:Q8_0"}));
    auto mine = h.catalog->find("me/Mine");
    ASSERT_TRUE(mine);
    EXPECT_EQ(mine->source, "local");
    // Deleted by hand: gone.
    fs::remove(h.dir / "models/org/Tiny-GGUF/tiny-Q8_0.gguf");
    EXPECT_EQ(h.names(), (std::vector<std::string>{"loose", "me/Mine:Q4_K_M"}));
    // Partial downloads and files that are not GGUF are never listed.
    std::ofstream(h.dir / "models/me/Mine/next-Q8_0.gguf.partial") << "half";
    std::ofstream(h.dir / "models/me/Mine/broken-Q8_0.gguf") << "not a model";
    EXPECT_EQ(h.names(), (std::vector<std::string>{"loose", "me/Mine:Q4_K_M"}));
}

TEST(Catalog, AFileChangedByHandIsNoLongerTheVerifiedEntry) {
    Home h;
    ASSERT_TRUE(h.catalog->add(h.pulled("org/Tiny-GGUF:Q8_0", "org/Tiny-GGUF/tiny-Q8_0.gguf")));
    std::ofstream(h.dir / "models/org/Tiny-GGUF/tiny-Q8_0.gguf", std::ios::app) << "extra";
    auto l = h.catalog->list();
    ASSERT_TRUE(l);
    for (const auto & e : *l) {
        for (const auto & f : e.files) EXPECT_TRUE(f.sha256.empty()) << e.name << " still claims a verified hash";
    }
}

TEST(Catalog, RemoveDeletesFilesAndEmptyFolders) {
    Home h;
    ASSERT_TRUE(h.catalog->add(h.pulled("org/Tiny-GGUF:Q8_0", "org/Tiny-GGUF/tiny-Q8_0.gguf")));
    ASSERT_TRUE(h.catalog->add_alias("tiny", "org/Tiny-GGUF:Q8_0"));
    // Removing the second name leaves the model and its file.
    ASSERT_TRUE(h.catalog->remove("TINY", true));
    EXPECT_EQ(h.names(), (std::vector<std::string>{"org/Tiny-GGUF:Q8_0"}));
    EXPECT_TRUE(fs::exists(h.dir / "models/org/Tiny-GGUF/tiny-Q8_0.gguf"));
    EXPECT_TRUE(h.catalog->find("org/Tiny-GGUF:Q8_0")->aliases.empty());
    ASSERT_TRUE(h.catalog->remove("org/Tiny-GGUF:Q8_0", true));
    EXPECT_TRUE(h.names().empty());
    EXPECT_FALSE(fs::exists(h.dir / "models/org"));
    EXPECT_TRUE(fs::exists(h.dir / "models"));
    auto again = h.catalog->remove("org/Tiny-GGUF:Q8_0", true);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, kiln::ErrorCode::model_not_found);
}

TEST(Catalog, ImportsStayWhereTheyAreAndSurviveRemove) {
    Home h;
    const auto outside = kiln::test::temp_dir() / "keep-Q8_0.gguf";
    fs::copy_file(kiln::test::tiny_model("qwen2", 512), outside);
    ModelEntry e;
    e.name   = "keep";
    e.source = "import";
    e.files  = {{outside.string(), "model", fs::file_size(outside), ""}};
    ASSERT_TRUE(h.catalog->add(e));
    EXPECT_EQ(h.names(), std::vector<std::string>{"keep"});
    ASSERT_TRUE(h.catalog->remove("keep", true));
    EXPECT_TRUE(fs::exists(outside));
    EXPECT_TRUE(h.names().empty());
}

TEST(Catalog, ReopensWithWhatWasRecorded) {
    Home h;
    ASSERT_TRUE(h.catalog->add(h.pulled("org/Tiny-GGUF:Q8_0", "org/Tiny-GGUF/tiny-Q8_0.gguf")));
    ASSERT_TRUE(h.catalog->add_alias("tiny", "org/Tiny-GGUF:Q8_0"));
    h.catalog.reset();
    auto c = Catalog::open(h.dir);
    ASSERT_TRUE(c);
    auto e = (*c)->find("tiny");
    ASSERT_TRUE(e) << e.error().message;
    EXPECT_EQ(e->files.front().sha256, std::string(64, 'a'));
}

TEST(Catalog, ABrokenFileIsSkippedWithAReasonAndReadOncePerChange) {
    Home h;
    const auto broken = h.dir / "models/me/Mine/broken-Q8_0.gguf";
    fs::create_directories(broken.parent_path());
    std::ofstream(broken) << "not a model, twenty-six b";
    std::vector<std::string> skipped;
    auto l = h.catalog->list(&skipped);
    ASSERT_TRUE(l);
    EXPECT_TRUE(l->empty());
    ASSERT_EQ(skipped.size(), 1u);
    EXPECT_NE(skipped[0].find("me/Mine/broken-Q8_0.gguf"), std::string::npos) << skipped[0];
    EXPECT_NE(skipped[0].find("not a GGUF file"), std::string::npos) << skipped[0];

    // Same size and mtime, other bytes: the cached verdict stands (the file
    // is not parsed again).
    const auto mtime = fs::last_write_time(broken);
    std::ofstream(broken) << "GGUF and then a torn header";
    fs::resize_file(broken, 25);
    fs::last_write_time(broken, mtime);
    skipped.clear();
    ASSERT_TRUE(h.catalog->list(&skipped));
    ASSERT_EQ(skipped.size(), 1u);
    EXPECT_NE(skipped[0].find("not a GGUF file"), std::string::npos) << skipped[0];

    // Changed: read again.
    fs::last_write_time(broken, mtime + std::chrono::seconds(5));
    skipped.clear();
    ASSERT_TRUE(h.catalog->list(&skipped));
    ASSERT_EQ(skipped.size(), 1u);
    EXPECT_NE(skipped[0].find("truncated or corrupt"), std::string::npos) << skipped[0];

    // Fixed: listed.
    fs::copy_file(kiln::test::tiny_model("qwen2", 512), broken, fs::copy_options::overwrite_existing);
    skipped.clear();
    EXPECT_EQ(h.names(), std::vector<std::string>{"me/Mine:Q8_0"});
}

TEST(Catalog, ACatalogFromAnOlderVersionRebuildsItsMetadataCache) {
    Home h;
    ASSERT_TRUE(h.catalog->add(h.pulled("org/Tiny-GGUF:Q8_0", "org/Tiny-GGUF/tiny-Q8_0.gguf")));
    h.catalog.reset();
    {
        sqlite3 * db = nullptr;
        ASSERT_EQ(sqlite3_open((h.dir / "kiln.db").c_str(), &db), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(db,
                               "DROP TABLE gguf_meta; CREATE TABLE gguf_meta(path TEXT PRIMARY KEY, size INTEGER, "
                               "mtime INTEGER, architecture TEXT); INSERT INTO gguf_meta VALUES('x', 1, 1, 'old');"
                               "PRAGMA user_version = 0;",
                               nullptr, nullptr, nullptr),
                  SQLITE_OK);
        sqlite3_close(db);
    }
    auto c = Catalog::open(h.dir);
    ASSERT_TRUE(c) << c.error().message;
    auto l = (*c)->list();
    ASSERT_TRUE(l) << l.error().message;
    ASSERT_EQ(l->size(), 1u);
    EXPECT_FALSE(l->front().info.architecture.empty());
    EXPECT_EQ(l->front().files.front().sha256, std::string(64, 'a'));
}

TEST(Catalog, AStatementThatCannotBePreparedIsAnErrorNotAnEmptyAnswer) {
    // Before: the aliases query failed to prepare and the list came back
    // without aliases, as if there were none.
    Home h;
    auto e = h.pulled("org/Tiny-GGUF:Q8_0", "org/Tiny-GGUF/tiny-Q8_0.gguf");
    e.aliases = {"tiny"};
    ASSERT_TRUE(h.catalog->add(e));
    {
        sqlite3 * db = nullptr;
        ASSERT_EQ(sqlite3_open((h.dir / "kiln.db").c_str(), &db), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(db, "ALTER TABLE aliases RENAME COLUMN model TO owner", nullptr, nullptr, nullptr), SQLITE_OK);
        sqlite3_close(db);
    }
    auto l = h.catalog->list();
    ASSERT_FALSE(l);
    EXPECT_EQ(l.error().code, kiln::ErrorCode::io);
    EXPECT_NE(l.error().message.find("no such column"), std::string::npos) << l.error().message;
}
