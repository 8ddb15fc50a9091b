"""Rigid segments from markers: checks of marker and rotation arrays, the fit of a marker
template to every frame, the template itself, the pelvis frame."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike

from ..errors import GaitInputError, Where

#: Rotation matrices must be orthonormal to this tolerance.
_ORTHO_TOL = 1e-6


# ---------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------
def as_vectors(x: ArrayLike, name: str, *, allow_nan: bool = False) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 2 or a.shape[1] != 3:
        raise GaitInputError(
            "bad array", expected="shape (n, 3)", found=f"shape {a.shape}", where=Where(parameter=name)
        )
    bad = np.isinf(a) if allow_nan else ~np.isfinite(a)
    if bad.any():
        i = int(np.flatnonzero(bad.any(axis=1))[0])
        raise GaitInputError(
            "non-finite values", expected="finite numbers", found=f"{a[i]} in row {i}", where=Where(parameter=name)
        )
    return a


def as_rotations(x: ArrayLike, name: str) -> np.ndarray:
    r = np.asarray(x, dtype=float)
    if r.ndim != 3 or r.shape[1:] != (3, 3):
        raise GaitInputError(
            "bad orientation array", expected="shape (n, 3, 3)", found=f"shape {r.shape}", where=Where(parameter=name)
        )
    if not np.isfinite(r).all():
        i = int(np.flatnonzero(~np.isfinite(r).reshape(len(r), -1).all(axis=1))[0])
        raise GaitInputError(
            "non-finite orientation",
            expected="finite rotation matrices",
            found=f"NaN or inf at row {i}",
            where=Where(parameter=name),
        )
    err = np.abs(np.einsum("nji,njk->nik", r, r) - np.eye(3)).max(axis=(1, 2)) if len(r) else np.zeros(0)
    det = np.linalg.det(r) if len(r) else np.zeros(0)
    bad = (err > _ORTHO_TOL) | (det < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise GaitInputError(
            "not a rotation",
            expected=f"orthonormal matrices with determinant +1 (within {_ORTHO_TOL:g})",
            found=f"row {i}: |R^T R - I| = {err[i]:.3g}, det = {det[i]:.3g}",
            where=Where(parameter=name),
        )
    return r


# ---------------------------------------------------------------------------------------
# rigid segments
# ---------------------------------------------------------------------------------------
def rigid_fit(markers: Mapping[str, ArrayLike], template: Mapping[str, ArrayLike]) -> tuple[np.ndarray, np.ndarray]:
    """Pose of a rigid marker cluster in every frame (weighted least squares, vectorised).

    Parameters
    ----------
    markers
        Marker name -> positions, shape ``(n, 3)``; NaN rows are missing samples (that
        marker is left out of that frame's fit).
    template
        Marker name -> position in the segment frame, shape ``(3,)`` (e.g. from
        `segment_template` on a static trial). Only markers present in both are used.

    Returns
    -------
    orientation : ndarray, shape (n, 3, 3)
        Rotation from the segment frame to the world (columns: segment axes in world).
    origin : ndarray, shape (n, 3)
        The segment frame's origin in the world: ``marker = origin + orientation @ local``.

    Raises
    ------
    GaitInputError
        If no marker is shared, shapes disagree, or a frame has fewer than three usable
        (non-collinear) markers.
    """
    names = [k for k in template if k in markers]
    if len(names) < 3:
        raise GaitInputError(
            "too few markers",
            expected="at least three markers present in both 'markers' and 'template'",
            found=", ".join(names) or "none",
            where=Where(parameter="markers"),
        )
    P = np.stack([np.asarray(template[k], dtype=float).reshape(3) for k in names])
    Q = np.stack([as_vectors(markers[k], f"markers[{k!r}]", allow_nan=True) for k in names], axis=1)
    n = Q.shape[0]
    w = np.isfinite(Q).all(axis=2).astype(float)
    count = w.sum(axis=1)
    Qz = np.where(w[..., None] > 0, Q, 0.0)
    wn = w / np.maximum(count, 1.0)[:, None]
    pc = wn @ P
    qc = np.einsum("nm,nmk->nk", wn, Qz)
    Pc = P[None] - pc[:, None]
    Qc = (Qz - qc[:, None]) * w[..., None]
    H = np.einsum("nmi,nmj->nij", Pc * w[..., None], Qc)
    U, S, Vt = np.linalg.svd(H)
    # a cluster defines a rotation only when its points span a plane
    degenerate = (count < 3) | (S[:, 1] <= 1e-9 * np.maximum(S[:, 0], 1e-300))
    if degenerate.any():
        i = int(np.flatnonzero(degenerate)[0])
        raise GaitInputError(
            "segment pose undefined",
            expected="at least three non-collinear markers in every frame",
            found=f"frame {i} of {n}: {int(count[i])} marker(s) present",
            where=Where(parameter="markers"),
        )
    d = np.sign(np.linalg.det(np.einsum("nij,njk->nik", U, Vt)))
    D = np.zeros((n, 3, 3))
    D[:, 0, 0] = 1.0
    D[:, 1, 1] = 1.0
    D[:, 2, 2] = d
    R = np.einsum("nji,njk,nlk->nil", Vt, D, U)  # V D U^T
    origin = qc - np.einsum("nij,nj->ni", R, pc)
    return R, origin


def segment_template(
    markers: Mapping[str, ArrayLike], orientation: ArrayLike, origin: ArrayLike
) -> dict[str, np.ndarray]:
    """Mean position of each marker in the segment frame: ``R^T (marker - origin)``.

    Built once from a static trial (e.g. with the anatomical frame of `pelvis_frame`), it is
    the template `rigid_fit` fits to every frame of a movement trial. Missing samples (NaN)
    are left out of the mean.
    """
    R = as_rotations(orientation, "orientation")
    o = as_vectors(origin, "origin")
    out = {}
    for k, x in markers.items():
        p = as_vectors(x, f"markers[{k!r}]", allow_nan=True)
        if p.shape[0] != o.shape[0]:
            raise GaitInputError(
                "length mismatch",
                expected=f"{o.shape[0]} rows",
                found=f"{p.shape[0]}",
                where=Where(parameter=f"markers[{k!r}]"),
            )
        local = np.einsum("nji,nj->ni", R, p - o)
        ok = np.isfinite(local).all(axis=1)
        if ok.any():
            out[k] = local[ok].mean(axis=0)
    return out


def pelvis_frame(
    r_asis: ArrayLike, l_asis: ArrayLike, r_psis: ArrayLike, l_psis: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Pelvis anatomical frame (ISB, Wu et al. 2002) from the four iliac spines.

    Origin midway between the ASIS; the medio-lateral axis through both ASIS; the forward
    axis in the plane of the ASIS and the PSIS midpoint, perpendicular to it; up completes
    the frame. Returned as columns (forward, left, up) in world coordinates (the ISB frame is
    x forward, y up, z right: the same axes, named and ordered as this package does).

    Returns
    -------
    orientation : ndarray, shape (n, 3, 3)
    origin : ndarray, shape (n, 3)
    """
    ra, la = as_vectors(r_asis, "r_asis"), as_vectors(l_asis, "l_asis")
    rp, lp = as_vectors(r_psis, "r_psis"), as_vectors(l_psis, "l_psis")
    origin = (ra + la) / 2
    left = la - ra
    left /= np.linalg.norm(left, axis=1, keepdims=True)
    back_to_front = origin - (rp + lp) / 2
    fwd = back_to_front - left * np.einsum("ni,ni->n", back_to_front, left)[:, None]
    fwd /= np.linalg.norm(fwd, axis=1, keepdims=True)
    up = np.cross(fwd, left)
    return np.stack([fwd, left, up], axis=2), origin
