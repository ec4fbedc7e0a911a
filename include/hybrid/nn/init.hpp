#pragma once
// Parameter initializers (Gluon's mxnet.init): each makes a fresh tensor of a
// given shape. Random ones draw from hybrid::random, so a model initialized
// after random::seed(s) is the same on every run and platform.
#include <cmath>
#include <memory>
#include <sstream>
#include <string>

#include "../core/random.hpp"
#include "../api/creation.hpp"
#include "../trace/trace_state.hpp"

namespace hybrid::nn::init {

template <class T>
struct Tag {};

namespace detail {
/// Shortest readable form of a number for names: 0.07, not 0.070000.
inline std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
}  // namespace detail

/// Base of every initializer. Parameters keep a clone() of the initializer
/// when their shape is not known yet (deferred initialization).
class Initializer {
 public:
  virtual ~Initializer() = default;
  virtual std::shared_ptr<const Initializer> clone() const = 0;
  virtual std::string name() const = 0;

  /// A new eager tensor of `shape` for the parameter `param` (named in
  /// errors), even when called from a traced forward (deferred initialization).
  template <class T>
  TensorT<T> make(const Shape& shape, const std::string& param) const {
    trace::TraceScope<T> eager(nullptr);  // values, not graph constants
    return do_make(shape, param, Tag<T>{});
  }

 protected:
  // One virtual per element type: virtual functions cannot be templates.
  virtual TensorT<float> do_make(const Shape& shape, const std::string& param, Tag<float>) const = 0;
  virtual TensorT<double> do_make(const Shape& shape, const std::string& param, Tag<double>) const = 0;
};

namespace detail {
/// Implements the per-type virtuals through Derived::generate<T>(shape, param).
template <class Derived>
class InitializerBase : public Initializer {
 public:
  std::shared_ptr<const Initializer> clone() const override {
    return std::make_shared<Derived>(static_cast<const Derived&>(*this));
  }

 protected:
  TensorT<float> do_make(const Shape& s, const std::string& p, Tag<float>) const override {
    return static_cast<const Derived&>(*this).template generate<float>(s, p);
  }
  TensorT<double> do_make(const Shape& s, const std::string& p, Tag<double>) const override {
    return static_cast<const Derived&>(*this).template generate<double>(s, p);
  }
};
}  // namespace detail

/// Uniform in [-scale, scale]; Gluon's default initializer is Uniform(0.07).
class Uniform : public detail::InitializerBase<Uniform> {
 public:
  explicit Uniform(double scale = 0.07) : scale_(scale) {}
  std::string name() const override { return "Uniform(" + detail::num(scale_) + ")"; }
  template <class T>
  TensorT<T> generate(const Shape& s, const std::string&) const {
    return random::uniform<T>(s, static_cast<T>(-scale_), static_cast<T>(scale_));
  }

 private:
  double scale_;
};

/// Normal with mean 0 and standard deviation sigma (Gluon's default sigma 0.01).
class Normal : public detail::InitializerBase<Normal> {
 public:
  explicit Normal(double sigma = 0.01) : sigma_(sigma) {}
  std::string name() const override { return "Normal(" + detail::num(sigma_) + ")"; }
  template <class T>
  TensorT<T> generate(const Shape& s, const std::string&) const {
    return random::normal<T>(s, T(0), static_cast<T>(sigma_));
  }

 private:
  double sigma_;
};

/// Every element equal to `value`.
class Constant : public detail::InitializerBase<Constant> {
 public:
  explicit Constant(double value) : value_(value) {}
  std::string name() const override { return "Constant(" + detail::num(value_) + ")"; }
  template <class T>
  TensorT<T> generate(const Shape& s, const std::string&) const {
    return full<T>(s, static_cast<T>(value_));
  }

 private:
  double value_;
};

class Zero : public Constant {
 public:
  Zero() : Constant(0) {}
  std::shared_ptr<const Initializer> clone() const override { return std::make_shared<Zero>(); }
  std::string name() const override { return "Zero()"; }
};

class One : public Constant {
 public:
  One() : Constant(1) {}
  std::shared_ptr<const Initializer> clone() const override { return std::make_shared<One>(); }
  std::string name() const override { return "One()"; }
};

/// Xavier/Glorot: scale = sqrt(magnitude / factor), where factor is fan_in,
/// fan_out or their average. Defaults are Gluon's: uniform, avg, magnitude 3.
class Xavier : public detail::InitializerBase<Xavier> {
 public:
  enum class Distribution { uniform, gaussian };
  enum class Factor { avg, in, out };

  explicit Xavier(Distribution rnd = Distribution::uniform, Factor factor = Factor::avg, double magnitude = 3)
      : rnd_(rnd), factor_(factor), magnitude_(magnitude) {}
  std::string name() const override { return "Xavier()"; }

  template <class T>
  TensorT<T> generate(const Shape& s, const std::string& param) const {
    // Like MXNet: needs at least 2 dims; extra dims form the receptive field.
    if (s.size() < 2)
      throw Error("Xavier: parameter '" + param + "' has shape " + to_string(s) +
                  "; Xavier needs at least 2 dimensions (initialize vectors such as biases otherwise)");
    double field = 1;
    for (int i = 2; i < s.size(); ++i) field *= static_cast<double>(s[i]);
    const double fan_in = static_cast<double>(s[1]) * field, fan_out = static_cast<double>(s[0]) * field;
    const double factor = factor_ == Factor::in ? fan_in : factor_ == Factor::out ? fan_out : (fan_in + fan_out) / 2;
    const double scale = std::sqrt(magnitude_ / factor);
    if (rnd_ == Distribution::gaussian) return random::normal<T>(s, T(0), static_cast<T>(scale));
    return random::uniform<T>(s, static_cast<T>(-scale), static_cast<T>(scale));
  }

 private:
  Distribution rnd_;
  Factor factor_;
  double magnitude_;
};

}  // namespace hybrid::nn::init
