#include <hybrid/hybrid.hpp>

#include <iostream>

int main() {
  // PACKAGE-TEST: add a tensor call here once hybrid.hpp is complete, e.g.
  // if (hybrid::ones({2, 2}).size() != 4) return 1;
  std::cout << "ok\n";
  return 0;
}
