"""Fixed-length, position-constrained decoding of CTC recogniser output.

A CTC recogniser emits one class distribution per image column (frame). Greedy decoding of an MRZ
line loses characters in long filler runs (``<<`` without a blank frame between) and cannot know that
column 3 of a passport is a letter. Because the MRZ layout fixes both the number of characters and the
class (letter, digit, either) of every position, the best path through the frames that emits exactly
that many characters, each from its allowed set, is found exactly by dynamic programming (Viterbi over
"position j, in character c" and "position j, in a blank" states). The same alignment then scores
every other character at each position, which is what check-digit-guided correction needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kycguard.documents.mrz.parse import ALPHABET, CLASS_CHARS

NEG = -1e9
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
# OCR-B shapes the recogniser confuses (letter, digit). Where the layout allows only letters, the
# digit's evidence counts for the letter, and the other way round: an "O" read as "0" at a letter
# position is an O, not a character to drop (dropping it shifts the rest of the line).
CONFUSABLE = (
    ("O", "0"),
    ("Q", "0"),
    ("D", "0"),
    ("U", "0"),
    ("I", "1"),
    ("L", "1"),
    ("Z", "2"),
    ("S", "5"),
    ("G", "6"),
    ("T", "7"),
    ("B", "8"),
)
TWIN_COST = 1.5  # nats: the most a confusable twin costs the check-digit repair at letter-or-digit positions
_PARTNERS: dict[int, tuple[int, ...]] = {}
for _l, _d in CONFUSABLE:
    _PARTNERS[_INDEX[_l]] = (*_PARTNERS.get(_INDEX[_l], ()), _INDEX[_d])
    _PARTNERS[_INDEX[_d]] = (*_PARTNERS.get(_INDEX[_d], ()), _INDEX[_l])
_LETTERS = np.array([c.isalpha() for c in ALPHABET])
_DIGITS = np.array([c.isdigit() for c in ALPHABET])


def _folded(emit: np.ndarray, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Emission tables (original, letters-only, digits-only) and which one each position uses."""
    alpha, numeric = emit.copy(), emit.copy()
    for letter, digit in CONFUSABLE:
        li, di = _INDEX[letter], _INDEX[digit]
        alpha[:, li] = np.logaddexp(emit[:, li], emit[:, di])
        numeric[:, di] = np.logaddexp(numeric[:, di], emit[:, li])
    has_letter = allowed[:, _LETTERS].any(axis=1)
    has_digit = allowed[:, _DIGITS].any(axis=1)
    kind = np.where(has_letter & ~has_digit, 1, np.where(has_digit & ~has_letter, 2, 0))
    return np.stack((emit, alpha, numeric)), kind


def class_mask(classes: list[str]) -> np.ndarray:
    """Boolean (positions x 37) matrix of the characters allowed at each position."""
    mask = np.zeros((len(classes), len(ALPHABET)), dtype=bool)
    for j, cls in enumerate(classes):
        for ch in CLASS_CHARS[cls]:
            mask[j, _INDEX[ch]] = True
    return mask


@dataclass
class Decoded:
    """A constrained reading: the text, how sure each character is, and where it sits."""

    text: str
    log_likelihood: float  # of the best path
    confidence: np.ndarray  # per position, mean posterior of the chosen character over its frames
    alternatives: list[
        list[tuple[str, float]]
    ]  # per position: (char, cost vs. best) sorted, allowed only
    frames: list[tuple[int, int]]  # per position: first and last frame of the character

    @property
    def mean_confidence(self) -> float:
        return float(self.confidence.mean()) if len(self.confidence) else 0.0


def decode_fixed(
    log_probs: np.ndarray, allowed: np.ndarray, max_alternatives: int = 3
) -> Decoded | None:
    """Best CTC path emitting exactly ``len(allowed)`` characters.

    ``log_probs`` is (frames x 38): column 0 the blank, columns 1..37 the ALPHABET characters.
    Returns None when the line has fewer frames than the path needs.
    """
    log_probs, frame_map = _compress_blanks(log_probs)
    n_frames = log_probs.shape[0]
    n_pos = allowed.shape[0]
    if n_frames < n_pos:
        return None
    blank = log_probs[:, 0]
    tables, kind = _folded(log_probs[:, 1:], allowed)
    n_chars = tables.shape[2]
    char_idx = np.arange(n_chars)

    in_blank = np.full(n_pos + 1, NEG)
    in_char = np.full((n_pos, n_chars), NEG)
    in_blank[0] = blank[0]
    in_char[0] = np.where(allowed[0], tables[kind[0], 0], NEG)
    # back pointers: char states 0=stay 1=from blank j 2=from char j-1 (which one in char_prev)
    char_src = np.zeros((n_frames, n_pos, n_chars), dtype=np.int8)
    char_prev = np.zeros((n_frames, n_pos, n_chars), dtype=np.int8)
    blank_from_char = np.zeros((n_frames, n_pos + 1), dtype=bool)
    blank_prev = np.zeros((n_frames, n_pos + 1), dtype=np.int8)
    masked = np.where(allowed, 0.0, NEG)

    for t in range(1, n_frames):
        best_char = in_char.max(axis=1)
        best_arg = in_char.argmax(axis=1)
        entering = np.concatenate(([NEG], best_char))
        new_blank = np.maximum(in_blank, entering) + blank[t]
        blank_from_char[t] = entering > in_blank
        blank_prev[t, 1:] = best_arg

        # from the previous position's character, which must differ from c (CTC would merge them)
        prev = in_char[:-1].copy()
        rows = np.arange(n_pos - 1)
        top1 = best_arg[:-1]
        top1_val = best_char[:-1, None]
        prev[rows, top1] = NEG
        top2 = prev.argmax(axis=1)
        top2_val = prev[rows, top2][:, None]
        same = char_idx[None, :] == top1[:, None]
        from_char = np.full((n_pos, n_chars), NEG)
        from_char[1:] = np.where(same, top2_val, top1_val)
        from_char_arg = np.zeros((n_pos, n_chars), dtype=np.int8)
        from_char_arg[1:] = np.where(same, top2[:, None], top1[:, None])

        from_blank = np.broadcast_to(in_blank[:n_pos, None], (n_pos, n_chars))
        stacked = np.stack((in_char, from_blank, from_char))
        src = stacked.argmax(axis=0)
        emit_t = tables[kind, t]  # (positions x characters), each position's own table
        new_char = np.take_along_axis(stacked, src[None], axis=0)[0] + emit_t + masked
        char_src[t] = src
        char_prev[t] = from_char_arg
        in_blank, in_char = new_blank, np.maximum(new_char, NEG)

    end_char = int(in_char[-1].argmax())
    if in_blank[n_pos] >= in_char[-1, end_char]:
        state, pos, ch, score = "b", n_pos, 0, float(in_blank[n_pos])
    else:
        state, pos, ch, score = "c", n_pos - 1, end_char, float(in_char[-1, end_char])
    if score <= NEG / 2:
        return None

    chars = [0] * n_pos
    spans: list[list[int]] = [[n_frames, -1] for _ in range(n_pos)]
    for t in range(n_frames - 1, -1, -1):
        if state == "c":
            chars[pos] = ch
            spans[pos][0] = min(spans[pos][0], t)
            spans[pos][1] = max(spans[pos][1], t)
            if t == 0:
                break
            src = char_src[t, pos, ch]
            if src == 1:
                state = "b"
            elif src == 2:
                ch = int(char_prev[t, pos, ch])
                pos -= 1
        else:
            if t == 0:
                break
            if blank_from_char[t, pos]:
                ch = int(blank_prev[t, pos])
                pos -= 1
                state = "c"

    confidence = np.empty(n_pos)
    alternatives: list[list[tuple[str, float]]] = []
    for j, (first, last) in enumerate(spans):
        window = slice(first, last + 1)
        emit = tables[kind[j]]
        confidence[j] = np.exp(emit[window, chars[j]]).max()
        totals = emit[window].sum(axis=0)
        totals = np.where(allowed[j], totals, NEG)
        if kind[j] == 0:  # letters and digits both allowed: O/0-like twins stay cheap to swap,
            for k in _PARTNERS.get(chars[j], ()):  # the check digit decides between them
                if allowed[j, k]:
                    totals[k] = max(totals[k], totals[chars[j]] - TWIN_COST)
        ranked = np.argsort(-totals)[:max_alternatives]
        best = totals[chars[j]]
        alternatives.append(
            [(ALPHABET[k], float(best - totals[k])) for k in ranked if totals[k] > NEG / 2]
        )
    text = "".join(ALPHABET[c] for c in chars)
    frames = [(int(frame_map[a][0]), int(frame_map[b][1])) for a, b in spans]
    return Decoded(text, score, confidence, alternatives, frames)


def _compress_blanks(
    log_probs: np.ndarray, threshold: float = float(np.log(0.98))
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Merge runs of near-certain blank frames into one frame (log probabilities summed).

    A path through such a run stays in the blank state anyway, so the best path is unchanged in
    practice while the decoder's work, linear in frames, drops by about half on MRZ strips.
    Returns the compressed frames and, for each, the range of original frames it stands for."""
    sure_blank = log_probs[:, 0] > threshold
    rows: list[np.ndarray] = []
    spans: list[tuple[int, int]] = []
    t = 0
    n = log_probs.shape[0]
    while t < n:
        if sure_blank[t]:
            end = t
            while end + 1 < n and sure_blank[end + 1]:
                end += 1
            rows.append(log_probs[t : end + 1].sum(axis=0))
            spans.append((t, end))
            t = end + 1
        else:
            rows.append(log_probs[t])
            spans.append((t, t))
            t += 1
    return np.asarray(rows), spans


def greedy(log_probs: np.ndarray) -> str:
    """Plain best-per-frame CTC decoding (for deciding whether a line looks like an MRZ at all)."""
    best = log_probs.argmax(axis=1)
    out = []
    previous = 0
    for k in best:
        if k != previous and k != 0:
            out.append(ALPHABET[k - 1])
        previous = k
    return "".join(out)
