// pcap_split OUTDIR PREFIX FILE.pcap: writes every frame of a pcap file to
// OUTDIR/PREFIX-NNN.bin. Used to turn the captures in tests/data/ into
// fuzz seed corpora (see tests/fuzz/corpus/README.md).
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "wire/pcap.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: pcap_split OUTDIR PREFIX FILE.pcap\n");
    return 2;
  }
  std::ifstream in(argv[3], std::ios::binary);
  const std::vector<char> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto reader = tapir::wire::PcapReader::parse(
      {reinterpret_cast<const std::byte*>(file.data()), file.size()});  // NOLINT
  if (!reader) {
    std::fprintf(stderr, "pcap_split: %s: %s\n", argv[3], tapir::wire::parse_error_name(reader.error()));
    return 1;
  }
  int n = 0;
  while (true) {
    auto rec = reader->next();
    if (!rec) {
      std::fprintf(stderr, "pcap_split: %s: record %d: %s\n", argv[3], n,
                   tapir::wire::parse_error_name(rec.error()));
      return 1;
    }
    if (!rec->has_value()) break;
    char name[64];
    std::snprintf(name, sizeof name, "%s-%03d.bin", argv[2], n++);
    std::ofstream out(std::string(argv[1]) + "/" + name, std::ios::binary);
    out.write(reinterpret_cast<const char*>((*rec)->data.data()),  // NOLINT
              static_cast<std::streamsize>((*rec)->data.size()));
  }
  std::printf("%s: %d frames\n", argv[3], n);
  return 0;
}
