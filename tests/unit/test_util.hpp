#pragma once
// Helpers shared by unit tests: reading fixture files and captured frames.

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "wire/pcap.hpp"

namespace tapir::test {

// Path of a fixture under tests/data/.
inline std::string data_path(const std::string& name) {
  return std::string(TAPIR_TEST_DATA_DIR) + "/" + name;
}

inline std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Every frame of a pcap fixture, copied out. Empty if the file is missing
// or malformed: tests assert on the count, so that cannot pass silently.
inline std::vector<std::vector<uint8_t>> pcap_frames(const std::string& name) {
  std::vector<std::vector<uint8_t>> frames;
  const auto file = read_file(data_path(name));
  auto reader = wire::PcapReader::parse(wire::as_bytes(file));
  if (!reader) return frames;
  while (true) {
    auto rec = reader->next();
    if (!rec || !rec->has_value()) break;
    const auto* p = reinterpret_cast<const uint8_t*>((*rec)->data.data());  // NOLINT
    frames.emplace_back(p, p + (*rec)->data.size());
  }
  return frames;
}

}  // namespace tapir::test
