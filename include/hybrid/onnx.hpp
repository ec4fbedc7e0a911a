#pragma once
// ONNX import and export: everything in hybrid/hybrid.hpp plus
// onnx::import_model and onnx::export_model. Unlike hybrid/hybrid.hpp this
// needs ONNX and protobuf at link time: link the CMake target hybrid::onnx
// (find_package(hybrid CONFIG REQUIRED COMPONENTS onnx)).
//
//   auto net = hybrid::onnx::import_model<float>("lenet.onnx");  // from PyTorch
//   hybrid::Tensor y = (*net)(x);
//   hybrid::onnx::export_model(*net, "lenet-again.onnx");
#include "hybrid.hpp"
#include "onnx/model_file.hpp"
#include "onnx/import.hpp"
#include "onnx/export.hpp"
