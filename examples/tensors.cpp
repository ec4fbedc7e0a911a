// Tensors in hybrid: creation, broadcasting, reductions, matmul and printing.
//
// A tensor is a cheap handle to shared storage: copying one shares the data,
// clone() makes a deep copy. Every operation runs eagerly and returns a new
// tensor.
#include <hybrid/hybrid.hpp>

#include <iostream>

int main() {
  using hybrid::Tensor;  // TensorT<float>; TensorT<double> works the same way

  // --- Creation ---------------------------------------------------------
  Tensor col = hybrid::from_vector<float>({1, 2, 3}, {3, 1});  // a (3, 1) column
  Tensor row = hybrid::arange(4);                               // (4,): 0 1 2 3
  Tensor twos = hybrid::full({2, 2}, 2.0f);

  hybrid::random::seed(42);                 // random tensors are reproducible
  Tensor noise = hybrid::random::normal({3, 4}, 0.0f, 0.1f);

  // --- Broadcasting -----------------------------------------------------
  // Shapes line up from the right; size-1 dims stretch, as in NumPy:
  // (3, 1) + (4,) -> (3, 4), element [i][j] = col[i] + row[j].
  Tensor grid = col + row;
  std::cout << "col + row =\n" << grid << "\n\n";

  // Scalars broadcast too, and elementwise functions apply to every element.
  Tensor scaled = hybrid::relu(grid * 0.5f - 1.0f) + noise;
  std::cout << "relu(grid * 0.5 - 1) + noise has shape " << scaled.shape() << "\n\n";

  // --- Reductions -------------------------------------------------------
  std::cout << "sum of all elements: " << hybrid::sum(grid).item() << '\n';
  std::cout << "column sums (axis 0): " << hybrid::sum(grid, 0) << '\n';
  std::cout << "row maxima (axis -1, keepdims):\n" << hybrid::max(grid, -1, /*keepdims=*/true) << '\n';
  std::cout << "softmax of the first row: " << hybrid::softmax(hybrid::slice(grid, 0, 0, 1)) << "\n\n";

  // --- Matrix products --------------------------------------------------
  // (3, 4) x (4, 2) -> (3, 2); leading batch dims would broadcast as well.
  Tensor weight = hybrid::reshape(hybrid::arange(8), {4, 2});
  Tensor product = hybrid::matmul(grid, weight);
  std::cout << "grid @ weight =\n" << product << "\n\n";
  std::cout << "transpose(twos @ twos) =\n" << hybrid::transpose(hybrid::matmul(twos, twos)) << "\n\n";

  // --- Handles and values -----------------------------------------------
  Tensor alias = grid;          // shares storage with grid
  Tensor copy = grid.clone();   // owns its own storage
  alias += 100.0f;              // in place: visible through grid, not copy
  std::cout << "grid[0][0] = " << grid.at({0, 0}) << ", copy[0][0] = " << copy.at({0, 0}) << '\n';

  // Long tensors print abbreviated, like NumPy.
  std::cout << hybrid::arange(2000) << '\n';

  // Mistakes throw hybrid::ShapeError naming the op and the shapes.
  try {
    hybrid::matmul(grid, grid);
  } catch (const hybrid::ShapeError& e) {
    std::cout << "error: " << e.what() << '\n';
  }
  return 0;
}
