// WKV estimate for a fixed x and many transformed y (see WkvFixedX in knn.hpp).
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "vaetk/knn.hpp"
#include "vaetk/knn_detail.hpp"
#include "vaetk/parallel.hpp"

namespace vaetk {

namespace {

constexpr index_t kParallelMin = 16384;  // fewer x: one thread (a thread team costs more than it saves)
constexpr index_t kChunk = 256;

}  // namespace

WkvFixedX::~WkvFixedX() = default;

WkvFixedX::WkvFixedX(const double* x, index_t n, index_t d, index_t k, bool eps1)
    : n_(n), d_(d), k_(k), eps1_(eps1), x_(x, x + n * d) {
  if (d < 1 || n < 2) fail("WkvFixedX: need n >= 2 samples of dimension >= 1");
  if (k < 1 || k > n - 1)
    fail("WkvFixedX: k = " + std::to_string(k) + " must be in [1, " + std::to_string(n - 1) + "]");
  // eps(i) >= rho_k(i); a few times k covers l_i for most x_i, larger eps falls back to a radius search
  depth_ = eps1 ? std::min(n - 1, 4 * k + 12) : k;
  xindex_ = std::make_unique<knn_detail::NeighbourIndex>(x_.data(), n, d, KnnAlgorithm::automatic);
  near2_.resize(static_cast<size_t>(n * depth_));
  for (index_t i = 0; i < n; ++i) xindex_->knn_one(x_.data() + i * d, depth_, i, near2_.data() + i * depth_);
  digamma_.resize(static_cast<size_t>(n) + 2);
  digamma_[1] = -0.57721566490153286061;  // psi(1) = -Euler's constant; psi(i + 1) = psi(i) + 1 / i
  for (size_t i = 1; i + 1 < digamma_.size(); ++i) digamma_[i + 1] = digamma_[i] + 1.0 / static_cast<double>(i);
  log_terms_.resize(static_cast<size_t>(n));
  psi_terms_.resize(static_cast<size_t>(n));
}

double WkvFixedX::evaluate(const double* z, index_t m, const double* scale, const double* shift, int n_threads) {
  if (m < k_) fail("WkvFixedX::evaluate: y has " + std::to_string(m) + " rows, fewer than k = " + std::to_string(k_));
  const index_t d = d_, k = k_;
  y_.resize(static_cast<size_t>(m * d));
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < d; ++j) y_[i * d + j] = scale[j] * z[i * d + j] + shift[j];
  const knn_detail::NeighbourIndex yindex(y_.data(), m, d, KnnAlgorithm::automatic);
  if (static_cast<index_t>(digamma_.size()) < m + 2) {
    const size_t old = digamma_.size();
    digamma_.resize(static_cast<size_t>(m) + 2);
    for (size_t i = old - 1; i + 1 < digamma_.size(); ++i) digamma_[i + 1] = digamma_[i] + 1.0 / static_cast<double>(i);
  }
  const index_t kq = std::min(m, k + 1);  // one more than k tells whether nu_k is tied
  const auto& order = xindex_->order();
  const bool ordered = xindex_->has_order();
  const index_t chunks = (n_ + kChunk - 1) / kChunk;
  parallel_for_dynamic(chunks, n_ >= kParallelMin ? n_threads : 1, [&](index_t c) {
    ScratchBuffer<64> scratch(kq);
    double* nu = scratch.data();
    const index_t p1 = std::min(n_, (c + 1) * kChunk);
    for (index_t p = c * kChunk; p < p1; ++p) {
      const index_t i = ordered ? order[static_cast<size_t>(p)] : p;
      const double* q = x_.data() + i * d;
      const double* near = near2_.data() + i * depth_;
      yindex.knn_one(q, kq, -1, nu);
      double rho2 = near[k - 1], nu2k = nu[k - 1];
      index_t li = k, ki = k;
      if (eps1_) {
        const double eps2 = std::max(rho2, nu2k);
        if (eps2 < near[depth_ - 1] || depth_ == n_ - 1) {
          li = std::upper_bound(near, near + depth_, eps2) - near;
          rho2 = near[li - 1];
        } else {
          xindex_->radius_one(q, eps2, i, &li, &rho2);
        }
        if (!(eps2 == nu2k && (kq == k ? m == k : nu[k] > nu2k))) yindex.radius_one(q, eps2, -1, &ki, &nu2k);
      }
      log_terms_[i] = std::log(std::sqrt(nu2k) / std::sqrt(rho2));
      psi_terms_[i] = digamma_[li] - digamma_[ki];
      if (!(rho2 > 0.0 && nu2k > 0.0)) log_terms_[i] = std::nan("");  // marks a zero distance
    }
  });
  double sum_log = 0.0, sum_psi = 0.0;
  for (index_t i = 0; i < n_; ++i) {
    if (std::isnan(log_terms_[i])) return std::numeric_limits<double>::infinity();
    sum_log += log_terms_[i];
    sum_psi += psi_terms_[i];
  }
  const double nn = static_cast<double>(n_);
  const double offset = std::log(static_cast<double>(m) / static_cast<double>(n_ - 1));
  return static_cast<double>(d) * (sum_log / nn) + offset + (eps1_ ? sum_psi / nn : 0.0);
}

}  // namespace vaetk
