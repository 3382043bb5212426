"""The fixed-length, position-constrained CTC decoder on frame probabilities built by hand."""

from __future__ import annotations

import numpy as np

from kycguard.documents.mrz.decode import class_mask, decode_fixed, greedy
from kycguard.documents.mrz.parse import ALPHABET

BLANK = 0


def frames(spec: list[dict[str, float]]) -> np.ndarray:
    """Log probabilities for frames given as {char: probability}; the rest spread thinly."""
    out = np.full((len(spec), len(ALPHABET) + 1), 1e-4)
    for t, probs in enumerate(spec):
        for ch, p in probs.items():
            out[t, BLANK if ch == "_" else ALPHABET.index(ch) + 1] = p
    out /= out.sum(axis=1, keepdims=True)
    return np.log(out)


def test_filler_pair_without_blank_between_is_recovered() -> None:
    # "A<<B": the second '<' has no blank frame before it; greedy CTC merges the pair.
    lp = frames(
        [
            {"A": 0.9},
            {"_": 0.9},
            {"<": 0.9},
            {"<": 0.55, "_": 0.45},
            {"<": 0.9},
            {"_": 0.9},
            {"B": 0.9},
        ]
    )
    assert greedy(lp) == "A<B"
    decoded = decode_fixed(lp, class_mask(["A", "A", "A", "A"]))
    assert decoded is not None and decoded.text == "A<<B"


def test_position_classes_turn_o_into_zero_where_digits_are_required() -> None:
    lp = frames([{"O": 0.6, "0": 0.4}, {"_": 0.9}, {"O": 0.6, "0": 0.4}])
    assert decode_fixed(lp, class_mask(["A", "A"])).text == "OO"
    assert decode_fixed(lp, class_mask(["A", "N"])).text == "O0"
    d = decode_fixed(lp, class_mask(["X", "X"]))
    assert d is not None and d.text == "OO"
    # the runner-up at each position is reported with its cost (evidence against it, in nats)
    alternatives = dict(d.alternatives[1])
    assert 0 < alternatives["0"] < 1.0


def test_too_few_frames_give_no_reading() -> None:
    lp = frames([{"A": 0.9}, {"B": 0.9}])
    assert decode_fixed(lp, class_mask(["A"] * 3)) is None
