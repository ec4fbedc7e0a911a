// random::state / set_state: the generator's state as text, for checkpoints.
#include <catch2/catch.hpp>

#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <hybrid/core/random.hpp>

using hybrid::Error;

TEST_CASE("random::state and set_state round-trip; other text is refused and changes nothing", "[core][random]") {
  hybrid::random::seed(7);
  const std::string saved = hybrid::random::state();
  const std::vector<float> first = hybrid::random::uniform<float>({5}).to_vector();
  const std::vector<int64_t> order = hybrid::random::permutation(9);
  CHECK(hybrid::random::state() != saved);
  hybrid::random::set_state(saved);
  CHECK(hybrid::random::state() == saved);
  CHECK(hybrid::random::uniform<float>({5}).to_vector() == first);
  CHECK(hybrid::random::permutation(9) == order);

  // The same state as seed(7) gives: the text is the standard engine's.
  std::mt19937_64 reference(7);
  hybrid::random::set_state(saved);
  CHECK(hybrid::random::state() == [&] {
    std::ostringstream out;
    out << reference;
    return out.str();
  }());

  const std::string after = hybrid::random::state();
  CHECK_THROWS_MATCHES(hybrid::random::set_state("12 34"), Error,
                       Catch::Message("random::set_state: not a random generator state (expected the text of "
                                      "random::state(), got 5 characters)"));
  CHECK_THROWS_AS(hybrid::random::set_state(saved + " 5"), Error);
  CHECK_THROWS_AS(hybrid::random::set_state(""), Error);
  CHECK(hybrid::random::state() == after);
}
