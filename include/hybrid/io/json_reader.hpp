#pragma once
// The strict JSON reader both file readers share. A document is accepted
// only if it is RFC 8259 JSON with no byte-order mark, no object repeats a
// key, and no value nests deeper than the caller's limit: the top-level
// object is level 1, and an array or object inside a value of level n is at
// level n + 1.
//
// A SAX pass of our own checks all of that first, in time linear in the
// text; only text it accepted is then parsed into a DOM, by nlohmann's plain
// parser, so nothing nested too deeply is ever built. (nlohmann's callback
// parser would do both at once, but it scans the enclosing container every
// time an object ends: quadratic for an array or object of many objects.)
#include <algorithm>
#include <string>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/errors.hpp"

namespace hybrid::io {

namespace detail {

/// The SAX handler of the validating pass: stops at the first problem.
class StrictJsonCheck {
 public:
  using json = nlohmann::json;
  explicit StrictJsonCheck(int max_depth) : max_depth_(max_depth) {}

  const std::string& problem() const { return problem_; }

  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(json::number_integer_t) { return true; }
  bool number_unsigned(json::number_unsigned_t) { return true; }
  bool number_float(json::number_float_t, const json::string_t&) { return true; }
  bool string(json::string_t&) { return true; }
  bool binary(json::binary_t&) { return true; }

  bool start_object(std::size_t) {
    if (open_objects_ == objects_.size()) objects_.emplace_back();
    ++open_objects_;
    return open_level();
  }
  bool key(json::string_t& k) {
    if (objects_[open_objects_ - 1].add(k)) return true;
    problem_ = "an object repeats the key '" + k + "'";
    return false;
  }
  bool end_object() {
    objects_[--open_objects_].clear();
    --depth_;
    return true;
  }
  bool start_array(std::size_t) { return open_level(); }
  bool end_array() {
    --depth_;
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::json::exception& e) {
    problem_ = std::string("malformed JSON: ") + e.what();
    return false;
  }

 private:
  bool open_level() {
    if (++depth_ <= max_depth_) return true;
    problem_ = "values nest deeper than " + std::to_string(max_depth_) + " levels";
    return false;
  }

  /// The keys of one open object. Most objects have a few keys, which a
  /// list scanned linearly holds without allocating; larger ones use a set.
  class Keys {
   public:
    /// False if `k` is already there.
    bool add(const std::string& k) {
      if (many_.empty() && few_.size() < kFew) {
        if (std::find(few_.begin(), few_.end(), k) != few_.end()) return false;
        few_.push_back(k);
        return true;
      }
      if (many_.empty()) many_.insert(few_.begin(), few_.end());
      return many_.insert(k).second;
    }
    /// Empties the keys; a set is released, not cleared, since clear()
    /// would keep its buckets and make every later clear() cost as much.
    void clear() {
      few_.clear();
      if (!many_.empty()) many_ = std::unordered_set<std::string>();
    }

   private:
    static constexpr size_t kFew = 8;
    std::vector<std::string> few_;
    std::unordered_set<std::string> many_;
  };

  int max_depth_;
  int depth_ = 0;
  std::vector<Keys> objects_;  // slots for the open objects, reused by later ones
  size_t open_objects_ = 0;
  std::string problem_;
};

}  // namespace detail

/// Parses `[first, last)` as one strict JSON document (see above). Any
/// problem throws FormatError(`context` + what is wrong), so the caller's
/// context names the file (and the part of it, for a params header).
inline nlohmann::json read_strict_json(const char* first, const char* last, int max_depth,
                                       const std::string& context) {
  if (last - first >= 3 && std::string(first, 3) == "\xEF\xBB\xBF")
    throw FormatError(context + "starts with a UTF-8 byte-order mark, which the format does not allow");
  detail::StrictJsonCheck check(max_depth);
  if (!nlohmann::json::sax_parse(first, last, &check)) {
    // sax_parse reports every syntax error through parse_error; the fallback is only for safety.
    throw FormatError(context + (check.problem().empty() ? "malformed JSON" : check.problem()));
  }
  try {
    return nlohmann::json::parse(first, last);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(context + "malformed JSON: " + e.what());
  }
}

}  // namespace hybrid::io
