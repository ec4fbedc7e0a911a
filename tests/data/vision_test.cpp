// MNIST and Fashion-MNIST: hand-made idx files in a temporary root, the
// errors for missing and mismatched files, and Debian's real Fashion-MNIST
// when dataset-fashion-mnist is installed.
#include <zlib.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <hybrid/data.hpp>

#include "../support/files.hpp"
#include "../support/matchers.hpp"

namespace {

using hybrid::Shape;
using testing::What;
namespace vision = hybrid::data::vision;

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string idx_file(uint8_t type, const std::vector<uint32_t>& dims, const std::string& data) {
  std::string s{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) s += be32(d);
  return s + data;
}

void write_gz(const std::string& path, const std::string& raw) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, raw.data(), static_cast<unsigned>(raw.size())) == static_cast<int>(raw.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

/// A root with `n` images of 28×28 (pixel k of image i is (i + k) % 256) and
/// labels i % 10, for one split, gzip-compressed or plain.
void write_split(const testing::TempDir& dir, const std::string& split, uint32_t n, bool gz) {
  std::string pixels, labels;
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t k = 0; k < 28 * 28; ++k) pixels += static_cast<char>((i + k) % 256);
    labels += static_cast<char>(i % 10);
  }
  const std::string images = idx_file(0x08, {n, 28, 28}, pixels), label_file = idx_file(0x08, {n}, labels);
  const std::string base_images = dir.file(split + "-images-idx3-ubyte"), base_labels = dir.file(split + "-labels-idx1-ubyte");
  if (gz) {
    write_gz(base_images + ".gz", images);
    write_gz(base_labels + ".gz", label_file);
  } else {
    testing::write_bytes(base_images, images);
    testing::write_bytes(base_labels, label_file);
  }
}

std::string root_of(const testing::TempDir& dir) {
  return std::filesystem::path(dir.file("x")).parent_path().string();
}

}  // namespace

TEST_CASE("MNIST reads both splits from gzip or plain idx files", "[data][vision]") {
  testing::TempDir dir;
  write_split(dir, "train", 12, true);
  write_split(dir, "t10k", 5, false);
  const std::string root = root_of(dir);

  const vision::MNIST train(root);
  CHECK(train.train());
  CHECK(train.size() == 12);
  CHECK(train.features().shape() == Shape{12, 1, 28, 28});
  CHECK(train.labels().shape() == Shape{12});
  CHECK(train.features().at({3, 0, 0, 0}) == 3.0f / 255.0f);
  CHECK(train.features().at({3, 0, 1, 2}) == static_cast<float>((3 + 30) % 256) / 255.0f);
  CHECK(train.labels().at({11}) == 1.0f);
  const auto [image, label] = train[4];
  CHECK(image.shape() == Shape{1, 28, 28});
  CHECK(label.item() == 4.0f);

  const vision::MNIST test(root, false);
  CHECK_FALSE(test.train());
  CHECK(test.size() == 5);

  const vision::MNISTT<double> twice(root, false);
  CHECK(twice.features().at({4, 0, 27, 27}) == static_cast<double>((4 + 28 * 28 - 1) % 256) / 255.0);

  hybrid::data::DataLoader loader(train, 5, false, "discard");
  CHECK(loader.size() == 2);
  for (const auto& [x, y] : loader) {
    CHECK(x.shape() == Shape{5, 1, 28, 28});
    CHECK(y.shape() == Shape{5});
  }
}

TEST_CASE("MNIST names the missing file and how to get it", "[data][vision]") {
  testing::TempDir dir;
  const std::string root = root_of(dir);
  const std::string gz = (std::filesystem::path(root) / "train-images-idx3-ubyte.gz").string();
  const std::string plain = (std::filesystem::path(root) / "train-images-idx3-ubyte").string();
  CHECK_THROWS_MATCHES(vision::FashionMNIST(root), hybrid::Error,
                       Catch::Message("FashionMNIST: cannot find '" + gz + "' (nor '" + plain +
                                      "'); install Debian's dataset-fashion-mnist package (apt-get install "
                                      "dataset-fashion-mnist), which puts them in /usr/share/datasets/fashion-mnist, "
                                      "or pass the directory that holds the idx files as root"));
  CHECK_THROWS_MATCHES(vision::MNIST(root), hybrid::Error,
                       Catch::Message("MNIST: cannot find '" + gz + "' (nor '" + plain +
                                      "'); pass the directory that holds the idx files as root"));
  // Only the test split present: the training set still names its own file.
  write_split(dir, "t10k", 2, true);
  CHECK_NOTHROW(vision::MNIST(root, false));
  CHECK_THROWS_MATCHES(vision::MNIST(root, true), hybrid::Error, What(Catch::Contains("'" + gz + "'")));
}

TEST_CASE("MNIST rejects files that do not hold images and labels", "[data][vision]") {
  testing::TempDir dir;
  const std::string root = root_of(dir);
  write_split(dir, "train", 3, false);
  const std::string labels = dir.file("train-labels-idx1-ubyte"), images = dir.file("train-images-idx3-ubyte");
  SECTION("counts that differ") {
    testing::write_bytes(labels, idx_file(0x08, {2}, std::string(2, '\1')));
    CHECK_THROWS_MATCHES(vision::MNIST(root), hybrid::FormatError,
                         Catch::Message("MNIST: '" + images + "' holds 3 images but '" + labels + "' holds 2 labels"));
  }
  SECTION("labels of the wrong rank") {
    testing::write_bytes(labels, idx_file(0x08, {3, 1}, std::string(3, '\1')));
    CHECK_THROWS_MATCHES(vision::MNIST(root), hybrid::FormatError,
                         Catch::Message("MNIST: idx file '" + labels +
                                        "' holds a ubyte array of shape (3, 1), expected ubyte labels (N,)"));
  }
  SECTION("images of another type") {
    testing::write_bytes(images, idx_file(0x0C, {1, 1, 1}, std::string(4, '\0')));
    CHECK_THROWS_MATCHES(vision::MNIST(root), hybrid::FormatError,
                         Catch::Message("MNIST: idx file '" + images +
                                        "' holds a int32 array of shape (1, 1, 1), expected ubyte images (N, rows, cols)"));
  }
  SECTION("a truncated image file") {
    const std::string bytes = testing::read_bytes(images);
    testing::write_bytes(images, bytes.substr(0, bytes.size() - 1));
    CHECK_THROWS_MATCHES(vision::MNIST(root), hybrid::FormatError,
                         What(Catch::StartsWith("idx file '" + images + "': truncated")));
  }
}

TEST_CASE("Fashion-MNIST from Debian's dataset-fashion-mnist", "[data][vision][fashion-mnist]") {
  const std::string root = vision::kFashionMNISTRoot;
  if (!std::filesystem::exists(std::filesystem::path(root) / "train-images-idx3-ubyte.gz")) {
    WARN("skipped: " << root << " has no Fashion-MNIST files (apt-get install dataset-fashion-mnist)");
    return;
  }
  const vision::FashionMNIST train;
  const vision::FashionMNIST test(root, false);
  for (const vision::FashionMNIST* split : {&train, &test}) {
    const int64_t n = split == &train ? 60000 : 10000;
    CHECK(split->size() == n);
    CHECK(split->features().shape() == Shape{n, 1, 28, 28});
    CHECK(split->labels().shape() == Shape{n});
    const auto pixels = split->features().to_vector();
    const auto [lo, hi] = std::minmax_element(pixels.begin(), pixels.end());
    CHECK(*lo == 0.0f);
    CHECK(*hi == 1.0f);
    std::vector<int64_t> per_class(10, 0);
    int64_t not_a_class = 0;
    for (float y : split->labels().to_vector()) {
      if (y >= 0.0f && y <= 9.0f && y == static_cast<float>(static_cast<int>(y))) ++per_class[static_cast<size_t>(y)];
      else ++not_a_class;
    }
    CHECK(not_a_class == 0);  // every label a class index 0..9
    for (int64_t c : per_class) CHECK(c == n / 10);  // Fashion-MNIST is balanced
  }
}
