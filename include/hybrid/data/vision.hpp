#pragma once
// MNIST and Fashion-MNIST from their idx files (mxnet.gluon.data.vision):
//
//   hybrid::data::vision::FashionMNIST train;                 // Debian's copy
//   hybrid::data::vision::FashionMNIST test(hybrid::data::vision::kFashionMNISTRoot, false);
//   train.features();   // (60000, 1, 28, 28), pixels in [0, 1]
//   train.labels();     // (60000,), class indices 0..9
//
// The root holds train-images-idx3-ubyte and train-labels-idx1-ubyte (the
// training set) and t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (the
// test set), each gzip-compressed with a .gz suffix, as Debian's
// dataset-fashion-mnist installs them, or plain. Reading needs zlib (CMake
// target hybrid::data).
#include <filesystem>
#include <string>
#include <utility>

#include "../core/errors.hpp"
#include "../core/tensor.hpp"
#include "../io/idx.hpp"
#include "dataset.hpp"

namespace hybrid::data::vision {

/// Where Debian's dataset-fashion-mnist package installs the files.
inline constexpr const char* kFashionMNISTRoot = "/usr/share/datasets/fashion-mnist";

namespace detail {

/// `root/name.gz` if it exists, else `root/name` if that does; Error naming
/// both otherwise.
inline std::string locate(const std::string& dataset, const std::string& root, const std::string& name) {
  const std::filesystem::path base = std::filesystem::path(root) / name;
  const std::string gz = base.string() + ".gz", plain = base.string();
  std::error_code ec;
  if (std::filesystem::is_regular_file(gz, ec)) return gz;
  if (std::filesystem::is_regular_file(plain, ec)) return plain;
  std::string hint = "pass the directory that holds the idx files as root";
  if (dataset == "FashionMNIST")
    hint = "install Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist), which puts them in " +
           std::string(kFashionMNISTRoot) + ", or " + hint;
  throw Error(dataset + ": cannot find '" + gz + "' (nor '" + plain + "'); " + hint);
}

/// Images (N, 1, rows, cols) in [0, 1] and labels (N,) from one split's pair of files.
template <class T>
std::pair<TensorT<T>, TensorT<T>> load(const std::string& dataset, const std::string& root, bool train) {
  const std::string split = train ? "train" : "t10k";
  const std::string images_path = locate(dataset, root, split + "-images-idx3-ubyte");
  const std::string labels_path = locate(dataset, root, split + "-labels-idx1-ubyte");
  const io::idx::Array images = io::idx::read(images_path);
  const io::idx::Array labels = io::idx::read(labels_path);
  if (images.type != io::idx::Type::ubyte || images.shape.size() != 3)
    throw FormatError(dataset + ": idx file '" + images_path + "' holds a " + io::idx::to_string(images.type) +
                      " array of shape " + to_string(images.shape) + ", expected ubyte images (N, rows, cols)");
  if (labels.type != io::idx::Type::ubyte || labels.shape.size() != 1)
    throw FormatError(dataset + ": idx file '" + labels_path + "' holds a " + io::idx::to_string(labels.type) +
                      " array of shape " + to_string(labels.shape) + ", expected ubyte labels (N,)");
  if (images.shape[0] != labels.shape[0])
    throw FormatError(dataset + ": '" + images_path + "' holds " + std::to_string(images.shape[0]) + " images but '" +
                      labels_path + "' holds " + std::to_string(labels.shape[0]) + " labels");
  TensorT<T> x = io::idx::to_tensor<T>(images, 255.0);
  x = hybrid::detail::TensorAccess::view(x, Shape{images.shape[0], 1, images.shape[1], images.shape[2]});
  return {std::move(x), io::idx::to_tensor<T>(labels)};
}

}  // namespace detail

/// MNIST handwritten digits: 60000 training and 10000 test images, 28×28.
template <class T>
class MNISTT : public ArrayDatasetT<T> {
 public:
  /// The training set (`train`) or the test set from the idx files in `root`.
  explicit MNISTT(const std::string& root, bool train = true)
      : ArrayDatasetT<T>(detail::load<T>("MNIST", root, train)), train_(train) {}

  bool train() const { return train_; }

 protected:
  MNISTT(const std::string& dataset, const std::string& root, bool train)
      : ArrayDatasetT<T>(detail::load<T>(dataset, root, train)), train_(train) {}

 private:
  bool train_;
};

/// Fashion-MNIST (Zalando): MNIST's layout with 10 classes of clothing.
template <class T>
class FashionMNISTT : public MNISTT<T> {
 public:
  explicit FashionMNISTT(const std::string& root = kFashionMNISTRoot, bool train = true)
      : MNISTT<T>("FashionMNIST", root, train) {}
};

using MNIST = MNISTT<float>;
using FashionMNIST = FashionMNISTT<float>;

}  // namespace hybrid::data::vision
