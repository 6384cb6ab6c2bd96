#include "common/test_common.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>

#include "distclust/rng.h"
#include "synth/synth_features.h"

namespace distclust::test {

std::string tmp(const std::string& name) {
  return testing::TempDir() + "/dc-test-" + std::to_string(::getpid()) + "-" + name;
}

std::string shared_tmp(Communicator& comm, const std::string& name) {
  const char* base = std::getenv("DC_TEST_TMP");
  const std::string dir = base ? base : "/tmp";
  const std::string cmd = "mkdir -p " + dir;
  if (comm.rank() == 0 && std::system(cmd.c_str()) != 0) ADD_FAILURE() << "cannot create " << dir;
  comm.barrier();
  return dir + "/" + name + "-np" + std::to_string(comm.size()) + ".h5";
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  ASSERT_TRUE(static_cast<bool>(f)) << "cannot write " << path;
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  ASSERT_TRUE(static_cast<bool>(f)) << "cannot write " << path;
}

bool zero_bytes_of(const std::string& path, const void* data, size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t at = file.find(std::string(static_cast<const char*>(data), n));
  if (at == std::string::npos) return false;
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(std::streamoff(at));
  f.write(std::string(n, '\0').data(), std::streamsize(n));
  return static_cast<bool>(f);
}

std::vector<float> randn(int64_t n, int64_t d, uint64_t seed, uint64_t stream) {
  std::vector<float> v(static_cast<size_t>(n * d));
  KeyedRng r(seed, stream);
  for (auto& x : v) x = float(r.normal());
  return v;
}

FeatureBlock mixture(int64_t n, int d, int k, double noise, int64_t seed, int rank, int ranks) {
  SynthFeaturesParams p;
  p.n = n, p.d = d, p.k = k, p.noise = noise, p.seed = seed;
  return synth_features(p, rank, ranks);
}

FeatureBlock far_groups_beside_blobs(float gap, uint32_t seed) {
  FeatureBlock b = mixture(20000, 16, 7, 0.3, 5);
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.f, 0.05f);
  for (int64_t i = 0; i < 20000; i += 10) {
    const int g = int(i / 10 % 2);
    for (int j = 0; j < 16; ++j) b.x[size_t(i * 16 + j)] = 1e4f + (g && j == 0 ? gap : 0.f) + normal(gen);
    b.labels[size_t(i)] = 7 + g;
  }
  return b;
}

std::unique_ptr<Communicator> world() { return make_communicator(CommParams{"auto"}); }

}  // namespace distclust::test
