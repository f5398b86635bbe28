"""A device-generic batched Darcy solver written only with torch tensor operations (CPU or CUDA, float64).

The same method as the native C++ solver (``csrc/include/vaetk/darcy.hpp``), reorganised so that a whole batch
moves through every step at once: the (N, n, n) tensors of all samples go through each stencil product, V-cycle
and Krylov update together, and a sample that has converged stops changing (a mask, not a branch), so the result
of a sample does not depend on the rest of its batch. Nothing loops over samples or nodes in Python; the host
waits for the device only at a cheap "has every sample converged?" check every few iterations.

Method, per scheme (both solve the bordered system [[A, w], [w^T, 0]] [p; lam] = [rhs; 0] of
:mod:`vaetk.darcy._reference`):

- conservative: A is symmetric positive semi-definite with the constants as null space and 1^T A = 0, so
  lam = sum(rhs) (sum(w) = 1) and preconditioned CG runs on the compatible system A p = rhs - lam w, the
  preconditioned residual projected to zero sum; restarted from the true residual (at most 3 times) if the
  recursive one drifted; p is finally shifted to zero weighted mean.
- paper: A is not symmetric; restarted GMRES(30), right-preconditioned, on the nonsingular B q = f,
  B = A + c w 1^T / n^2 (c = sum(4 K) / h^2 gives the rank-one term the size of A's diagonal); then
  lam = c mean(q), p = q - (w^T q) 1. Arnoldi uses classical Gram-Schmidt twice (two batched matrix products per
  step instead of j dot products) and the Givens rotations are accumulated in a small orthogonal matrix, so a
  step costs a constant number of tensor operations.

Preconditioner: one geometric V-cycle per Krylov step. Vertex coarsening by two for any m (coarse nodes are the
even fine nodes plus the last one), bilinear prolongation P, restriction P^T. Coarse operators: for the
conservative scheme 5-point operators rediscretised from coarsened face coefficients (default, as native) or
Galerkin P^T A P; for the paper scheme Galerkin (9-point), computed by probing: P^T A P applied to the 9 coarse
vectors that are 1 on the nodes of one colour (I mod 3, J mod 3) gives every tap of every coarse node at once.
Smoothers are parallel Gauss-Seidel: red-black on 5-point levels, four colours (i mod 2, j mod 2) on 9-point ones
(nodes of one colour do not couple, so a colour is updated at once); forward sweeps before the coarse
correction, the reverse colour order after it (symmetric V-cycle when pre = post). The coarsest level (at most
``coarse_nodes`` per side) is inverted densely with ``torch.linalg`` after adding sigma 1 1^T, which removes the
constant null space.

Iteration counts: CG or GMRES steps (one V-cycle each), per sample, exactly as the native solver counts them.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vaetk.darcy._solve import check_device
from vaetk.darcy._sources import trapezoid_weights
from vaetk.errors import ConfigError

__all__ = ["auto_batch_size", "resolve_device", "time_batch", "torch_solve"]

# Nodes per chunk of the batch (samples x n^2) that solve_batch sends through at once when batch_size is not
# given. GMRES holds ~45 vectors per sample (31 Arnoldi vectors + V-cycle work), so 2^24 nodes is ~6 GB on a GPU
# (n = 65: 3971 samples, 129: 1008, 257: 254, 513: 63) and 2^20 nodes ~0.4 GB on the CPU.
CHUNK_NODES = {"cuda": 2**24, "cpu": 2**20}
RESTART = 30  # GMRES restart length, as native
CHECK_EVERY = 4  # Krylov steps between the host checks "has every sample converged?"

_FIVE = ((-1, 0), (0, -1), (0, 0), (0, 1), (1, 0))  # S, W, C, E, N (row offset, column offset)
_NINE = tuple((di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1))


# -- devices -----------------------------------------------------------------------------------------------
def _available() -> str:
    if not torch.cuda.is_available():
        build = "built without CUDA" if torch.version.cuda is None else f"CUDA {torch.version.cuda}, no device visible"
        return f"cpu only (torch {torch.__version__}, {build})"
    count = torch.cuda.device_count()
    return "cpu, " + ", ".join(f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(count))


def resolve_device(device: str | torch.device | None, owner: str = "the torch solver") -> torch.device:
    """The torch device that ``device`` ("auto" | "cpu" | "cuda" | "cuda:N") names on this machine.

    "auto" is the current CUDA device when there is one, else the CPU.

    Raises
    ------
    ConfigError
        A malformed string, or a CUDA device this machine does not have (the message says what is available).
    """
    if isinstance(device, torch.device):
        device = str(device)
    if device is None:
        device = "auto"
    check_device(device, owner)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    index = int(device.split(":")[1]) if ":" in device else None
    if not torch.cuda.is_available() or (index is not None and index >= torch.cuda.device_count()):
        raise ConfigError(
            f"device {device!r} was asked for, but this machine has no such device; available: {_available()}. "
            f"Use device='cpu' (or 'auto'), or run on a machine with a CUDA GPU and a CUDA build of torch."
        )
    return torch.device(device)


def auto_batch_size(n: int, device: torch.device) -> int:
    """Samples per chunk when solve_batch is not told: a fixed number of nodes per chunk (see CHUNK_NODES)."""
    return max(1, CHUNK_NODES["cuda" if device.type == "cuda" else "cpu"] // (n * n))


# -- stencils on (N, m, m) grids ---------------------------------------------------------------------------
def _shift(d: int, m: int) -> tuple[slice, slice]:
    """(nodes i whose neighbour i + d exists, those neighbours) along one axis."""
    return slice(max(0, -d), m - max(0, d)), slice(max(0, d), m + min(0, d))


def _apply(a: torch.Tensor, taps: tuple, x: torch.Tensor) -> torch.Tensor:
    """y = A x for the stencil a (N, T, m, m) with tap offsets ``taps``; x (..., m, m) broadcasts against (N, m, m)
    (the Galerkin probes are (9, 1, m, m)).

    Each tap updates only the nodes whose neighbour exists (in place, on views), so nothing is padded or copied.
    """
    m = x.shape[-1]
    centre = taps.index((0, 0))
    y = a[:, centre] * x
    for t, (di, dj) in enumerate(taps):
        if t != centre:
            (ri, si), (rj, sj) = _shift(di, m), _shift(dj, m)
            y[..., ri, rj].addcmul_(a[:, t, ri, rj], x[..., si, sj])
    return y


def _harmonic(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return 2.0 * a * b / (a + b)


def fine_operator(K: torch.Tensor, scheme: str) -> torch.Tensor:
    """The (N, 5, n, n) stencil (S, W, C, E, N taps) of ``scheme``: the rows of ``vaetk/darcy_cell.hpp``."""
    N, n = K.shape[0], K.shape[-1]
    a = K.new_zeros(N, 5, n, n)
    S, W, C, E, No = 0, 1, 2, 3, 4
    if scheme == "conservative":
        length = K.new_ones(n)
        length[[0, -1]] = 0.5
        cx = _harmonic(K[:, :, :-1], K[:, :, 1:]) * length[:, None]  # x-face (i, j)-(i, j+1), (N, n, n-1)
        cy = _harmonic(K[:, :-1, :], K[:, 1:, :]) * length[None, :]  # y-face (i, j)-(i+1, j), (N, n-1, n)
        a[:, E, :, :-1] = -cx
        a[:, W, :, 1:] = -cx
        a[:, No, :-1, :] = -cy
        a[:, S, 1:, :] = -cy
        a[:, C] = -a[:, W] - a[:, E] - a[:, S] - a[:, No]
        return a
    h2 = (1.0 / (n - 1)) ** 2
    Kp = F.pad(K, (1, 1, 1, 1), mode="reflect")  # the mirrored ghosts: K[-1] = K[1], K[n] = K[n-2]
    dKx = Kp[:, 1:-1, 2:] - Kp[:, 1:-1, :-2]
    dKy = Kp[:, 2:, 1:-1] - Kp[:, :-2, 1:-1]
    east, west = -K / h2 - dKx / (4.0 * h2), -K / h2 - (-dKx) / (4.0 * h2)
    north, south = -K / h2 - dKy / (4.0 * h2), -K / h2 - (-dKy) / (4.0 * h2)
    a[:, C] = 4.0 * K / h2
    # A ghost's coefficient lands on its mirror, the neighbour on the other side.
    a[:, E, :, :-1] = east[:, :, :-1]
    a[:, W, :, -1] = east[:, :, -1]
    a[:, W, :, 1:] += west[:, :, 1:]
    a[:, E, :, 0] += west[:, :, 0]
    a[:, No, :-1, :] = north[:, :-1, :]
    a[:, S, -1, :] = north[:, -1, :]
    a[:, S, 1:, :] += south[:, 1:, :]
    a[:, No, 0, :] += south[:, 0, :]
    return a


# -- transfers: vertex coarsening by two for any m ---------------------------------------------------------
def coarse_size(m: int) -> int:
    """Coarse nodes per side: the even fine nodes plus the last one."""
    return (m + 1) // 2 if m % 2 == 1 else m // 2 + 1


def _on(dim: int, index: slice) -> tuple:
    """Index ``index`` along ``dim`` (-1 or -2) of a (..., rows, cols) tensor."""
    return (Ellipsis, index) if dim == -1 else (Ellipsis, index, slice(None))


def _prolong_dim(xc: torch.Tensor, m: int, dim: int = -1) -> torch.Tensor:
    """Linear interpolation along ``dim``, mc -> m nodes (in place on strided views: no temporaries)."""
    mc = xc.shape[dim]
    shape = list(xc.shape)
    shape[dim] = m
    out = xc.new_empty(shape)
    out[_on(dim, slice(0, None, 2))] = xc[_on(dim, slice(0, (m + 1) // 2))]
    last = m if m % 2 == 1 else m - 1  # even m: the last fine node is the last coarse node, not a midpoint
    mid = out[_on(dim, slice(1, last, 2))]
    count = mid.shape[dim]
    mid.copy_(xc[_on(dim, slice(0, count))]).add_(xc[_on(dim, slice(1, count + 1))]).mul_(0.5)
    if m % 2 == 0:
        out[_on(dim, slice(m - 1, m))] = xc[_on(dim, slice(mc - 1, mc))]
    return out


def _restrict_dim(r: torch.Tensor, mc: int, dim: int = -1) -> torch.Tensor:
    """The transpose of :func:`_prolong_dim` along ``dim``, m -> mc nodes."""
    m = r.shape[dim]
    shape = list(r.shape)
    shape[dim] = mc
    out = r.new_empty(shape)
    out[_on(dim, slice(0, (m + 1) // 2))] = r[_on(dim, slice(0, None, 2))]
    if m % 2 == 0:
        out[_on(dim, slice(mc - 1, mc))] = r[_on(dim, slice(m - 1, m))]
    last = m if m % 2 == 1 else m - 1
    mid = r[_on(dim, slice(1, last, 2))]
    count = mid.shape[dim]
    out[_on(dim, slice(0, count))].add_(mid, alpha=0.5)
    out[_on(dim, slice(1, count + 1))].add_(mid, alpha=0.5)
    return out


def prolong(xc: torch.Tensor, m: int) -> torch.Tensor:
    """P xc: bilinear interpolation of (N, mc, mc) to (N, m, m)."""
    return _prolong_dim(_prolong_dim(xc, m, -1), m, -2)


def restrict(r: torch.Tensor, mc: int) -> torch.Tensor:
    """P^T r: (N, m, m) to (N, mc, mc)."""
    return _restrict_dim(_restrict_dim(r, mc, -1), mc, -2)


# -- coarse operators --------------------------------------------------------------------------------------
def _series(inv: torch.Tensor) -> torch.Tensor:
    """Resistances of consecutive fine faces along the last axis grouped by coarse face (pairs; a last single)."""
    L = inv.shape[-1]
    pairs = inv[..., 0 : L - 1 : 2] + inv[..., 1:L:2]
    return torch.cat([pairs, inv[..., L - 1 :]], dim=-1) if L % 2 == 1 else pairs


def rediscretize(a: torch.Tensor) -> torch.Tensor:
    """Coarse 5-point operator from a symmetric 5-point one: each coarse face's conductance is the fine faces it
    spans in series along its normal, the fine lines across it in parallel weighted by their interpolation weight
    (P^T along that axis). Constant K gives the coarse-grid scheme exactly (as native's ``rediscretize``)."""
    m = a.shape[-1]
    mc = coarse_size(m)
    cx = -a[:, 3, :, :-1]  # x-faces (N, m, m-1)
    cy = -a[:, 4, :-1, :]  # y-faces (N, m-1, m)
    gx = _restrict_dim(1.0 / _series(1.0 / cx), mc, -2)  # (N, mc, mc-1)
    gy = _restrict_dim((1.0 / _series((1.0 / cy).transpose(-1, -2))).transpose(-1, -2), mc, -1)  # (N, mc-1, mc)
    out = a.new_zeros(a.shape[0], 5, mc, mc)
    out[:, 3, :, :-1] = -gx
    out[:, 1, :, 1:] = -gx
    out[:, 4, :-1, :] = -gy
    out[:, 0, 1:, :] = -gy
    out[:, 2] = -(out[:, 0] + out[:, 1] + out[:, 3] + out[:, 4])
    return out


def galerkin(a: torch.Tensor, taps: tuple) -> torch.Tensor:
    """P^T A P as a 9-point (N, 9, mc, mc) stencil, by probing with the 9 colours (I mod 3, J mod 3): a coarse
    node couples only with coarse nodes at most one apart, so each tap of each node meets exactly one colour and
    ``P^T A P e_colour`` at that node is the tap's value. All 9 probes go through one batched product."""
    m = a.shape[-1]
    mc = coarse_size(m)
    idx = torch.arange(mc, device=a.device)
    colour = (idx[:, None] % 3) * 3 + idx[None, :] % 3  # (mc, mc)
    probes = (colour == torch.arange(9, device=a.device)[:, None, None]).to(a.dtype)  # (9, mc, mc)
    y = restrict(_apply(a, taps, prolong(probes[:, None], m)), mc)  # (9, N, mc, mc)
    row, col = idx[:, None], idx[None, :]
    gather_colour, inside = [], []
    for di, dj in _NINE:
        gather_colour.append(((row + di) % 3) * 3 + (col + dj) % 3)
        inside.append((row + di >= 0) & (row + di < mc) & (col + dj >= 0) & (col + dj < mc))
    c = torch.stack(gather_colour)  # (9 taps, mc, mc): the colour of each tap's neighbour
    rows, cols = row.expand(mc, mc), col.expand(mc, mc)
    out = y.permute(1, 0, 2, 3)[:, c, rows, cols]  # (N, 9 taps, mc, mc)
    return out * torch.stack(inside).to(a.dtype)


# -- the hierarchy -----------------------------------------------------------------------------------------
class _Level:
    """One grid: stencil, tap offsets, and per colour the mask times 1 / diagonal (the Gauss-Seidel update)."""

    def __init__(self, a: torch.Tensor, taps: tuple) -> None:
        self.a, self.taps, self.m = a, taps, a.shape[-1]
        idx = torch.arange(self.m, device=a.device)
        i, j = idx[:, None], idx[None, :]
        if len(taps) == 5:  # red-black: nodes of one colour do not couple
            masks = [((i + j) % 2) == c for c in (0, 1)]
        else:  # 9-point: four colours (i mod 2, j mod 2)
            masks = [((i % 2) == ci) & ((j % 2) == cj) for ci in (0, 1) for cj in (0, 1)]
        inv_diag = 1.0 / a[:, taps.index((0, 0))]
        self.scaled = [inv_diag * mask for mask in masks]

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        return _apply(self.a, self.taps, x)

    def smooth(self, x: torch.Tensor | None, b: torch.Tensor, reverse: bool) -> torch.Tensor:
        """One Gauss-Seidel sweep over the colours (forward, or in reverse order); x None means zero."""
        for scaled in reversed(self.scaled) if reverse else self.scaled:
            if x is None:
                x = scaled * b
            else:
                x = x.addcmul_(scaled, self.apply(x).sub_(b), value=-1.0)
        return x


class Hierarchy:
    """The V-cycle of a batch of operators (see the module docstring).

    Parameters
    ----------
    a : Tensor of shape (N, 5, n, n)
        Fine 5-point stencils (:func:`fine_operator`).
    galerkin_coarse : bool
        Galerkin coarse operators (else rediscretised; those need a symmetric 5-point fine operator).
    pre_sweeps, post_sweeps, coarse_nodes : int
        As the native solver's options.
    """

    def __init__(self, a: torch.Tensor, *, galerkin_coarse: bool, pre_sweeps: int = 1, post_sweeps: int = 1,
                 coarse_nodes: int = 5) -> None:
        self.pre, self.post = pre_sweeps, post_sweeps
        self.levels = [_Level(a, _FIVE)]
        while self.levels[-1].m > coarse_nodes and self.levels[-1].m > 3:
            fine = self.levels[-1]
            if galerkin_coarse:
                self.levels.append(_Level(galerkin(fine.a, fine.taps), _NINE))
            else:
                self.levels.append(_Level(rediscretize(fine.a), _FIVE))
        self._factor_coarsest()

    def _factor_coarsest(self) -> None:
        L = self.levels[-1]
        m, size = L.m, L.m * L.m
        N = L.a.shape[0]
        dense = L.a.new_zeros(N, size, size)
        idx = torch.arange(m, device=L.a.device)
        i, j = torch.meshgrid(idx, idx, indexing="ij")
        for t, (di, dj) in enumerate(L.taps):
            inside = (i + di >= 0) & (i + di < m) & (j + dj >= 0) & (j + dj < m)
            rows = (i * m + j)[inside]
            cols = ((i + di) * m + (j + dj))[inside]
            dense[:, rows, cols] += L.a[:, t][:, inside]
        diag = torch.diagonal(dense, dim1=-2, dim2=-1).sum(-1)
        dense += (diag / size / size)[:, None, None]  # sigma 1 1^T: nonsingular, same zero-sum solutions
        self.coarse_inverse = torch.linalg.inv(dense)

    def vcycle(self, b: torch.Tensor, level: int = 0) -> torch.Tensor:
        """x ~ A_level^{-1} b by one V-cycle from a zero initial guess."""
        L = self.levels[level]
        if level + 1 == len(self.levels):
            shape = b.shape
            return (self.coarse_inverse @ b.reshape(shape[0], -1, 1)).reshape(shape)
        x = None
        for _ in range(self.pre):
            x = L.smooth(x, b, reverse=False)
        r = b if x is None else L.apply(x).neg_().add_(b)
        e = prolong(self.vcycle(restrict(r, self.levels[level + 1].m), level + 1), L.m)
        x = e if x is None else x.add_(e)
        for _ in range(self.post):
            x = L.smooth(x, b, reverse=True)
        return x

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        return self.levels[0].apply(x)


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum((-2, -1))


def _col(v: torch.Tensor) -> torch.Tensor:
    return v[:, None, None]


# -- Krylov solvers ----------------------------------------------------------------------------------------
def _pcg(H: Hierarchy, b: torch.Tensor, target: torch.Tensor, maxiter: int,
         check_every: int) -> tuple[torch.Tensor, torch.Tensor]:
    """CG on the compatible singular system A x = b, batched; (x, iterations)."""
    x = torch.zeros_like(b)
    r = b.clone()
    it = torch.zeros(b.shape[0], dtype=torch.int64, device=b.device)
    res = _dot(r, r).sqrt()

    def precondition(v: torch.Tensor) -> torch.Tensor:
        z = H.vcycle(v)
        return z - z.mean((-2, -1), keepdim=True)  # stay in the range of the symmetric singular operator

    for _ in range(3):  # restarts from the true residual if the recursive one drifted below the target
        active = (res > target) & (it < maxiter)
        if not bool(active.any()):
            break
        z = precondition(r)
        p = z
        rz = _dot(r, z)
        for step in range(maxiter):
            q = H.apply(p)
            pq = _dot(p, q)
            ok = active & (pq > 0.0)  # a breakdown (exact solution or lost positivity) ends this round
            alpha = _col(torch.where(ok, rz / pq, 0.0))  # 0: the sample does not move (p, q stay finite)
            x.addcmul_(alpha, p)
            r.addcmul_(alpha, q, value=-1.0)
            it += ok
            active = ok & (_dot(r, r).sqrt() > target) & (it < maxiter)
            if (step + 1) % check_every == 0 and not bool(active.any()):
                break
            z = precondition(r)
            rz_new = _dot(r, z)
            beta = torch.where(active, rz_new / rz, 0.0)
            rz = torch.where(active, rz_new, rz)
            p = z.addcmul_(_col(beta), p)
        r = b - H.apply(x)
        res = _dot(r, r).sqrt()
    return x, it


def _gmres(H: Hierarchy, b: torch.Tensor, applyB: Any, target: torch.Tensor, maxiter: int,
           check_every: int, restart: int = RESTART) -> tuple[torch.Tensor, torch.Tensor]:
    """Restarted GMRES on B x = b, right-preconditioned with the V-cycle, batched; (x, iterations)."""
    N, n = b.shape[0], b.shape[-1]
    nn = n * n
    dev, dt = b.device, b.dtype
    x = torch.zeros_like(b)
    r = b.clone()
    res = _dot(r, r).sqrt()
    it = torch.zeros(N, dtype=torch.int64, device=dev)
    stalled = torch.zeros(N, dtype=torch.bool, device=dev)
    V = b.new_empty(N, restart + 1, n, n)
    eye = torch.eye(restart + 1, dtype=dt, device=dev)
    while True:
        start = (res > target) & (it < maxiter) & ~stalled
        if not bool(start.any()):
            break
        V[:, 0] = torch.where(_col(res > 0), r / _col(res), 0.0)
        Hs = b.new_zeros(N, restart + 1, restart)  # the rotated (upper triangular) Hessenberg matrix
        Qt = eye.expand(N, -1, -1).clone()  # accumulated Givens rotations: g = res Qt e_1
        stepped = torch.zeros(N, restart, dtype=torch.bool, device=dev)
        active = start.clone()
        steps = 0
        for j in range(restart):
            if j > 0 and j % check_every == 0 and not bool(active.any()):
                break
            t = applyB(H.vcycle(V[:, j])).reshape(N, nn)
            basis = V[:, : j + 1].reshape(N, j + 1, nn)
            h = torch.bmm(basis, t[:, :, None])[..., 0]  # classical Gram-Schmidt, twice
            t = t - torch.bmm(h[:, None, :], basis)[:, 0]
            h2 = torch.bmm(basis, t[:, :, None])[..., 0]
            t = t - torch.bmm(h2[:, None, :], basis)[:, 0]
            h = h + h2
            norm = t.norm(dim=1)
            V[:, j + 1] = torch.where(norm[:, None] > 0, t / norm[:, None], 0.0).reshape(N, n, n)
            column = torch.bmm(Qt[:, : j + 2, : j + 1], h[:, :, None])[..., 0]  # previous rotations applied
            column[:, j + 1] += norm  # (row j + 1 of Qt is still e_{j+1})
            d = torch.hypot(column[:, j], column[:, j + 1])
            cs = torch.where(active & (d > 0), column[:, j] / d, 1.0)
            sn = torch.where(active & (d > 0), column[:, j + 1] / d, 0.0)
            column[:, j] = torch.where(active, d, column[:, j])
            column[:, j + 1] = 0.0
            Hs[:, : j + 2, j] = column
            qj, qn = Qt[:, j].clone(), Qt[:, j + 1].clone()
            Qt[:, j] = cs[:, None] * qj + sn[:, None] * qn
            Qt[:, j + 1] = -sn[:, None] * qj + cs[:, None] * qn
            stepped[:, j] = active
            it += active
            steps = j + 1
            estimate = (res * Qt[:, j + 1, 0]).abs()
            active = active & (estimate > target) & (it < maxiter) & (norm > 0)  # norm 0: lucky breakdown
        # y from the leading block of each sample's own steps: the columns of the steps it did not take are
        # identity columns with zero right-hand side, so their y is zero.
        mask = stepped[:, :steps]
        R = torch.where(mask[:, None, :], Hs[:, :steps, :steps], eye[:steps, :steps])
        g = torch.where(mask, res[:, None] * Qt[:, :steps, 0], 0.0)
        y = torch.linalg.solve_triangular(R, g[:, :, None], upper=True)
        update = torch.bmm(y.transpose(1, 2), V[:, :steps].reshape(N, steps, nn))[:, 0].reshape(N, n, n)
        update = torch.where(_col(start), update, 0.0)
        trial = x + torch.where(_col(start), H.vcycle(update), 0.0)
        r_trial = b - applyB(trial)
        new = _dot(r_trial, r_trial).sqrt()
        better = start & (new < res)
        # a cycle without progress (stagnation at rounding level, or breakdown) stops the sample at its better iterate
        stalled |= start & ~better
        x = torch.where(_col(better), trial, x)
        r = torch.where(_col(better), r_trial, r)
        res = torch.where(better, new, res)
    return x, it


def torch_solve(
    permeability: torch.Tensor,
    source: torch.Tensor,
    scheme: str,
    *,
    tol: float = 1e-10,
    maxiter: int = 100,
    pre_sweeps: int = 1,
    post_sweeps: int = 1,
    coarse_nodes: int = 5,
    coarsening: str = "rediscretize",
    check_every: int = CHECK_EVERY,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Solve a batch of bordered systems on the tensors' device (see the module docstring).

    Parameters
    ----------
    permeability, source : Tensor of shape (N, n, n), float64
        K > 0 (not checked here) and f at the nodes, on the device to solve on.
    scheme : {"conservative", "paper"}
    tol, maxiter, pre_sweeps, post_sweeps, coarse_nodes
        As the native solver's (:class:`vaetk_plugins.solvers.native.NativeSolver`).
    coarsening : {"rediscretize", "galerkin"}
        Coarse operators of the conservative scheme; the paper scheme always uses Galerkin.
    check_every : int
        Krylov steps between host synchronisations that stop the loop once every sample has converged (per-sample
        iteration counts do not depend on it).

    Returns
    -------
    pressure : Tensor of shape (N, n, n)
        Zero weighted mean.
    residual : Tensor of shape (N,)
        Relative residual ||b - M x|| / ||b|| of each bordered system.
    iterations : Tensor of shape (N,), int64
    """
    K, f = permeability, source
    n = K.shape[-1]
    h = 1.0 / (n - 1)
    w = torch.as_tensor(trapezoid_weights(n), dtype=K.dtype, device=K.device)
    a = fine_operator(K, scheme)
    rhs = f if scheme == "paper" else w * f
    rhs_norm = _dot(rhs, rhs).sqrt()
    target = tol * rhs_norm
    galerkin_coarse = scheme == "paper" or coarsening == "galerkin"
    H = Hierarchy(a, galerkin_coarse=galerkin_coarse, pre_sweeps=pre_sweeps, post_sweeps=post_sweeps,
                  coarse_nodes=coarse_nodes)
    if scheme == "conservative":
        lam = rhs.sum((-2, -1))  # 1^T A = 0 and sum(w) = 1
        x, it = _pcg(H, rhs - _col(lam) * w, target, maxiter, check_every)
    else:
        c = 4.0 * K.sum((-2, -1)) / (h * h)

        def applyB(v: torch.Tensor) -> torch.Tensor:
            return H.apply(v) + _col(c / (n * n) * v.sum((-2, -1))) * w

        x, it = _gmres(H, rhs, applyB, target, maxiter, check_every)
        lam = c * x.mean((-2, -1))
    p = x - _col(_dot(w, x))
    r = rhs - H.apply(p) - _col(lam) * w
    wp = _dot(w, p)
    residual = (_dot(r, r) + wp * wp).sqrt() / torch.clamp(rhs_norm, min=torch.finfo(K.dtype).tiny)
    zero = rhs_norm == 0.0  # nothing to solve: p = 0 exactly
    p = torch.where(_col(zero), 0.0, p)
    residual = torch.where(zero, 0.0, residual)
    return p, residual, it


def time_batch(n: int, batch: int, device: str = "cuda", scheme: str = "conservative", *, repeats: int = 3,
               seed: int = 0) -> dict[str, Any]:
    """Time :func:`vaetk.darcy.solve` with ``device`` on ``batch`` smooth log-normal fields (for device checks).

    Returns
    -------
    dict
        n, batch, device, scheme, seconds (median over ``repeats`` after one warm-up on two samples),
        samples_per_s, iterations_max, residual_max.
    """
    from vaetk.darcy._solve import solve

    rng = np.random.default_rng(seed)
    s = np.linspace(0.0, 1.0, n)
    G = np.zeros((batch, n, n))
    for i in range(1, 4):
        for j in range(1, 4):
            mode = np.outer(np.cos(math.pi * i * s), np.cos(math.pi * j * s)) / (i * j)
            G += rng.standard_normal((batch, 1, 1)) * mode
    K = np.exp(G)
    solve(K[:2], scheme=scheme, device=device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _, info = solve(K, scheme=scheme, device=device, return_info=True)
        times.append(time.perf_counter() - start)
    seconds = float(np.median(times))
    return {"n": n, "batch": batch, "device": device, "scheme": scheme, "seconds": seconds,
            "samples_per_s": batch / seconds, "iterations_max": int(info.iterations.max()),
            "residual_max": float(info.residual.max())}
