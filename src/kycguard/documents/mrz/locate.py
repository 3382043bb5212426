"""Find machine-readable zones among detected text boxes, at any rotation, and cut them out straight.

The text detector returns one quadrilateral per text run. An MRZ is two or three long runs that are
parallel, of similar height, evenly spaced and of (nearly) equal length, because every line has the
same number of fixed-pitch characters. Grouping on that geometry finds it whatever the rotation of the
photo; each line is then rectified with its own quadrilateral (which absorbs perspective) but cut to
the common extent of the block, since a detector box often stops short of a trailing filler run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

STRIP_HEIGHT = 48  # the recogniser's input height


@dataclass(eq=False)
class TextLine:
    """A straight run of text: its axis, length and thickness in image pixels."""

    center: np.ndarray  # (2,)
    direction: np.ndarray  # unit vector along the text, x component >= 0
    length: float
    thickness: float
    parts: int = 1

    @property
    def normal(self) -> np.ndarray:
        return np.array([-self.direction[1], self.direction[0]])

    @property
    def aspect(self) -> float:
        return self.length / max(self.thickness, 1.0)

    def ends(self) -> tuple[np.ndarray, np.ndarray]:
        half = self.direction * self.length / 2
        return self.center - half, self.center + half


@dataclass(eq=False)
class MrzBlock:
    """Two or three MRZ-like lines, top to bottom in the block's own frame (before orientation is known)."""

    lines: list[TextLine]
    direction: np.ndarray
    score: float
    extent: tuple[float, float] = (0.0, 0.0)  # along direction, relative to the first line's center
    meta: dict[str, float] = field(default_factory=dict)


def line_from_quad(quad: np.ndarray) -> TextLine:
    """Axis, length and thickness of a detector quadrilateral (points in any order)."""
    rect = cv2.minAreaRect(quad.astype(np.float32))
    (cx, cy), (w, h), angle = rect
    theta = math.radians(angle)
    along = np.array([math.cos(theta), math.sin(theta)])
    if h > w:
        w, h = h, w
        along = np.array([-along[1], along[0]])
    if along[0] < -1e-6 or (abs(along[0]) <= 1e-6 and along[1] < 0):
        along = -along
    return TextLine(np.array([cx, cy]), along, float(w), float(h))


def _angle_between(a: np.ndarray, b: np.ndarray) -> float:
    return math.degrees(math.acos(min(1.0, abs(float(a @ b)))))


def merge_collinear(lines: list[TextLine], min_length: float = 40.0) -> list[TextLine]:
    """Join runs the detector split inside one line (same axis, small gap along it).

    Only runs at least ``min_length`` long grow; shorter pieces are absorbed when they sit on a
    longer run's axis. Rotated photos make the detector box single chevrons of a filler run
    separately, and those pieces are thinner than the line they belong to.
    """
    pending = sorted(lines, key=lambda line: -line.length)
    merged: list[TextLine] = []
    while pending:
        base = pending.pop(0)
        if base.length < min_length:
            continue
        changed = True
        while changed:
            changed = False
            for other in list(pending):
                if (
                    other.length >= 3 * other.thickness
                    and _angle_between(base.direction, other.direction) > 6
                ):
                    continue
                if other.thickness > 1.5 * base.thickness:
                    continue
                if other.length >= min_length and other.thickness < 0.5 * base.thickness:
                    continue
                offset = other.center - base.center
                across = abs(float(offset @ base.normal))
                if across > 0.3 * base.thickness:
                    continue
                along = float(offset @ base.direction)
                other_half = (
                    other.length / 2 if other.length >= 3 * other.thickness else other.thickness / 2
                )
                gap = abs(along) - base.length / 2 - other_half
                if gap > 1.2 * base.thickness:
                    continue
                lo = min(-base.length / 2, along - other_half)
                hi = max(base.length / 2, along + other_half)
                base = TextLine(
                    base.center + base.direction * (lo + hi) / 2,
                    base.direction,
                    hi - lo,
                    max(base.thickness, other.thickness)
                    if other.length >= min_length
                    else base.thickness,
                    base.parts + other.parts,
                )
                pending.remove(other)
                changed = True
        merged.append(base)
    return merged


def find_blocks(
    quads: list[np.ndarray], min_aspect: float = 9.0, max_blocks: int = 4
) -> list[MrzBlock]:
    """Candidate MRZ blocks, most MRZ-like first."""
    lines = [line_from_quad(q) for q in quads]
    lines = [line for line in lines if line.thickness >= 4]
    lines = [line for line in merge_collinear(lines) if line.aspect >= min_aspect]
    blocks: list[MrzBlock] = []
    used: set[tuple[int, ...]] = set()
    for i, seed in enumerate(lines):
        group = [j for j, other in enumerate(lines) if _compatible(seed, other)]
        group.sort(key=lambda j: float(lines[j].center @ seed.normal))
        # a block is built in the seed's frame: every member's direction follows the seed's sign
        # consecutive runs of 2-3 lines with even spacing
        for size in (3, 2):
            for start in range(len(group) - size + 1):
                idx = tuple(group[start : start + size])
                if i not in idx or idx in used:
                    continue
                block = _make_block([lines[j] for j in idx])
                if block is not None:
                    used.add(idx)
                    blocks.append(block)
    blocks.sort(key=lambda b: -b.score)
    return blocks[:max_blocks]


def _compatible(a: TextLine, b: TextLine) -> bool:
    if _angle_between(a.direction, b.direction) > 6:
        return False
    ratio = max(a.thickness, b.thickness) / max(min(a.thickness, b.thickness), 1.0)
    if ratio > 1.7:
        return False
    length_ratio = max(a.length, b.length) / max(min(a.length, b.length), 1.0)
    return length_ratio <= 1.6


def _aligned(line: TextLine, direction: np.ndarray) -> TextLine:
    """The same line with its direction pointing the same way as ``direction`` (near-vertical
    lines otherwise get arbitrary signs)."""
    if float(line.direction @ direction) >= 0:
        return line
    return TextLine(line.center, -line.direction, line.length, line.thickness, line.parts)


def _make_block(lines: list[TextLine]) -> MrzBlock | None:
    direction = lines[0].direction
    lines = [_aligned(line, direction) for line in lines]
    normal = np.array([-direction[1], direction[0]])
    thickness = float(np.median([line.thickness for line in lines]))
    offsets = [float((line.center - lines[0].center) @ normal) for line in lines]
    gaps = np.diff(offsets)
    if len(gaps) and (gaps.min() < 0.8 * thickness or gaps.max() > 3.2 * thickness):
        return None
    if len(gaps) == 2 and max(gaps) > 1.35 * min(gaps):
        return None
    # overlap along the text direction: MRZ lines start at the same column
    spans = []
    for line in lines:
        along = float((line.center - lines[0].center) @ direction)
        spans.append((along - line.length / 2, along + line.length / 2))
    lo = min(s[0] for s in spans)
    hi = max(s[1] for s in spans)
    overlap = min(s[1] for s in spans) - max(s[0] for s in spans)
    if overlap < 0.6 * (hi - lo):
        return None
    starts = np.array([s[0] for s in spans])
    aspect = float(np.mean([line.aspect for line in lines]))
    start_spread = float(np.ptp(starts)) / thickness
    score = aspect + 3.0 * len(lines) - 2.0 * start_spread
    return MrzBlock(list(lines), direction, score, (lo, hi), {"start_spread": start_spread})


def line_quads(block: MrzBlock, pad: float = 0.6) -> list[np.ndarray]:
    """One quadrilateral per line (TL, TR, BR, BL), cut to the block's common extent plus ``pad``
    line heights at each end so that the recogniser sees the whole line and some margin."""
    first = block.lines[0]
    lo, hi = block.extent
    quads = []
    for line in block.lines:
        d = line.direction
        n = line.normal
        along = float((line.center - first.center) @ block.direction)
        margin = pad * line.thickness
        left = line.center + d * (lo - along - margin)
        right = line.center + d * (hi - along + margin)
        half = n * line.thickness / 2
        quads.append(
            np.array([left - half, right - half, right + half, left + half], dtype=np.float32)
        )
    return quads


def rectify(image: np.ndarray, quad: np.ndarray, width: int) -> np.ndarray:
    """Warp a quadrilateral to a strip STRIP_HEIGHT high and ``width`` wide.

    The width is chosen by the caller from the number of characters the line may hold, so that
    every character gets about the same number of recogniser frames whatever the photo's scale."""
    height = float(np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2
    target = np.array(
        [[0, 0], [width, 0], [width, STRIP_HEIGHT], [0, STRIP_HEIGHT]], dtype=np.float32
    )
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    source = image
    if height > 2 * STRIP_HEIGHT:  # warpPerspective does not average: smooth big lines first
        sigma = 0.4 * height / STRIP_HEIGHT
        source = cv2.GaussianBlur(image, (0, 0), sigma)
    return cv2.warpPerspective(
        source,
        matrix,
        (width, STRIP_HEIGHT),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
