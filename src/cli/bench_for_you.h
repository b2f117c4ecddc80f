// `clapsearch bench --for-you` (bench_for_you.cpp).
#pragma once
#include <string>

namespace clap::cli {

int run_for_you_bench(const std::string& db, const std::string& user, int repeat, bool json);

}  // namespace clap::cli
