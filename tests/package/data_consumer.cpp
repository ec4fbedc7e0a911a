// The data component as both consumer projects use it (COMPONENTS data,
// hybrid::data): a gzip idx file written with zlib, read back through
// hybrid/data.hpp, and batched.
#include <hybrid/data.hpp>
#include <zlib.h>

#include <cstdio>
#include <iostream>
#include <string>

int main() {
  const std::string path = "consumer-labels-idx1-ubyte.gz";
  const unsigned char file[] = {0, 0, 0x08, 1, 0, 0, 0, 4, 3, 1, 4, 1};
  gzFile f = gzopen(path.c_str(), "wb");
  if (!f || gzwrite(f, file, sizeof file) != static_cast<int>(sizeof file) || gzclose(f) != Z_OK) return 1;
  const hybrid::io::idx::Array labels = hybrid::io::idx::read(path);
  std::remove(path.c_str());
  const hybrid::Tensor y = hybrid::io::idx::to_tensor<float>(labels);
  hybrid::data::DataLoader loader(hybrid::data::ArrayDataset(y, y), 2);
  if (loader.size() != 2 || y.at({2}) != 4.0f) {
    std::cerr << "the idx file did not read back\n";
    return 1;
  }
  std::cout << "data ok\n";
  return 0;
}
