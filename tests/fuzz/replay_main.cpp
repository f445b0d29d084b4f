// Corpus replay: the main() that g++ builds link with a fuzz target in
// place of libFuzzer's. Runs every file under the given directories (or
// the given files) through LLVMFuzzerTestOneInput once.
//
// An empty corpus is an error: a replay test that runs nothing cannot fail.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fs = std::filesystem;

namespace {

bool run_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot read %s\n", p.c_str());
    return false;
  }
  std::vector<char> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Copy into an exactly sized heap buffer so ASan sees reads past the end.
  std::vector<uint8_t> data(buf.begin(), buf.end());
  LLVMFuzzerTestOneInput(data.empty() ? nullptr : data.data(), data.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  size_t runs = 0;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg(argv[i]);
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      for (const auto& entry : fs::recursive_directory_iterator(arg)) {
        if (!entry.is_regular_file()) continue;
        if (!run_file(entry.path())) return 1;
        ++runs;
      }
    } else if (fs::is_regular_file(arg, ec)) {
      if (!run_file(arg)) return 1;
      ++runs;
    } else {
      std::fprintf(stderr, "replay: no such corpus: %s\n", argv[i]);
      return 1;
    }
  }
  if (runs == 0) {
    std::fprintf(stderr, "replay: corpus is empty; nothing was tested\n");
    return 1;
  }
  std::printf("replay: %zu inputs ran cleanly\n", runs);
  return 0;
}
