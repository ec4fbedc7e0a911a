#pragma once
// Optimizers (namespace hybrid::optim): the update rules a Trainer applies
// to each parameter after backward(). They work on raw arrays, one
// parameter index at a time, and know nothing of blocks or parameters:
//
//   auto opt = optim::create("adam", {{"learning_rate", 1e-3}, {"wd", 1e-4}});
//   opt->update(/*index=*/0, weight, grad, n);   // weight and grad: n values each
//
// Options use Gluon's names (learning_rate, wd, clip_gradient, rescale_grad,
// momentum, beta1, beta2, epsilon). Every update first forms the gradient
//   r = rescale_grad * grad_scale * grad     (grad_scale: 1 / batch_size from the Trainer)
// and clip(x) = min(max(x, -clip_gradient), clip_gradient) when
// clip_gradient >= 0 (a negative value, the default, turns clipping off).
// The rules, with t the parameter's step count (1 on its first update):
//
//   SGD    g = clip(r) + wd * w
//          momentum > 0:  mom = momentum * mom - lr * g;  w += mom   (MXNet sgd_mom_update)
//          momentum = 0:  w -= lr * g                                (MXNet sgd_update)
//   Adam   g = clip(r + wd * w)                                      (MXNet adam_update: the
//          m = beta1 * m + (1 - beta1) * g                            weight decay is clipped
//          v = beta2 * v + (1 - beta2) * g^2                          together with the gradient)
//          lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
//          w -= lr_t * m / (sqrt(v) + epsilon)
//   AdamW  g = clip(r)                                               (PyTorch AdamW: decoupled
//          w -= lr * wd * w                                           weight decay, eps inside
//          m, v as Adam                                               the bias correction)
//          w -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + epsilon)
//
// Each parameter's update is one loop over its elements that reads the
// gradient once and writes the value and the state once, in T; the scalars
// (lr_t, the bias corrections) are computed once per call in double. States
// are allocated on a parameter's first update; later updates allocate
// nothing. Large parameters split the loop into blocks on the thread pool
// (kernels/parallel.hpp's cost model, blocks fixed by the size alone); each
// element's update is independent, so results do not depend on the thread
// count.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/dtype.hpp"
#include "../core/errors.hpp"
#include "../kernels/parallel.hpp"

namespace hybrid::optim {

/// Options by Gluon's names, e.g. {{"learning_rate", 0.1}, {"momentum", 0.9}}.
using Options = std::map<std::string, double>;

/// Every option's value. Which ones an optimizer reads is its option list.
struct Hyperparameters {
  double learning_rate = 0.01;
  double wd = 0;
  double clip_gradient = -1;  // < 0: off
  double rescale_grad = 1;
  double momentum = 0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
};

/// One parameter's optimizer state: its arrays (state_names() of them, each
/// `size` values, stored one after another) and how many updates it took.
/// steps == 0 means no state yet: the next update allocates it.
struct ParamState {
  DType dtype = DType::float32;
  int64_t size = 0;
  int64_t steps = 0;
  std::vector<float> f32;   // the arrays when dtype is float32
  std::vector<double> f64;  // the arrays when dtype is float64

  template <class T>
  std::vector<T>& values() {
    if constexpr (std::is_same_v<T, float>) return f32; else return f64;
  }
  template <class T>
  const std::vector<T>& values() const {
    if constexpr (std::is_same_v<T, float>) return f32; else return f64;
  }
  bool operator==(const ParamState& o) const {
    return dtype == o.dtype && size == o.size && steps == o.steps && f32 == o.f32 && f64 == o.f64;
  }
  bool operator!=(const ParamState& o) const { return !(*this == o); }
};

namespace detail {

/// Element-steps per element of an update, for the cost model: SGD's few
/// multiply-adds; Adam's moments, square root and division.
inline constexpr int64_t kSgdCost = 4, kAdamCost = 12;

/// fn(lo, hi) over blocks of [0, n) on the pool, each worth a chunk.
template <class Fn>
void for_each_block(int64_t n, int64_t cost_per_element, Fn&& fn) {
  parallel_for(0, n, kernels::grain_for(cost_per_element), fn);
}

/// The shortest text that reads back as `v` ("0.1", "1e-08", "-1").
inline std::string format_value(double v) {
  for (int precision = 1; precision <= 17; ++precision) {
    std::ostringstream s;
    s.precision(precision);
    s << v;
    if (precision == 17 || std::strtod(s.str().c_str(), nullptr) == v) return s.str();
  }
  return "";
}

inline std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

/// What values an option admits.
enum class Rule { non_negative, positive, unit_interval, any };

struct OptionDesc {
  const char* name;
  double Hyperparameters::*field;
  Rule rule;
};

inline constexpr OptionDesc kOptions[] = {
    {"learning_rate", &Hyperparameters::learning_rate, Rule::non_negative},
    {"wd", &Hyperparameters::wd, Rule::non_negative},
    {"clip_gradient", &Hyperparameters::clip_gradient, Rule::any},
    {"rescale_grad", &Hyperparameters::rescale_grad, Rule::positive},
    {"momentum", &Hyperparameters::momentum, Rule::non_negative},
    {"beta1", &Hyperparameters::beta1, Rule::unit_interval},
    {"beta2", &Hyperparameters::beta2, Rule::unit_interval},
    {"epsilon", &Hyperparameters::epsilon, Rule::non_negative},
};

inline const OptionDesc* find_option(const std::string& name) {
  for (const auto& d : kOptions)
    if (name == d.name) return &d;
  return nullptr;
}

}  // namespace detail

/// The base of every optimizer: options, per-parameter states, and the
/// update entry points for float and double arrays.
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// "sgd", "adam" or "adamw": the name create() takes.
  const std::string& name() const { return name_; }
  /// The options this optimizer takes, in a fixed order.
  const std::vector<std::string>& option_names() const { return option_names_; }
  /// Every option this optimizer takes with its current value.
  Options options() const {
    Options out;
    for (const auto& n : option_names_) out[n] = hyper_.*(detail::find_option(n)->field);
    return out;
  }
  /// One option's value; Error for an option this optimizer does not take.
  double option(const std::string& name) const { return hyper_.*(checked(name)->field); }
  /// Changes one option; Error for an unknown option or an invalid value.
  void set_option(const std::string& name, double value) {
    const detail::OptionDesc* d = checked(name);
    validate(*d, value);
    before_set(name, value);
    hyper_.*(d->field) = value;
  }

  double learning_rate() const { return hyper_.learning_rate; }
  void set_learning_rate(double lr) { set_option("learning_rate", lr); }
  double wd() const { return hyper_.wd; }
  double clip_gradient() const { return hyper_.clip_gradient; }
  double rescale_grad() const { return hyper_.rescale_grad; }
  const Hyperparameters& hyperparameters() const { return hyper_; }

  /// The names of each parameter's state arrays: {"momentum"} for SGD with
  /// momentum, {} without, {"mean", "var"} for Adam and AdamW.
  const std::vector<std::string>& state_names() const { return state_names_; }

  /// One update of parameter `index`: `weight` and `grad` hold `n` values;
  /// the gradient is scaled by rescale_grad * grad_scale. The first update
  /// of an index allocates its state; an index keeps its dtype and size.
  void update(size_t index, float* weight, const float* grad, int64_t n, double grad_scale = 1) {
    ParamState& s = prepare<float>(index, n, grad_scale);
    apply(s, weight, grad, n, grad_scale);
  }
  void update(size_t index, double* weight, const double* grad, int64_t n, double grad_scale = 1) {
    ParamState& s = prepare<double>(index, n, grad_scale);
    apply(s, weight, grad, n, grad_scale);
  }

  /// Parameter `index`'s state, or null before its first update.
  const ParamState* state(size_t index) const {
    return index < states_.size() && states_[index].steps > 0 ? &states_[index] : nullptr;
  }
  /// How many updates parameter `index` took (0 before the first).
  int64_t step_count(size_t index) const {
    const ParamState* s = state(index);
    return s ? s->steps : 0;
  }
  /// The state array `name` of parameter `index` (size() values of T).
  template <class T>
  const T* state_data(size_t index, const std::string& name) const {
    const ParamState* s = state(index);
    if (!s) throw Error("optimizer '" + name_ + "': parameter " + std::to_string(index) + " has no state yet");
    if (s->dtype != dtype_of<T>())
      throw Error("optimizer '" + name_ + "': the state of parameter " + std::to_string(index) + " is " +
                  to_string(s->dtype) + ", not " + to_string(dtype_of<T>()));
    const std::vector<std::string>& names = state_names_;
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end())
      throw Error("optimizer '" + name_ + "': no state named '" + name + "' (states: " +
                  (names.empty() ? std::string("none") : detail::join(names)) + ")");
    return s->values<T>().data() + (it - names.begin()) * s->size;
  }
  /// Every parameter's state, by index (an entry with steps == 0 is none).
  const std::vector<ParamState>& states() const { return states_; }
  /// Replaces every state at once (loading a checkpoint); nothrow.
  void swap_states(std::vector<ParamState>& states) noexcept { states_.swap(states); }
  /// Forgets every state: the next update of each parameter starts afresh.
  void reset_states() { states_.clear(); }

 protected:
  /// `accepted`: the options this optimizer takes; `given` overrides the
  /// defaults. Unknown options and invalid values throw Error.
  Optimizer(std::string name, std::vector<std::string> accepted, Hyperparameters defaults, const Options& given)
      : hyper_(defaults), name_(std::move(name)), option_names_(std::move(accepted)) {
    for (const auto& [key, value] : given) {
      const detail::OptionDesc* d = checked(key);
      validate(*d, value);
      hyper_.*(d->field) = value;
    }
  }

  /// Clips x to [-c, c] when c >= 0.
  template <class T>
  static T clip(T x, T c, bool clipping) {
    return clipping ? std::min(std::max(x, -c), c) : x;
  }

  /// Runs the rule on one parameter whose state `s` exists (steps already counts this update).
  virtual void apply(ParamState& s, float* w, const float* g, int64_t n, double grad_scale) = 0;
  virtual void apply(ParamState& s, double* w, const double* g, int64_t n, double grad_scale) = 0;
  /// Lets an optimizer refuse a change of an option (before it is made).
  virtual void before_set(const std::string&, double) {}

  /// Set once by the derived constructor.
  void set_state_names(std::vector<std::string> names) { state_names_ = std::move(names); }

  Hyperparameters hyper_;

 private:
  const detail::OptionDesc* checked(const std::string& key) const {
    if (std::find(option_names_.begin(), option_names_.end(), key) == option_names_.end())
      throw Error("optimizer '" + name_ + "': unknown option '" + key + "'; valid options: " +
                  detail::join(option_names_));
    return detail::find_option(key);
  }

  void validate(const detail::OptionDesc& d, double v) const {
    const std::string what = "optimizer '" + name_ + "': option '" + d.name + "' ";
    const std::string got = ", got " + detail::format_value(v);
    if (std::isnan(v)) throw Error(what + "must be a number" + got);
    switch (d.rule) {
      case detail::Rule::non_negative:
        if (!(v >= 0) || std::isinf(v)) throw Error(what + "must be finite and >= 0" + got);
        break;
      case detail::Rule::positive:
        if (!(v > 0) || std::isinf(v)) throw Error(what + "must be finite and > 0" + got);
        break;
      case detail::Rule::unit_interval:
        if (!(v >= 0 && v < 1)) throw Error(what + "must be in [0, 1)" + got);
        break;
      case detail::Rule::any: break;  // clip_gradient: negative turns clipping off
    }
  }

  // Allocates only on the first update of an index (messages only on failure).
  template <class T>
  ParamState& prepare(size_t index, int64_t n, double grad_scale) {
    auto who = [&] { return "optimizer '" + name_ + "': update of parameter "; };
    if (n < 0) throw Error(who() + std::to_string(index) + ": negative element count " + std::to_string(n));
    if (!(grad_scale > 0) || std::isinf(grad_scale))
      throw Error(who() + std::to_string(index) + ": grad_scale must be finite and > 0, got " +
                  detail::format_value(grad_scale));
    if (index >= states_.size()) states_.resize(index + 1);
    ParamState& s = states_[index];
    const size_t arrays = state_names_.size();
    if (s.steps == 0) {
      s.dtype = dtype_of<T>();
      s.size = n;
      s.f32.clear();
      s.f64.clear();
      s.values<T>().assign(arrays * static_cast<size_t>(n), T(0));
    } else if (s.dtype != dtype_of<T>()) {
      throw Error(who() + std::to_string(index) + ": its state is " + to_string(s.dtype) + " but the update is " +
                  to_string(dtype_of<T>()));
    } else if (arrays != 0 && s.size != n) {
      throw Error(who() + std::to_string(index) + ": its state holds " + std::to_string(s.size) +
                  " elements but the update has " + std::to_string(n));
    } else {
      s.size = n;
    }
    ++s.steps;
    return s;
  }

  std::string name_;
  std::vector<std::string> option_names_;
  std::vector<std::string> state_names_;
  std::vector<ParamState> states_;
};

/// Stochastic gradient descent, with optional momentum (MXNet's sgd_update
/// and sgd_mom_update). Defaults: learning_rate 0.01, momentum 0, wd 0.
class SGD : public Optimizer {
 public:
  explicit SGD(const Options& options = {})
      : Optimizer("sgd", {"learning_rate", "wd", "clip_gradient", "rescale_grad", "momentum"}, Hyperparameters{},
                  options),
        has_momentum_(hyper_.momentum > 0) {
    if (has_momentum_) set_state_names({"momentum"});
  }

  double momentum() const { return hyper_.momentum; }

 protected:
  void apply(ParamState& s, float* w, const float* g, int64_t n, double scale) override { run(s, w, g, n, scale); }
  void apply(ParamState& s, double* w, const double* g, int64_t n, double scale) override { run(s, w, g, n, scale); }
  void before_set(const std::string& name, double value) override {
    if (name == "momentum" && (value > 0) != has_momentum_)
      throw Error("optimizer 'sgd': option 'momentum' cannot change between 0 and non-zero after construction "
                  "(it decides whether a momentum state exists), got " + detail::format_value(value));
  }

 private:
  template <class T>
  void run(ParamState& s, T* w, const T* g, int64_t n, double grad_scale) {
    const T lr = T(hyper_.learning_rate), wd = T(hyper_.wd), mu = T(hyper_.momentum);
    const T rescale = T(hyper_.rescale_grad * grad_scale), c = T(hyper_.clip_gradient);
    const bool clipping = hyper_.clip_gradient >= 0;
    if (has_momentum_) {
      T* mom = s.values<T>().data();
      detail::for_each_block(n, detail::kSgdCost, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) {
          const T gi = clip(rescale * g[i], c, clipping) + wd * w[i];
          mom[i] = mu * mom[i] - lr * gi;
          w[i] += mom[i];
        }
      });
    } else {
      detail::for_each_block(n, detail::kSgdCost, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) w[i] -= lr * (clip(rescale * g[i], c, clipping) + wd * w[i]);
      });
    }
  }

  bool has_momentum_;
};

namespace detail {
inline Hyperparameters adam_defaults(double wd) {
  Hyperparameters h;
  h.learning_rate = 0.001;
  h.wd = wd;
  return h;
}
inline std::vector<std::string> adam_options() {
  return {"learning_rate", "wd", "clip_gradient", "rescale_grad", "beta1", "beta2", "epsilon"};
}
}  // namespace detail

/// Adam as MXNet's adam_update (see the top of this file). Defaults:
/// learning_rate 0.001, beta1 0.9, beta2 0.999, epsilon 1e-8, wd 0.
class Adam : public Optimizer {
 public:
  explicit Adam(const Options& options = {})
      : Optimizer("adam", detail::adam_options(), detail::adam_defaults(0), options) {
    set_state_names({"mean", "var"});
  }

 protected:
  void apply(ParamState& s, float* w, const float* g, int64_t n, double scale) override { run(s, w, g, n, scale); }
  void apply(ParamState& s, double* w, const double* g, int64_t n, double scale) override { run(s, w, g, n, scale); }

 private:
  template <class T>
  void run(ParamState& s, T* w, const T* g, int64_t n, double grad_scale) {
    const double t = static_cast<double>(s.steps);
    const double lr_t = hyper_.learning_rate * std::sqrt(1 - std::pow(hyper_.beta2, t)) /
                        (1 - std::pow(hyper_.beta1, t));
    const T lr = T(lr_t), wd = T(hyper_.wd), b1 = T(hyper_.beta1), b2 = T(hyper_.beta2), eps = T(hyper_.epsilon);
    const T rescale = T(hyper_.rescale_grad * grad_scale), c = T(hyper_.clip_gradient);
    const bool clipping = hyper_.clip_gradient >= 0;
    T* mean = s.values<T>().data();
    T* var = mean + s.size;
    detail::for_each_block(n, detail::kAdamCost, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        const T gi = clip(rescale * g[i] + wd * w[i], c, clipping);
        mean[i] = b1 * mean[i] + (T(1) - b1) * gi;
        var[i] = b2 * var[i] + (T(1) - b2) * gi * gi;
        w[i] -= lr * mean[i] / (std::sqrt(var[i]) + eps);
      }
    });
  }
};

/// Adam with decoupled weight decay, as PyTorch's AdamW (see the top of
/// this file). Defaults: learning_rate 0.001, beta1 0.9, beta2 0.999,
/// epsilon 1e-8, wd 0.01 (PyTorch's weight_decay default).
class AdamW : public Optimizer {
 public:
  explicit AdamW(const Options& options = {})
      : Optimizer("adamw", detail::adam_options(), detail::adam_defaults(0.01), options) {
    set_state_names({"mean", "var"});
  }

 protected:
  void apply(ParamState& s, float* w, const float* g, int64_t n, double scale) override { run(s, w, g, n, scale); }
  void apply(ParamState& s, double* w, const double* g, int64_t n, double scale) override { run(s, w, g, n, scale); }

 private:
  template <class T>
  void run(ParamState& s, T* w, const T* g, int64_t n, double grad_scale) {
    const double t = static_cast<double>(s.steps);
    const double correction1 = 1 - std::pow(hyper_.beta1, t);
    const double correction2 = 1 - std::pow(hyper_.beta2, t);
    const T decay = T(1 - hyper_.learning_rate * hyper_.wd);
    const T step = T(hyper_.learning_rate / correction1), inv_sqrt_c2 = T(1 / std::sqrt(correction2));
    const T b1 = T(hyper_.beta1), b2 = T(hyper_.beta2), eps = T(hyper_.epsilon);
    const T rescale = T(hyper_.rescale_grad * grad_scale), c = T(hyper_.clip_gradient);
    const bool clipping = hyper_.clip_gradient >= 0;
    T* mean = s.values<T>().data();
    T* var = mean + s.size;
    detail::for_each_block(n, detail::kAdamCost, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        const T gi = clip(rescale * g[i], c, clipping);
        mean[i] = b1 * mean[i] + (T(1) - b1) * gi;
        var[i] = b2 * var[i] + (T(1) - b2) * gi * gi;
        w[i] = w[i] * decay - step * mean[i] / (std::sqrt(var[i]) * inv_sqrt_c2 + eps);
      }
    });
  }
};

/// The optimizer registered as `name` ("sgd", "adam", "adamw"; any case,
/// as Gluon), with `options`. Error names an unknown optimizer or option.
inline std::shared_ptr<Optimizer> create(const std::string& name, const Options& options = {}) {
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (key == "sgd") return std::make_shared<SGD>(options);
  if (key == "adam") return std::make_shared<Adam>(options);
  if (key == "adamw") return std::make_shared<AdamW>(options);
  throw Error("optim::create: unknown optimizer '" + name + "'; valid optimizers: sgd, adam, adamw");
}

}  // namespace hybrid::optim
