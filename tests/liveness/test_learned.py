"""Learned PAD / deepfake detectors: training from the shared data, pinning, protocols, run time.

Models are trained here from ../shared/data into tmp folders (never committed); features are cached
in a tmp folder, so a second run costs seconds. The AUC floors below are what subject-disjoint
cross-validation actually achieves on these sets (docs/bench/pad_learned/) minus a margin.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from liveness.helpers import largest_face, read_rgb
from pydantic import ValidationError

from kycguard.bench.detection_metrics import run_protocols, wilson
from kycguard.bench.train import (
    fit_logistic,
    group_folds,
    labelled_rows,
    operating_threshold,
    pad_feature_rows,
    read_cases,
    subject_of,
)
from kycguard.cli import main
from kycguard.errors import ModelUnavailable
from kycguard.liveness.config import LivenessSettings
from kycguard.liveness.learned import LinearModel, calibrated_score, load_model
from kycguard.liveness.passive import PassiveLivenessDetector
from kycguard.liveness.texture import LBP_BINS, colour_lbp, lbp_histogram
from kycguard.vision.detector import MediaPipeFaceDetector
from kycguard.vision.model_files import sha256_of

ROOT = Path(__file__).resolve().parents[2]
PAD_LABELS = ROOT / "docs" / "bench" / "pad_cv_labels.csv"
PAD_CV_AUC_FLOOR = 0.88  # measured 0.926 subject-disjoint (5 folds, 151 images)


def _tiny_model(kind: str = "pad") -> LinearModel:
    return LinearModel(
        kind=kind,  # type: ignore[arg-type]
        features=("a", "b"),
        mean=np.zeros(2),
        scale=np.ones(2),
        coef=np.array([1.0, -1.0]),
        intercept=0.0,
        threshold=0.5,
    )


def test_lbp_histograms_are_normalised_and_see_flat_regions() -> None:
    flat = np.full((20, 20), 7, np.uint8)
    h = lbp_histogram(flat)
    assert h.sum() == pytest.approx(1.0)
    assert h[8] == 1.0  # every neighbour >= centre: all eight bits set
    rng = np.random.default_rng(0)
    noisy = colour_lbp(rng.integers(0, 255, (80, 80, 3), dtype=np.uint8))
    assert noisy.shape == (6 * LBP_BINS,)
    assert noisy.reshape(6, LBP_BINS).sum(axis=1) == pytest.approx(np.ones(6))
    assert noisy.reshape(6, LBP_BINS)[:, 9].min() > 0.3  # noise is mostly non-uniform codes


def test_logistic_fit_and_operating_threshold() -> None:
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(2.5, 1, (60, 2))])
    y = np.r_[np.zeros(60), np.ones(60)]
    coef, intercept = fit_logistic(x, y, 1.0)
    p = 1 / (1 + np.exp(-(x @ coef + intercept)))
    assert np.mean((p >= 0.5) == y) > 0.9
    t = operating_threshold(p[y == 0], 0.15)
    assert np.mean(p[y == 0] >= t) <= 0.15
    assert np.mean(p[y == 0] >= np.nextafter(t, 0) - 1e-6) > 0.1  # the threshold is not lax


def test_wilson_interval_matches_the_formula() -> None:
    assert wilson(0, 10)["ci95"] == [0.0, 0.2775]
    r = wilson(5, 37)
    assert r["rate"] == pytest.approx(0.1351, abs=1e-4)
    assert r["ci95"][0] < r["rate"] < r["ci95"][1]


def test_calibration_puts_the_operating_point_on_the_verdict_threshold() -> None:
    assert calibrated_score(0.3, 0.3, 60.0, liveness=True) == pytest.approx(60.0)
    assert calibrated_score(0.0, 0.3, 60.0, liveness=True) == pytest.approx(100.0)
    assert calibrated_score(1.0, 0.3, 60.0, liveness=True) == pytest.approx(0.0)
    assert calibrated_score(0.2, 0.2, 50.0, liveness=False) == pytest.approx(50.0)
    assert calibrated_score(0.9, 0.2, 50.0, liveness=False) > 90


def test_subject_disjoint_folds_never_share_a_subject() -> None:
    cases = read_cases(PAD_LABELS)
    nuaa = {c.subject for c in cases if c.subject.startswith("nuaa:")}
    assert nuaa == {f"nuaa:{i:04d}" for i in (1, 3, 5, 7, 9, 11, 13, 15)}
    assert subject_of("more/deepfake/dfl_Keanu_Reeves_2_left_original.mp4") == "dfl:Keanu_Reeves"
    y = np.array([c.attack for c in cases], float)
    folds = group_folds([c.subject for c in cases], y, 5)
    fold_of: dict[str, set[int]] = {}
    for c, f in zip(cases, folds, strict=True):
        fold_of.setdefault(c.subject, set()).add(int(f))
    assert all(len(v) == 1 for v in fold_of.values())
    for f in range(5):  # every test fold holds both classes
        assert set(y[folds == f]) == {0.0, 1.0}


def test_model_file_is_pinned(tmp_path: Path) -> None:
    path = tmp_path / "pad.json"
    _tiny_model().save(path)
    digest = sha256_of(path)
    assert load_model(path, digest, "pad").describe()["sha256"] == digest
    with pytest.raises(ModelUnavailable) as err:
        load_model(path, "0" * 64, "pad")
    assert err.value.code == "MODEL_HASH_MISMATCH"
    with pytest.raises(ModelUnavailable) as err:
        load_model(tmp_path / "absent.json", digest, "pad")
    assert err.value.code == "MODEL_FILE_MISSING"
    with pytest.raises(ModelUnavailable) as err:
        load_model(path, digest, "deepfake")
    assert err.value.code == "MODEL_INVALID"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"format": "other"}))
    with pytest.raises(ModelUnavailable) as err:
        load_model(broken, sha256_of(broken), "pad")
    assert err.value.code == "MODEL_INVALID"
    with pytest.raises(ValidationError, match="pad_model_sha256"):
        LivenessSettings(pad_model_path=path)
    with pytest.raises(ModelUnavailable) as err:
        PassiveLivenessDetector.create_from_options(
            LivenessSettings(pad_model_path=path, pad_model_sha256="1" * 64)
        )
    assert err.value.code == "MODEL_HASH_MISMATCH"


@pytest.fixture(scope="module")
def pad_training(eval_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`kycguard models train-pad` on the 151 shared PAD images (features cached in tmp)."""
    out = tmp_path_factory.mktemp("pad_model") / "pad.json"
    args = ["models", "train-pad", "--images", str(eval_data), "--labels", str(PAD_LABELS)]
    assert main([*args, "--out", str(out)]) == 0
    return out


@pytest.mark.evaldata
@pytest.mark.slow
def test_train_pad_writes_a_model_and_its_card(pad_training: Path) -> None:
    card = json.loads(Path(f"{pad_training}.card.json").read_text())
    assert card["sha256"] == sha256_of(pad_training)
    assert card["data"]["samples"] == 151
    assert card["data"]["counts"]["attack/print"] == 30
    assert card["data"]["subjects"] < card["data"]["samples"]  # NUAA subjects grouped
    assert "lbp_cr_0" in card["features"] and "screen_moire" in card["features"]
    model = load_model(pad_training, card["sha256"], "pad")
    assert 0 < model.threshold < 1


@pytest.mark.evaldata
@pytest.mark.slow
def test_pad_subject_disjoint_auc(eval_data: Path, pad_training: Path) -> None:
    """The cross-validated AUC actually achieved, minus a margin (features come from the cache)."""
    cases = read_cases(PAD_LABELS)
    kept, rows, _ = labelled_rows(cases, pad_feature_rows(eval_data, cases, None))
    report = run_protocols(rows, kept, "pad")
    cv = report["subject_disjoint_cv"]
    assert cv["roc_auc"]["auc"] >= PAD_CV_AUC_FLOOR
    assert cv["apcer_by_attack_type"]["print"]["rate"] <= 0.1
    assert cv["untested"] == 0


@pytest.mark.evaldata
@pytest.mark.slow
def test_passive_detector_runs_the_trained_model(
    eval_data: Path, pad_training: Path, face_detector: MediaPipeFaceDetector
) -> None:
    digest = sha256_of(pad_training)
    det = PassiveLivenessDetector.create_from_options(
        LivenessSettings(pad_model_path=pad_training, pad_model_sha256=digest)
    )
    assert det.model_status["learned_pad"].startswith("loaded")
    for name, verdicts in (("image_F2", {"attack", "uncertain"}), ("image_T1", {"live"})):
        rgb = read_rgb(eval_data / "pad" / "silent_face" / "images" / f"{name}.jpg")
        out = det.assess(rgb, largest_face(face_detector, rgb)).to_dict()
        assert out["detectors"]["fusion"] == "learned_pad"
        assert out["detectors"]["learned_pad"]["sha256"] == digest
        assert "learned_pad" in out["active_detectors"]
        assert out["verdict"] in verdicts, (name, out["score"])


@pytest.fixture(scope="module")
def deepfake_training(eval_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`kycguard models train-deepfake` on 8 DeepFaceLive pairs (original and swap halves)."""
    import csv

    tmp = tmp_path_factory.mktemp("df_model")
    with (eval_data / "more" / "deepfake_labels.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["file"].startswith("deepfake/dfl_")]
    labels = tmp / "labels.csv"
    with labels.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows[:16])
    out = tmp / "deepfake.json"
    args = [
        "models",
        "train-deepfake",
        "--videos",
        str(eval_data / "more"),
        "--labels",
        str(labels),
    ]
    assert main([*args, "--out", str(out)]) == 0
    return out


@pytest.mark.evaldata
@pytest.mark.slow
def test_sequence_reports_the_trained_deepfake_model(
    deepfake_training: Path, clips: dict[str, list]
) -> None:
    from kycguard.liveness.sequence import assess_sequence

    digest = sha256_of(deepfake_training)
    options = LivenessSettings(deepfake_model_path=deepfake_training, deepfake_model_sha256=digest)
    out = assess_sequence(clips["orig.webm"], options).to_dict()
    learned = out["signals"]["learned_deepfake"]
    assert learned["active"] and 0 <= learned["value"] <= 1
    assert learned["extra"]["model"]["sha256"] == digest
    assert out["verdicts"]["deepfake"] in {"real", "fake"}
    card = json.loads(Path(f"{deepfake_training}.card.json").read_text())
    assert card["data"]["counts"] == {"bona_fide/none": 8, "attack/faceswap": 8}


@pytest.mark.evaldata
@pytest.mark.slow
def test_bench_pad_evaluates_a_model_file(
    eval_data: Path, pad_training: Path, tmp_path: Path
) -> None:
    """`kycguard bench pad --model` scores every image with the file's own threshold, and says
    when the labels are the ones it was trained on (a fit, not a test)."""
    args = ["bench", "pad", "--images", str(eval_data), "--labels", str(PAD_LABELS)]
    assert main([*args, "--model", str(pad_training), "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "pad_learned.json").read_text())
    model = report["model"]
    assert model["sha256"] == sha256_of(pad_training)
    assert model["warning"] is not None
    assert model["bpcer"]["n"] == 114 and model["apcer"]["n"] == 37
    assert model["roc_auc"]["auc"] > 0.95  # in-sample: the fit must at least separate its own data
    assert (tmp_path / "pad_det.png").stat().st_size > 10_000


@pytest.mark.evaldata
@pytest.mark.slow
def test_session_frames_name_the_pad_model(pad_training: Path, clips: dict[str, list]) -> None:
    from kycguard.liveness.sequence import assess_sequence

    options = LivenessSettings(
        pad_model_path=pad_training, pad_model_sha256=sha256_of(pad_training)
    )
    passive = PassiveLivenessDetector.create_from_options(options)
    out = assess_sequence(clips["obama_short.mp4"], options, passive=passive).to_dict()
    frames = out["signals"]["passive_frames"]
    assert frames["active"] and frames["extra"]["fusion"] == "learned_pad"
    assert frames["extra"]["pad_model"]["sha256"] == sha256_of(pad_training)
