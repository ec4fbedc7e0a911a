#pragma once
// hybrid's data layer with its file readers: everything in hybrid/hybrid.hpp
// plus the gzip and idx readers and the MNIST and Fashion-MNIST datasets.
// Unlike hybrid/hybrid.hpp this needs zlib at link time: link the CMake
// target hybrid::data (find_package(hybrid CONFIG REQUIRED COMPONENTS data)).
//
//   hybrid::random::seed(1);
//   hybrid::data::vision::FashionMNIST train;   // /usr/share/datasets/fashion-mnist
//   hybrid::data::DataLoader loader(train, 256, /*shuffle=*/true);
//   for (auto& [images, labels] : loader) { ... }   // (256, 1, 28, 28), (256,)
#include "hybrid.hpp"
#include "io/gzip.hpp"
#include "io/idx.hpp"
#include "data/dataset.hpp"
#include "data/dataloader.hpp"
#include "data/vision.hpp"
