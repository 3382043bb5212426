"""Face-match confidence calibrated from data (Platt scaling), not a hand-picked formula.

``P(same person | distance) = 1 / (1 + exp(slope * (distance - midpoint)))``, fitted by logistic
regression on labelled pairs (``kycguard bench faces --write-calibration``). The shipped parameters
come from the 2,200 LFW DevTrain pairs (original_150 variant) run through the service's own
pipeline; see README "Face match" for the fit and its limits (equal priors, celebrity photos).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Calibration:
    model: str
    slope: float
    midpoint: float
    fitted_on: str
    pairs: int

    def probability(self, distance: float) -> float:
        z = self.slope * (distance - self.midpoint)
        return 1.0 / (1.0 + math.exp(min(60.0, max(-60.0, z))))

    def confidence(self, distance: float) -> float:
        """Calibrated probability of a match, in percent."""
        return round(100.0 * self.probability(distance), 2)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @staticmethod
    def load(path: Path) -> Calibration:
        return Calibration(**json.loads(path.read_text()))

    @staticmethod
    def default() -> Calibration:
        ref = resources.files("kycguard.decision") / "face_match_calibration.json"
        return Calibration(**json.loads(ref.read_text()))

    @staticmethod
    def uncalibrated(model: str, tolerance: float) -> Calibration:
        """For a model nobody has fitted: 50 % at the tolerance, a generic slope. Flagged in output."""
        return Calibration(
            model=model, slope=25.0, midpoint=tolerance, fitted_on="uncalibrated", pairs=0
        )


def fit(distances: np.ndarray, same: np.ndarray, *, model: str, fitted_on: str) -> Calibration:
    """Logistic regression of ``same`` on ``distance`` by Newton's method (two parameters)."""
    x = np.asarray(distances, dtype=np.float64)
    y = np.asarray(same, dtype=np.float64)
    design = np.column_stack([np.ones_like(x), x])
    w = np.zeros(2)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(design @ w)))
        grad = design.T @ (y - p)
        hess = design.T @ (design * (p * (1 - p))[:, None]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w += step
        if np.max(np.abs(step)) < 1e-10:
            break
    # P(same) = sigmoid(w0 + w1 x) = 1 / (1 + exp(-w1 (x - (-w0 / w1))))
    slope = -float(w[1])
    return Calibration(
        model=model, slope=slope, midpoint=float(-w[0] / w[1]), fitted_on=fitted_on, pairs=len(x)
    )
