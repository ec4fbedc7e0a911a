#pragma once
// backward(): walks the tape from the heads to the leaves. Nodes run in
// decreasing creation order (a topological order, since a node's inputs
// are made before it), each once, with the sum of the gradients flowing
// into its outputs; the leaves' buffers are written at the end, so a
// backward that fails part-way leaves every gradient as it was.
//
// A leaf with a hook (MetaT::on_ready) is told its final gradient as soon
// as the last node that feeds it has run, while backward goes on: the
// contributions still to come are counted per leaf before the first node
// runs. A hybridized call hands each parameter's gradient out as its plan
// computes it (NodeT::backward_early).
#include <algorithm>
#include <cstring>
#include <functional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "mode.hpp"

namespace hybrid::autograd {

namespace detail {

/// into += g, never writing into either's storage: rule results may share
/// storage with their inputs or with other gradients.
template <class T>
void accumulate(TensorT<T>& into, const TensorT<T>& g) {
  if (!g.defined()) return;
  into = into.defined() ? into + g : g;
}

template <class T>
void run_backward(const std::vector<TensorT<T>>& heads, const std::vector<TensorT<T>>& head_grads,
                  bool retain_graph) {
  using Meta = MetaT<T>;
  using Node = NodeT<T>;
  using hybrid::detail::TensorAccess;
  if (!head_grads.empty() && head_grads.size() != heads.size())
    throw Error("backward: " + std::to_string(heads.size()) + " heads but " + std::to_string(head_grads.size()) +
                " head gradients");
  ModeScope not_recorded(false, mode().training);  // backward itself is not recorded

  std::unordered_map<Node*, std::vector<TensorT<T>>> flowing;  // gradients into each node's outputs
  std::vector<std::shared_ptr<Meta>> leaves;                   // in the order first reached
  std::unordered_map<Meta*, TensorT<T>> leaf_grads;
  auto send = [&](const std::shared_ptr<Meta>& meta, const TensorT<T>& g) {
    if (meta->leaf) {
      auto [it, inserted] = leaf_grads.try_emplace(meta.get());
      if (inserted) leaves.push_back(meta);
      accumulate(it->second, g);
    } else {
      auto& slots = flowing[meta->producer.get()];
      slots.resize(static_cast<size_t>(meta->producer->num_outputs));
      accumulate(slots[static_cast<size_t>(meta->output_index)], g);
    }
  };

  // The nodes the heads depend on, checked before anything runs.
  std::vector<std::shared_ptr<Node>> nodes;
  std::unordered_set<Node*> seen;
  std::vector<std::shared_ptr<Node>> stack;
  for (size_t k = 0; k < heads.size(); ++k) {
    const TensorT<T>& head = heads[k];
    const std::shared_ptr<Meta>& meta = TensorAccess::meta(head);
    if (!meta || !meta->needs_grad())
      throw Error("backward: the head tensor of shape " + to_string(head.shape()) +
                  " has no recorded history: compute it inside autograd::record() from tensors that need "
                  "gradients (attach_grad(), or a block's parameters)");
    TensorT<T> g = head_grads.empty() ? TensorT<T>() : head_grads[k];
    if (!g.defined()) {
      g = full<T>(head.shape(), T(1));
    } else if (g.is_traced() || g.shape() != head.shape()) {
      throw ShapeError("backward: the head gradient has shape " + to_string(g.shape()) + " but the head has shape " +
                       to_string(head.shape()));
    }
    send(meta, g);
    if (!meta->leaf && seen.insert(meta->producer.get()).second) stack.push_back(meta->producer);
  }
  while (!stack.empty()) {
    std::shared_ptr<Node> node = std::move(stack.back());
    stack.pop_back();
    if (node->released)
      throw Error("backward: the recorded graph through " + node->describe() +
                  " was freed by an earlier backward; pass retain_graph = true to that backward to run "
                  "backward through the same graph again");
    for (const auto& in : node->inputs)
      if (in && !in->leaf && seen.insert(in->producer.get()).second) stack.push_back(in->producer);
    nodes.push_back(std::move(node));
  }
  std::sort(nodes.begin(), nodes.end(), [](const auto& a, const auto& b) { return a->sequence > b->sequence; });

  // Listening leaves: their hooks (taken now, so the backward keeps the ones
  // it started with) and the contributions (node inputs) each still waits for.
  struct Listener {
    std::shared_ptr<GradHookT<T>> hook;
    int pending = 0;
  };
  std::unordered_map<Meta*, Listener> listeners;
  for (const auto& node : nodes)
    for (const auto& in : node->inputs)
      if (in && in->leaf && in->req != GradReq::null)
        if (std::shared_ptr<GradHookT<T>> hook = in->on_ready) {
          Listener& l = listeners[in.get()];
          l.hook = std::move(hook);
          ++l.pending;
        }
  std::vector<std::shared_ptr<GradHookT<T>>> told;
  auto tell = [&](Meta* meta, const std::shared_ptr<GradHookT<T>>& hook) {
    auto g = leaf_grads.find(meta);
    if (!hook || g == leaf_grads.end() || !g->second.defined()) return;  // nothing reached it: no gradient
    told.push_back(hook);
    if (meta->req == GradReq::add && meta->grad.defined() && meta->grad.shape() == g->second.shape()) {
      const TensorT<T> sum = meta->grad + g->second;
      hook->ready(sum.data(), sum.size());
    } else {
      hook->ready(g->second.data(), g->second.size());
    }
  };
  auto arrived = [&](const std::shared_ptr<Meta>& in) {
    if (!in || !in->leaf) return;
    auto l = listeners.find(in.get());
    if (l != listeners.end() && --l->second.pending == 0) tell(in.get(), l->second.hook);
  };

  std::vector<TensorT<T>> grad_inputs;
  std::vector<char> handed_out;
  try {
    // A leaf that is a head and feeds no node is final already.
    for (const auto& meta : leaves)
      if (meta->req != GradReq::null && !listeners.count(meta.get())) tell(meta.get(), meta->on_ready);
    for (const auto& node : nodes) {
      auto it = flowing.find(node.get());
      handed_out.assign(node->inputs.size(), 0);
      if (it != flowing.end()) {  // else no gradient reaches it
        std::vector<TensorT<T>> grad_outputs = std::move(it->second);
        flowing.erase(it);
        grad_inputs.clear();
        if (listeners.empty()) {
          node->backward(grad_outputs, grad_inputs);
        } else {
          node->backward_early(grad_outputs, grad_inputs, [&](size_t i, const TensorT<T>& g) {
            if (i >= node->inputs.size() || handed_out[i]) return;
            handed_out[i] = 1;
            if (node->inputs[i] && g.defined()) send(node->inputs[i], g);
            arrived(node->inputs[i]);
          });
        }
        for (size_t i = 0; i < node->inputs.size() && i < grad_inputs.size(); ++i)
          if (!handed_out[i] && node->inputs[i] && grad_inputs[i].defined()) send(node->inputs[i], grad_inputs[i]);
      }
      if (!listeners.empty())
        for (size_t i = 0; i < node->inputs.size(); ++i)
          if (!handed_out[i]) arrived(node->inputs[i]);
    }
    if (!retain_graph)
      for (const auto& node : nodes) node->release();
    for (const auto& meta : leaves) {
      if (meta->req == GradReq::null) continue;
      const TensorT<T>& g = leaf_grads[meta.get()];
      // The buffer keeps its storage, so handles from grad() see the new values.
      if (!meta->grad.defined() || meta->grad.shape() != g.shape()) {
        meta->grad = full<T>(g.shape(), T(0));
      }
      T* dst = meta->grad.data();
      const T* src = g.data();
      const int64_t n = g.size();
      if (meta->req == GradReq::add) {
        for (int64_t j = 0; j < n; ++j) dst[j] += src[j];
      } else if (n) {
        std::memcpy(dst, src, sizeof(T) * static_cast<size_t>(n));
      }
      meta->fresh = true;
    }
  } catch (...) {
    // What the hooks heard may not be in the buffers.
    for (const auto& hook : told) hook->abandoned();
    throw;
  }
}

}  // namespace detail

/// Back-propagates from several heads at once (their gradients are summed
/// where paths meet); `head_grads` empty means ones for every head.
template <class T>
void backward(const std::vector<TensorT<T>>& heads, const std::vector<TensorT<T>>& head_grads = {},
              bool retain_graph = false) {
  detail::run_backward(heads, head_grads, retain_graph);
}

}  // namespace hybrid::autograd

namespace hybrid {

template <class T>
void TensorT<T>::backward(bool retain_graph) const {
  autograd::detail::run_backward<T>({*this}, {}, retain_graph);
}

template <class T>
void TensorT<T>::backward(const TensorT<T>& head_grad, bool retain_graph) const {
  autograd::detail::run_backward<T>({*this}, {head_grad}, retain_graph);
}

}  // namespace hybrid
