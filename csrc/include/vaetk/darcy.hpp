// Darcy flow kernels on an n x n node grid of the unit square (h = 1 / (n - 1)), arrays [row, col] = [y, x],
// unknowns numbered row-major (k = i n + j). The two schemes and the velocity follow vaetk/darcy/_reference.py
// exactly; that pure-NumPy file is the specification and the tests compare against it.
//
// Every batched kernel runs its samples in parallel with parallel_for (one sample per iteration, no shared
// mutable state), so results are bit-identical for any thread count.
#pragma once

#include "vaetk/common.hpp"

namespace vaetk {

enum class Scheme : int { paper = 0, conservative = 1 };

// Number of stored entries of the (n^2 x n^2) operator: the 5-point pattern, 5 n^2 - 4 n.
index_t darcy_nnz(index_t n);

// The CSR sparsity pattern shared by both schemes and every sample: columns sorted within each row
// (south k-n, west k-1, centre k, east k+1, north k+n, those that exist).
// out_indptr: (n^2 + 1,), out_indices: (nnz,).
void darcy_pattern(index_t n, index_t* out_indptr, index_t* out_indices);

// CSR values of the operator A of `scheme` for each permeability field, in the order of darcy_pattern.
// K: (batch, n, n), K > 0 (checked by the caller). out_data: (batch, nnz).
// Paper: the expanded non-conservative form with mirrored ghosts (rhs f). Conservative: harmonic-mean face
// coefficients times face length, symmetric, rows sum to zero (rhs w f).
void darcy_assemble(const double* K, index_t batch, index_t n, Scheme scheme, double* out_data, int n_threads);

// Velocity u = -K grad p for each sample; the normal component is zero on each boundary edge.
// p, K: (batch, n, n). out_u: (batch, 2, n, n) = (u_x, u_y).
// Paper: -K_node times the central difference. Conservative: mean of the two adjacent face velocities
// -K_face (p_nb - p) / h with the harmonic-mean face permeability.
void darcy_velocity(const double* p, const double* K, index_t batch, index_t n, Scheme scheme, double* out_u,
                    int n_threads);

// Options of the multigrid-preconditioned conjugate-gradient solver.
struct MGOptions {
  double tol = 1e-10;      // relative residual ||rhs - A p - lam w|| / ||rhs|| to reach
  int maxiter = 100;       // CG iterations at most
  int pre_sweeps = 1;      // forward Gauss-Seidel sweeps before the coarse correction (red-black: red then black)
  int post_sweeps = 1;     // backward sweeps after it (black then red; pre == post keeps the V-cycle symmetric)
  index_t coarse_nodes = 5;  // coarsen until the grid has at most this many nodes per side, then solve densely
  bool rediscretize = false;  // coarse operators from coarsened face coefficients, not P^T A P (paper scheme: those
                              // of the conservative operator of the same K, scaled by 1 / h^2)
};

// Solve the conservative scheme's bordered system [[A, w], [w^T, 0]] [p; lam] = [w f; 0] for each sample by
// conjugate gradients preconditioned with a geometric V-cycle (vertex coarsening by 2 for any n, bilinear
// prolongation P, restriction P^T, coarse operators P^T A P or, with options.rediscretize, 5-point operators from
// coarsened face coefficients (series along the normal, parallel across it), symmetric Gauss-Seidel smoothing,
// dense coarsest solve). A is positive semi-definite with constant null space, so lam = sum(w f) and CG runs on the
// compatible system A p = w f - lam w with the preconditioned residual projected to zero sum; p is finally shifted
// to zero weighted mean.
// K, f: (batch, n, n). out_p: (batch, n, n). out_residual: (batch,) relative residual of the bordered system.
// out_iterations: (batch,) CG iterations (a sample that did not reach tol has residual > tol; the caller
// reports it).
void darcy_solve_conservative_mg(const double* K, const double* f, index_t batch, index_t n,
                                 const MGOptions& options, double* out_p, double* out_residual,
                                 index_t* out_iterations, int n_threads);

// Solve the paper scheme's bordered system [[A, w], [w^T, 0]] [p; lam] = [f; 0] for each sample by GMRES(30) on
// the nonsingular B q = f, B = A + c w 1^T / n^2 (then lam = c mean(q), p = q - (w^T q) 1), right-preconditioned
// with a geometric V-cycle whose finest level is A (forward/backward Gauss-Seidel) and whose coarse levels are
// Galerkin products of A or, with options.rediscretize, rediscretised from the conservative operator of the same
// K (scaled by 1 / h^2; 5-point, red-black smoothing: fewer and cheaper steps on KLE fields). Arguments and outputs as darcy_solve_conservative_mg; iterations count GMRES steps (one
// V-cycle each).
void darcy_solve_paper_mg(const double* K, const double* f, index_t batch, index_t n, const MGOptions& options,
                          double* out_p, double* out_residual, index_t* out_iterations, int n_threads);

}  // namespace vaetk
