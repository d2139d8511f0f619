// Routes that manage models on disk rather than run them: POST /api/pull.
#pragma once

#include <filesystem>

#include "store/hf_client.h"

namespace httplib {
class Server;
}

namespace kiln::server {

struct StoreOptions {
    std::filesystem::path home;  // $KILN_HOME: kiln.db and models/
    store::HfOptions      hf;
};

// Each request opens its own catalog (SQLite serializes writers) and runs
// on its handler thread; a client that goes away stops its download, which
// resumes on the next pull.
void register_store_routes(httplib::Server & http, const StoreOptions & options);

}  // namespace kiln::server
