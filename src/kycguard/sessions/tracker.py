"""The session state machine: neutral baseline, then each challenge in order within its time limit.

Pure logic over a JSON-able state dict (the database row holds it), fed one analysed frame at a time.
It never touches pixels or storage itself: it says which kept images to (over)write with the current
frame (``TrackResult.store``) and asks the caller's probe for the pixel check of moved photos.

Phases: ``baseline`` (collect steady neutral frames) -> ``challenges`` -> ``passed`` or ``failed``
(time limit hit ``max_challenge_attempts`` times). A challenge that runs out of time is never passed:
it restarts with a fresh timer and counts as a failed attempt.
"""

from __future__ import annotations

import copy
import statistics
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kycguard.sessions.challenges import Detector, Neutral, PlaneProbe, detector_for
from kycguard.sessions.config import Challenge, SessionSettings
from kycguard.sessions.features import FrameFeatures, measure, rigid_points
from kycguard.vision.types import Face

NEUTRAL_KEYS = (
    "ear_left",
    "ear_right",
    "mouth_width",
    "mouth_gap",
    "yaw",
    "pitch",
    "blink_min",
    "smile",
    "jaw_open",
)
# A challenge's reaction onset: the first frame of the attempt at this share of its progress
# (the screen-replay cue ``challenge_timing`` reads the onsets at completion).
ONSET_PROGRESS = 0.25


@dataclass(frozen=True)
class FrameInput:
    """What the tracker needs from one analysed frame."""

    client_ms: float  # capture time reported by the client
    server_ms: float  # arrival time on the server (epoch ms)
    face: Face | None  # the one usable face, None when none, several or too small
    face_count: int  # faces competing to be "the" person (tiny background faces excluded)
    sharpness: float | None = None  # variance of the Laplacian of the face (see vision.quality)


@dataclass(frozen=True)
class TrackResult:
    state: dict[str, Any]
    events: list[str] = field(default_factory=list)
    store: list[str] = field(default_factory=list)  # kept-image keys to write with this frame
    hint: str | None = None
    features: FrameFeatures | None = None


class SessionTracker:
    def __init__(self, settings: SessionSettings) -> None:
        self.s = settings

    def initial_state(self, challenges: list[Challenge]) -> dict[str, Any]:
        return {
            "phase": "baseline",
            "challenges": [c.value for c in challenges],
            "index": 0,
            "window": [],
            "neutral": None,
            "reference": None,
            "attempt_started_ms": None,
            "failed_attempts": 0,
            "detector": None,
            "progress": 0.0,
            "last_face_ms": None,
            "results": [
                {"challenge": c.value, "status": "pending", "attempts": 0} for c in challenges
            ],
            "best": [],
            "counts": {"frames": 0, "single_face": 0, "no_face": 0, "multiple_faces": 0},
            "counts_after_baseline": {"frames": 0, "single_face": 0},
        }

    # -- stepping --------------------------------------------------------------------------------

    def step(self, state: dict[str, Any], frame: FrameInput, probe: PlaneProbe) -> TrackResult:
        st = _copy(state)
        counts = st["counts"]
        counts["frames"] += 1
        if frame.face is not None:
            counts["single_face"] += 1
        elif frame.face_count == 0:
            counts["no_face"] += 1
        elif frame.face_count > 1:
            counts["multiple_faces"] += 1
        if st["phase"] == "baseline":
            return self._baseline(st, frame)
        if st["phase"] != "challenges":
            return TrackResult(st, hint="finished")
        after = st["counts_after_baseline"]
        after["frames"] += 1
        after["single_face"] += int(frame.face is not None)
        ring = self._ring(st, frame)
        out = self._challenge(st, frame, probe)
        return TrackResult(out.state, out.events, [*out.store, *ring], out.hint, out.features)

    def _ring(self, st: dict[str, Any], frame: FrameInput) -> list[str]:
        """The most recent frames, in order, for the sequence cues at completion (bounded)."""
        n = self.s.sequence_frames
        if n == 0:
            return []
        key = f"seq/{st.get('ring_next', 0) % n}"
        st["ring_next"] = st.get("ring_next", 0) + 1
        entry = {"key": key, "client_ms": frame.client_ms, "server_ms": frame.server_ms}
        st["ring"] = [e for e in st.get("ring", []) if e["key"] != key] + [entry]
        return [key]

    def _baseline(self, st: dict[str, Any], frame: FrameInput) -> TrackResult:
        b = self.s.baseline
        if frame.face is None:
            st["window"] = []
            return TrackResult(st, hint="look_straight")
        raw = measure(frame.face)
        usable = (
            abs(raw.yaw) <= b.max_abs_yaw_deg
            and abs(raw.pitch) <= b.max_abs_pitch_deg
            and min(raw.ear_left, raw.ear_right) >= b.min_eye_aspect
        )
        if not usable:
            st["window"] = []
            return TrackResult(st, hint="look_straight", features=raw)
        st["window"] = [*st["window"], {k: getattr(raw, k) for k in NEUTRAL_KEYS}][-b.frames :]
        store = self._best(st, frame, raw, None)
        if len(st["window"]) < b.frames or not self._steady(st["window"]):
            return TrackResult(st, store=store, hint="look_straight", features=raw)
        neutral = {k: statistics.median(w[k] for w in st["window"]) for k in NEUTRAL_KEYS}
        st.update(
            phase="challenges",
            neutral=neutral,
            reference=np.round(rigid_points(frame.face), 2).tolist(),
            window=[],
            last_face_ms=frame.client_ms,
        )
        self._start_attempt(st, frame.server_ms)
        return TrackResult(st, events=["baseline_established"], store=store, features=raw)

    def _steady(self, window: list[dict[str, float]]) -> bool:
        b = self.s.baseline
        med = {k: statistics.median(w[k] for w in window) for k in NEUTRAL_KEYS}
        for w in window:
            if abs(w["yaw"] - med["yaw"]) > b.pose_tolerance_deg:
                return False
            if abs(w["pitch"] - med["pitch"]) > b.pose_tolerance_deg:
                return False
            for eye in ("ear_left", "ear_right"):
                if abs(w[eye] - med[eye]) > b.ear_tolerance * med[eye]:
                    return False
            for expr in ("smile", "jaw_open"):
                if abs(w[expr] - med[expr]) > b.expression_tolerance:
                    return False
        return True

    def _start_attempt(self, st: dict[str, Any], server_ms: float) -> None:
        challenge = Challenge(st["challenges"][st["index"]])
        st["attempt_started_ms"] = server_ms
        st["onset_ms"] = None
        st["detector"] = self._detector(challenge).initial()
        st["progress"] = 0.0
        st["results"][st["index"]]["attempts"] += 1
        st["results"][st["index"]]["status"] = "in_progress"

    def _detector(self, challenge: Challenge) -> Detector:
        return detector_for(challenge, self.s.detectors, mirrored=self.s.frames_mirrored)

    def _challenge(self, st: dict[str, Any], frame: FrameInput, probe: PlaneProbe) -> TrackResult:
        events: list[str] = []
        if frame.server_ms - st["attempt_started_ms"] > self.s.challenge_timeout_s * 1000:
            st["failed_attempts"] += 1
            result = st["results"][st["index"]]
            result["timed_out"] = result.get("timed_out", 0) + 1
            if st["failed_attempts"] >= self.s.max_challenge_attempts:
                st["phase"] = "failed"
                result["status"] = "failed"
                return TrackResult(
                    st, events=["attempt_timed_out", "session_failed"], hint="failed"
                )
            events.append("attempt_timed_out")
            self._start_attempt(st, frame.server_ms)
        if frame.face is None:
            last = st["last_face_ms"]
            if last is not None and frame.client_ms - last > self.s.face_lost_reset_ms:
                challenge = Challenge(st["challenges"][st["index"]])
                st["detector"] = self._detector(challenge).initial()
                st["progress"] = 0.0
            return TrackResult(
                st, events=events, hint="face_lost" if frame.face_count == 0 else "one_person"
            )
        st["last_face_ms"] = frame.client_ms
        neutral = Neutral.from_dict(st["neutral"])
        feats = measure(frame.face, np.asarray(st["reference"], dtype=np.float64))
        index = st["index"]
        challenge = Challenge(st["challenges"][index])
        out = self._detector(challenge).step(st["detector"], feats, neutral, frame.client_ms, probe)
        st["detector"] = out.state
        st["progress"] = round(out.progress, 3)
        if st.get("onset_ms") is None and out.progress >= ONSET_PROGRESS:
            st["onset_ms"] = frame.server_ms
        store = self._best(st, frame, feats, neutral)
        if not out.done:
            return TrackResult(st, events=events, store=store, hint=out.hint, features=feats)
        result = st["results"][index]
        result.update(
            status="passed",
            completed_ms=frame.server_ms,
            seconds=round((frame.server_ms - st["attempt_started_ms"]) / 1000, 2),
            onset_s=round(
                ((st.get("onset_ms") or frame.server_ms) - st["attempt_started_ms"]) / 1000, 3
            ),
            evidence=out.evidence,
        )
        events.append("challenge_passed")
        store = [*store, f"challenge/{index}"]
        st["index"] = index + 1
        if st["index"] == len(st["challenges"]):
            st.update(phase="passed", detector=None, progress=0.0)
            events.append("session_passed")
            return TrackResult(st, events=events, store=store, hint="done", features=feats)
        self._start_attempt(st, frame.server_ms)
        return TrackResult(st, events=events, store=store, hint=None, features=feats)

    # -- kept frames -----------------------------------------------------------------------------

    def _best(
        self, st: dict[str, Any], frame: FrameInput, f: FrameFeatures, n: Neutral | None
    ) -> list[str]:
        """Keep the sharpest, largest frontal neutral frames: the face template at completion."""
        if n is None:
            frontal = abs(f.yaw) <= 15 and abs(f.pitch) <= 20
        else:
            frontal = (
                abs(f.yaw - n.yaw) <= 10
                and abs(f.pitch - n.pitch) <= 10
                and min(f.ear_left / n.ear_left, f.ear_right / n.ear_right) >= 0.8
                and f.smile - n.smile < 0.3
                and f.jaw_open - n.jaw_open < 0.2
            )
        if not frontal or frame.sharpness is None:
            return []
        score = round(min(f.face_px, 240.0) / 240.0 * min(frame.sharpness, 200.0) / 200.0, 4)
        best: list[dict[str, Any]] = st["best"]
        if len(best) < self.s.best_frames:
            key = f"best/{len(best)}"
            best.append({"key": key, "score": score})
            return [key]
        worst = min(best, key=lambda b: b["score"])
        if score > worst["score"] * 1.05:
            worst["score"] = score
            return [worst["key"]]
        return []

    # -- reporting -------------------------------------------------------------------------------

    def summary(self, st: dict[str, Any], now_ms: float | None = None) -> dict[str, Any]:
        """What a client sees after each frame: the current challenge, progress, running score."""
        total = len(st["challenges"])
        passed = sum(r["status"] == "passed" for r in st["results"])
        current = None
        if st["phase"] == "challenges":
            index = st["index"]
            current = {
                "index": index,
                "challenge": st["challenges"][index],
                "progress": st["progress"],
                "attempt": st["results"][index]["attempts"],
                "seconds_left": None
                if now_ms is None
                else round(
                    max(
                        0.0, self.s.challenge_timeout_s - (now_ms - st["attempt_started_ms"]) / 1000
                    ),
                    1,
                ),
            }
        after = st["counts_after_baseline"]
        continuity = after["single_face"] / after["frames"] if after["frames"] else 0.0
        challenge_part = (passed + (st["progress"] if current else 0.0)) / total if total else 0.0
        if st["phase"] == "baseline":
            challenge_part, continuity = 0.0, 0.0
        return {
            "phase": st["phase"],
            "current_challenge": current,
            "challenges_completed": passed,
            "challenges_total": total,
            "liveness_score": round(100.0 * (0.8 * challenge_part + 0.2 * continuity), 1),
        }


LIVENESS_SCORE_BASIS = (
    "running score, 0-100: 80 % challenge progress (each challenge checked on the frames and by a "
    "pixel test against moved photos), 20 % face continuity (share of frames with exactly one face "
    "since the neutral baseline). Passive liveness and deepfake signals are assessed at completion."
)


def _copy(state: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(state)
