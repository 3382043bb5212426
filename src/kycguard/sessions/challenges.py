"""The six challenge detectors: small state machines fed one frame's features at a time.

Each detector starts fresh when its challenge is issued, so an action done before the request does
not count, and each needs a *transition* from the person's neutral state (eyes open -> closed -> open,
head straight -> turned -> straight, no smile -> smile held): a still picture never makes one. When a
detector sees the expression it waits for, it asks the pixel check (``planar``) whether a flat picture
moved in front of the camera explains the change; a challenge completes only with a "no".

States are plain JSON dicts so they live in the database between frames (any worker, any restart).
Times are the client's capture timestamps in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from kycguard.sessions.config import Challenge, DetectorSettings
from kycguard.sessions.features import FrameFeatures
from kycguard.sessions.planar import Region

# Best plane fit (NCC) of a region of the current frame onto the neutral frame; see ``planar``.
PlaneProbe = Callable[[Region], float]


@dataclass(frozen=True)
class Neutral:
    """The person's resting face: medians over the baseline frames."""

    ear_left: float
    ear_right: float
    mouth_width: float
    mouth_gap: float
    yaw: float
    pitch: float
    blink_min: float
    smile: float
    jaw_open: float

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 5) for k, v in asdict(self).items()}

    @staticmethod
    def from_dict(d: dict[str, float]) -> Neutral:
        return Neutral(**d)


@dataclass(frozen=True)
class Step:
    state: dict[str, Any]
    progress: float  # 0..1 of this challenge
    done: bool = False
    hint: str | None = None  # a guidance code for the user, see ``guidance``
    evidence: dict[str, Any] = field(default_factory=dict)


class Detector(Protocol):
    def initial(self) -> dict[str, Any]: ...

    def step(
        self, st: dict[str, Any], f: FrameFeatures, n: Neutral, t_ms: float, probe: PlaneProbe
    ) -> Step: ...


def _probe(
    st: dict[str, Any], probe: PlaneProbe, region: Region, limit: float, budget: int
) -> None:
    """Run the pixel check once more unless already passed or out of budget; record the result."""
    if st.get("confirmed") or st.get("checks", 0) >= budget:
        return
    ncc = probe(region)
    st["checks"] = st.get("checks", 0) + 1
    st["best_ncc"] = round(min(st.get("best_ncc", 1.0), ncc), 4)
    if ncc < limit:
        st["confirmed"] = True


class BlinkDetector:
    """Both eyes close, then open again, the closure lasting between min and max duration."""

    def __init__(self, s: DetectorSettings) -> None:
        self.s = s

    def initial(self) -> dict[str, Any]:
        return {"phase": "wait_open"}

    def step(
        self, st: dict[str, Any], f: FrameFeatures, n: Neutral, t_ms: float, probe: PlaneProbe
    ) -> Step:
        s = self.s
        st = dict(st)
        rl, rr = f.ear_left / n.ear_left, f.ear_right / n.ear_right
        closed = (
            max(rl, rr) <= s.blink_closed_ratio
            and min(n.ear_left - f.ear_left, n.ear_right - f.ear_right) >= s.blink_min_drop
            and f.blink_min - n.blink_min >= s.blink_blendshape_delta
        )
        opened = min(rl, rr) >= s.blink_open_ratio
        phase = st["phase"]
        if phase == "wait_open":
            if opened:
                st["phase"] = "open"
            return Step(st, 0.1, hint="blink")
        if phase == "open":
            if closed:
                st.update(phase="closed", closed_at=t_ms, confirmed=False)
                st.pop("best_ncc", None)
                _probe(st, probe, "eyes", s.planar_max_ncc_eyes, s.planar_checks_per_attempt)
                return Step(st, 0.6, hint="open_eyes")
            return Step(st, 0.2, hint="blink")
        # closed
        duration = t_ms - st["closed_at"]
        if closed:
            if duration > s.blink_max_ms:
                st["phase"] = "wait_open"
                return Step(st, 0.1, hint="blink_shorter")
            _probe(st, probe, "eyes", s.planar_max_ncc_eyes, s.planar_checks_per_attempt)
            return Step(st, 0.6, hint="open_eyes")
        if not opened:  # half open: wait for the next frame
            return Step(st, 0.6, hint="open_eyes")
        evidence = {"closed_ms": round(duration, 1), "plane_ncc": st.get("best_ncc")}
        if s.blink_min_ms <= duration <= s.blink_max_ms and st.get("confirmed"):
            return Step(st, 1.0, done=True, evidence=evidence)
        st["phase"] = "open"  # too short, too long, or a moved picture: wait for another blink
        return Step(st, 0.2, hint="blink" if st.get("confirmed") else "blink_again")


class _TurnLike:
    """Head away from neutral past an angle (along one axis, in one direction) and back."""

    region: Region = "face"

    def __init__(self, s: DetectorSettings) -> None:
        self.s = s

    def initial(self) -> dict[str, Any]:
        return {"phase": "wait_neutral"}

    def _geometry(self, f: FrameFeatures, n: Neutral) -> tuple[float, float, float]:
        """(signed progress angle, distance from neutral on the axis, off-axis angle)."""
        raise NotImplementedError

    def _limits(self) -> tuple[float, float, float]:
        """(angle to reach, return tolerance, off-axis tolerance)."""
        raise NotImplementedError

    hint_go = "turn"
    hint_back = "face_camera"

    def step(
        self, st: dict[str, Any], f: FrameFeatures, n: Neutral, t_ms: float, probe: PlaneProbe
    ) -> Step:
        angle, off_neutral, off_axis = self._geometry(f, n)
        reach, back, axis_tol = self._limits()
        st = dict(st)
        phase = st["phase"]
        if phase == "wait_neutral":
            if abs(off_neutral) <= back:
                st["phase"] = "ready"
            return Step(st, 0.05, hint=self.hint_back)
        if phase == "ready":
            if angle >= reach and abs(off_axis) <= axis_tol:
                st.update(phase="turned", peak=round(angle, 2), confirmed=False)
                st.pop("best_ncc", None)
                _probe(
                    st,
                    probe,
                    self.region,
                    self.s.planar_max_ncc_face,
                    self.s.planar_checks_per_attempt,
                )
                return Step(st, 0.6, hint=self.hint_back)
            hint = "wrong_direction" if angle <= -reach else self.hint_go
            return Step(st, 0.6 * min(1.0, max(0.0, angle / reach)), hint=hint)
        # turned
        if angle >= reach:
            st["peak"] = round(max(st["peak"], angle), 2)
            _probe(
                st, probe, self.region, self.s.planar_max_ncc_face, self.s.planar_checks_per_attempt
            )
        if abs(off_neutral) <= back:
            evidence = {"peak_deg": st["peak"], "plane_ncc": st.get("best_ncc")}
            if st.get("confirmed"):
                return Step(st, 1.0, done=True, evidence=evidence)
            st["phase"] = "ready"  # a flat picture turned: does not count
            return Step(st, 0.0, hint=self.hint_go)
        span = max(reach - back, 1e-6)
        return Step(
            st,
            0.6 + 0.4 * min(1.0, max(0.0, (reach - abs(off_neutral)) / span)),
            hint=self.hint_back,
        )


class TurnDetector(_TurnLike):
    """Yaw past ``turn_yaw_deg`` towards the person's left or right, and back.

    MediaPipe's yaw is positive when the nose points to the image's right. In a camera image that
    is not mirrored, that is the person's own left; ``mirrored`` flips it for selfie-preview frames.
    """

    def __init__(self, s: DetectorSettings, *, left: bool, mirrored: bool) -> None:
        super().__init__(s)
        self.sign = (1.0 if left else -1.0) * (-1.0 if mirrored else 1.0)
        self.hint_go = "turn_left" if left else "turn_right"

    def _geometry(self, f: FrameFeatures, n: Neutral) -> tuple[float, float, float]:
        return self.sign * (f.yaw - n.yaw), f.yaw - n.yaw, f.pitch - n.pitch

    def _limits(self) -> tuple[float, float, float]:
        return self.s.turn_yaw_deg, self.s.turn_return_deg, self.s.turn_max_pitch_deg


class NodDetector(_TurnLike):
    """Pitch down (chin towards the chest) past ``nod_pitch_deg``, and back."""

    hint_go = "nod"

    def _geometry(self, f: FrameFeatures, n: Neutral) -> tuple[float, float, float]:
        return f.pitch - n.pitch, f.pitch - n.pitch, f.yaw - n.yaw

    def _limits(self) -> tuple[float, float, float]:
        return self.s.nod_pitch_deg, self.s.nod_return_deg, self.s.nod_max_yaw_deg


class _HeldExpression:
    """An expression starting from neutral and held for a while (smile, open mouth)."""

    hint_go = "smile"

    def __init__(self, s: DetectorSettings) -> None:
        self.s = s

    def initial(self) -> dict[str, Any]:
        return {"phase": "wait_neutral"}

    def _amount(self, f: FrameFeatures, n: Neutral) -> tuple[float, bool, bool]:
        """(progress towards the threshold 0..1, expression active, face back at neutral)."""
        raise NotImplementedError

    def _hold_ms(self) -> float:
        raise NotImplementedError

    def step(
        self, st: dict[str, Any], f: FrameFeatures, n: Neutral, t_ms: float, probe: PlaneProbe
    ) -> Step:
        amount, active, neutral = self._amount(f, n)
        st = dict(st)
        phase = st["phase"]
        limit, budget = self.s.planar_max_ncc_mouth, self.s.planar_checks_per_attempt
        if phase == "wait_neutral":
            if neutral:
                st["phase"] = "ready"
            return Step(st, 0.05, hint="relax_face")
        if phase == "ready":
            if not active:
                return Step(st, 0.7 * amount, hint=self.hint_go)
            st.update(phase="holding", since=t_ms, confirmed=False)
            st.pop("best_ncc", None)
        if not active:  # let go too early
            st["phase"] = "ready"
            return Step(st, 0.7 * amount, hint=self.hint_go)
        _probe(st, probe, "mouth", limit, budget)
        held = t_ms - st["since"]
        hold = self._hold_ms()
        if held >= hold and st.get("confirmed"):
            return Step(
                st,
                1.0,
                done=True,
                evidence={"held_ms": round(held, 1), "plane_ncc": st.get("best_ncc")},
            )
        return Step(st, 0.7 + 0.3 * min(1.0, held / hold if hold else 1.0), hint="hold")


class SmileDetector(_HeldExpression):
    """mouthSmile blendshape up by ``smile_delta`` and mouth corners wider, held ``smile_hold_ms``."""

    hint_go = "smile"

    def _amount(self, f: FrameFeatures, n: Neutral) -> tuple[float, bool, bool]:
        delta = f.smile - n.smile
        wider = f.mouth_width / max(n.mouth_width, 1e-6)
        active = delta >= self.s.smile_delta and wider >= self.s.smile_width_ratio
        return (
            min(1.0, max(0.0, delta / self.s.smile_delta)),
            active,
            delta <= self.s.smile_delta / 2,
        )

    def _hold_ms(self) -> float:
        return self.s.smile_hold_ms


class OpenMouthDetector(_HeldExpression):
    """jawOpen blendshape up by ``mouth_jaw_delta`` and lips apart, held ``mouth_hold_ms``."""

    hint_go = "open_mouth"

    def _amount(self, f: FrameFeatures, n: Neutral) -> tuple[float, bool, bool]:
        jaw = f.jaw_open - n.jaw_open
        gap = f.mouth_gap - n.mouth_gap
        active = jaw >= self.s.mouth_jaw_delta and gap >= self.s.mouth_gap_delta
        return (
            min(1.0, max(0.0, jaw / self.s.mouth_jaw_delta)),
            active,
            jaw <= self.s.mouth_jaw_delta / 2,
        )

    def _hold_ms(self) -> float:
        return self.s.mouth_hold_ms


def detector_for(challenge: Challenge, s: DetectorSettings, *, mirrored: bool = False) -> Detector:
    match challenge:
        case Challenge.BLINK:
            return BlinkDetector(s)
        case Challenge.TURN_LEFT:
            return TurnDetector(s, left=True, mirrored=mirrored)
        case Challenge.TURN_RIGHT:
            return TurnDetector(s, left=False, mirrored=mirrored)
        case Challenge.NOD:
            return NodDetector(s)
        case Challenge.SMILE:
            return SmileDetector(s)
        case Challenge.OPEN_MOUTH:
            return OpenMouthDetector(s)
    raise ValueError(f"unknown challenge {challenge}")
