"""The planar-motion test's arithmetic on exact points: a plane fits a homography, a head does not."""

from __future__ import annotations

import numpy as np

from kycguard.liveness.geometry import homography_residual, similarity_residual
from kycguard.liveness.simulate import plane_homography


def _project(
    points3d: np.ndarray, yaw_deg: float, f: float = 500.0, depth: float = 350.0
) -> np.ndarray:
    a = np.radians(yaw_deg)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    p = points3d @ rot.T + np.array([0, 0, depth])
    return f * p[:, :2] / p[:, 2:3]


def test_plane_moves_by_a_homography_and_a_head_does_not() -> None:
    rng = np.random.default_rng(0)
    xy = rng.uniform(-60, 60, (200, 2))
    flat = np.column_stack([xy, np.zeros(len(xy))])
    # A head-like relief: a nose 40 units in front of cheeks (a face is ~140 wide).
    head = np.column_stack([xy, -40 * np.exp(-(xy**2).sum(axis=1) / (2 * 25**2))])
    for shape in (flat, head):
        a, b = _project(shape, 0.0), _project(shape, 20.0)
        deformation, residual = similarity_residual(a, b), homography_residual(a, b)
        assert deformation > 1.0  # a 20 degree turn visibly changes the image
        if shape is flat:
            assert residual < 1e-4 * deformation
        else:
            assert residual > 0.3 * deformation


def test_simulated_plane_turn_is_a_pure_homography() -> None:
    h = plane_homography((480, 640), yaw_deg=20, pitch_deg=5, shift=(4, -2))
    pts = np.random.default_rng(1).uniform(0, 480, (50, 2))
    moved = np.column_stack([pts, np.ones(len(pts))]) @ h.T
    moved = moved[:, :2] / moved[:, 2:3]
    assert homography_residual(pts, moved) < 1e-6
    assert similarity_residual(pts, moved) > 1.0
