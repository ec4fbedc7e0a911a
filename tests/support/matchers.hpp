#pragma once
// What(m): matches an exception whose what() satisfies the string matcher m,
// so CHECK_THROWS_MATCHES can check an error's type and part of its message
// at once (Catch2 2.x's Message only compares the whole text).
#include <catch2/catch.hpp>
#include <exception>
#include <string>
#include <utility>

namespace testing {

template <class StringMatcher>
class WhatMatcher : public Catch::MatcherBase<std::exception> {
 public:
  explicit WhatMatcher(StringMatcher m) : m_(std::move(m)) {}
  bool match(const std::exception& e) const override { return m_.match(std::string(e.what())); }
  std::string describe() const override { return "has a message that " + m_.toString(); }

 private:
  StringMatcher m_;
};

template <class StringMatcher>
WhatMatcher<StringMatcher> What(StringMatcher m) {
  return WhatMatcher<StringMatcher>(std::move(m));
}

}  // namespace testing
