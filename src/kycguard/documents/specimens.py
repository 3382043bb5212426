"""Specimen identity documents for tests and benchmarks: a real face photo, visual-zone text, a valid MRZ.

Documents are drawn at 10 px/mm with the OCR-B font of Debian's ``fonts-ocr-b`` at the ICAO pitch
(10 characters per inch), and can then be degraded the way phone photos are: rotation, perspective,
blur, noise, JPEG, or photographed whole (:func:`photograph`: a card on a table with perspective,
lighting, glare, shadow, blur, noise, JPEG; deterministic by seed). Nothing here reads documents:
tests and ``kycguard bench cards`` compare what the library reads against what this module drew.
It lives in the package (not the tests) so the benchmark and the tests share one renderer.
"""

from __future__ import annotations

import datetime as dt
import glob
import io
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np
import zxingcpp
from PIL import Image, ImageDraw, ImageFont

from kycguard.documents.mrz.parse import FORMATS, compose_lines

PX_PER_MM = 10
PITCH_PX = 25.4  # 2.54 mm: ICAO 9303 character pitch
OCRB_GLOBS = (
    "/usr/share/fonts/opentype/ocr-b/OCRB.otf",
    "/usr/share/fonts/**/OCRB*.otf",
    "/usr/share/fonts/**/ocrb*.ttf",
)
TEXT_FONT_GLOBS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/**/DejaVuSans.ttf",
)
BOLD_FONT_GLOBS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/**/DejaVuSans-Bold.ttf",
)


def find_font(patterns: tuple[str, ...]) -> str | None:
    for pattern in patterns:
        hits = sorted(glob.glob(pattern, recursive=True))
        if hits:
            return hits[0]
    return None


def ocrb_path() -> str | None:
    return find_font(OCRB_GLOBS)


@dataclass(frozen=True)
class Identity:
    surname: str = "ERIKSSON"
    given_names: str = "ANNA MARIA"
    document_number: str = "L898902C3"
    nationality: str = "UTO"
    issuing_state: str = "UTO"
    birth_date: dt.date = dt.date(1974, 8, 12)
    sex: str = "F"
    expiry_date: dt.date = dt.date(2034, 4, 15)
    issue_date: dt.date = dt.date(2024, 4, 16)
    optional_data: str = "ZE184226B"

    def mrz_values(self, document_code: str) -> dict[str, str]:
        return {
            "document_code": document_code,
            "issuing_state": self.issuing_state,
            "surname": self.surname,
            "given_names": self.given_names,
            "document_number": self.document_number,
            "nationality": self.nationality,
            "birth_date": self.birth_date.strftime("%y%m%d"),
            "sex": self.sex,
            "expiry_date": self.expiry_date.strftime("%y%m%d"),
            "optional_data": self.optional_data,
        }


@dataclass
class Rendered:
    """A drawn document and the truth about it."""

    image: np.ndarray  # RGB uint8
    mrz: list[str]
    portrait_box: tuple[int, int, int, int]  # x, y, w, h
    identity: Identity
    format: str
    mrz_boxes: list[tuple[int, int, int, int]] = field(default_factory=list)


def portrait_crop(photo: np.ndarray) -> np.ndarray:
    """Head and shoulders from a larger photo (the astronaut image's face sits in its upper middle)."""
    h, w = photo.shape[:2]
    return photo[0 : int(h * 0.62), int(w * 0.2) : int(w * 0.68)]


def _fonts() -> tuple[ImageFont.FreeTypeFont, ImageFont.FreeTypeFont, ImageFont.FreeTypeFont, str]:
    ocrb = ocrb_path()
    if ocrb is None:
        raise FileNotFoundError("OCR-B font (Debian fonts-ocr-b) not installed")
    text_path = find_font(TEXT_FONT_GLOBS) or ocrb
    bold_path = find_font(BOLD_FONT_GLOBS) or text_path
    label = ImageFont.truetype(text_path, 18)
    value = ImageFont.truetype(bold_path, 30)
    title = ImageFont.truetype(bold_path, 40)
    return label, value, title, ocrb


def mrz_font(size_scale: float = 1.0) -> ImageFont.FreeTypeFont:
    """OCR-B sized so that one advance is the ICAO pitch."""
    path = ocrb_path()
    if path is None:
        raise FileNotFoundError("OCR-B font (Debian fonts-ocr-b) not installed")
    probe = ImageFont.truetype(path, 100)
    advance = probe.getlength("A") / 100
    return ImageFont.truetype(path, round(PITCH_PX / advance * size_scale))


@dataclass(frozen=True)
class MrzEdit:
    """A forger's edit: characters [start, end) of one line redrawn at another size and height."""

    line: int
    start: int
    end: int
    scale: float = 1.15
    dy: int = 4


def draw_mrz(
    draw: ImageDraw.ImageDraw,
    lines: list[str],
    left: int,
    top: int,
    line_gap_px: int,
    edit: MrzEdit | None = None,
) -> list[tuple[int, int, int, int]]:
    """Draw MRZ lines at a fixed pitch, one character at a time (no kerning)."""
    font = mrz_font()
    odd = mrz_font(edit.scale) if edit else font
    boxes = []
    for i, line in enumerate(lines):
        y = top + i * line_gap_px
        x = float(left)
        for j, ch in enumerate(line):
            edited = edit is not None and edit.line == i and edit.start <= j < edit.end
            draw.text(
                (x, y + (edit.dy if edited and edit else 0)),
                ch,
                font=odd if edited else font,
                fill=(20, 20, 25),
            )
            x += PITCH_PX * (edit.scale if edited and edit else 1.0)
        bbox = draw.textbbox((left, y), "M", font=font)
        boxes.append((left, round(bbox[1]), round(x - left), round(bbox[3] - bbox[1])))
    return boxes


def _date(d: dt.date) -> str:
    return d.strftime("%d %b %Y").upper()


def _background(size: tuple[int, int], seed: int) -> Image.Image:
    """A pale security-print-like background: gradient plus a guilloche-ish wave pattern."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([236 - 10 * xx / w, 240 - 6 * yy / h, 232 + 8 * xx / w], axis=-1)
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 6.28)
    waves = 6 * np.sin(xx / 23.0 + 3 * np.sin(yy / 41.0 + phase)) * np.sin(yy / 17.0)
    img = np.clip(base + waves[..., None] * np.array([0.6, 0.9, 0.4]), 0, 255).astype(np.uint8)
    return Image.fromarray(img)


def _paste_portrait(
    canvas: Image.Image, photo: np.ndarray, box: tuple[int, int, int, int], crop: bool = True
) -> None:
    x, y, w, h = box
    face = Image.fromarray(portrait_crop(photo) if crop else photo).resize(
        (w, h), Image.Resampling.LANCZOS
    )
    canvas.paste(face, (x, y))


def _viz(
    draw: ImageDraw.ImageDraw, x: int, y: int, rows: list[tuple[str, str]], row_gap: int = 62
) -> None:
    label, value, _, _ = _fonts()
    for i, (name, text) in enumerate(rows):
        draw.text((x, y + i * row_gap), name, font=label, fill=(60, 60, 110))
        draw.text((x, y + i * row_gap + 20), text, font=value, fill=(15, 15, 20))


def render_td3(
    photo: np.ndarray,
    identity: Identity = Identity(),
    seed: int = 0,
    *,
    viz_identity: Identity | None = None,
    mrz_lines: list[str] | None = None,
    mrz_edit: MrzEdit | None = None,
) -> Rendered:
    """A passport data page (ID-3 size, 125 x 88 mm) with the MRZ at the bottom.

    ``viz_identity`` prints other data in the visual zone than in the MRZ; ``mrz_lines`` prints
    these lines instead of the valid ones; ``mrz_edit`` redraws some characters like a forger."""
    viz = viz_identity or identity
    w, h = 125 * PX_PER_MM, 88 * PX_PER_MM
    canvas = _background((w, h), seed)
    draw = ImageDraw.Draw(canvas)
    _, _, title, _ = _fonts()
    draw.text((40, 18), "UTOPIA    PASSPORT / PASSEPORT", font=title, fill=(40, 40, 90))
    portrait = (40, 95, 300, 380)
    _paste_portrait(canvas, photo, portrait)
    _viz(
        draw,
        380,
        85,
        [
            ("Type / Code / Passport No.", f"P   {viz.issuing_state}   {viz.document_number}"),
            ("Surname", viz.surname),
            ("Given names", viz.given_names),
            ("Nationality", viz.nationality),
            ("Date of birth", _date(viz.birth_date)),
            ("Sex", viz.sex),
            ("Date of expiry", _date(viz.expiry_date)),
        ],
        row_gap=56,
    )
    lines = mrz_lines or compose_lines(FORMATS["TD3"], identity.mrz_values("P"))
    boxes = draw_mrz(
        draw, lines, left=round((w - 44 * PITCH_PX) / 2), top=h - 150, line_gap_px=58, edit=mrz_edit
    )
    return Rendered(np.asarray(canvas), lines, portrait, identity, "TD3", boxes)


def render_td1(
    photo: np.ndarray, identity: Identity = Identity(document_number="D23145890"), seed: int = 1
) -> Rendered:
    """An ID card (ID-1, 85.6 x 54 mm): front with portrait and visual zone above the back with
    the three-line MRZ, both sides in one image as a scanner shows them."""
    w, h = 856, 540
    front = _background((w, h), seed)
    draw = ImageDraw.Draw(front)
    _, _, title, _ = _fonts()
    draw.text((30, 14), "UTOPIA  IDENTITY CARD", font=title, fill=(40, 40, 90))
    portrait = (30, 80, 250, 320)
    _paste_portrait(front, photo, portrait)
    _viz(
        draw,
        310,
        72,
        [
            ("Surname", identity.surname),
            ("Given names", identity.given_names),
            ("Date of birth", _date(identity.birth_date)),
            ("Document No.", identity.document_number),
            ("Date of expiry", _date(identity.expiry_date)),
        ],
        row_gap=68,
    )
    back = _background((w, h), seed + 7)
    bdraw = ImageDraw.Draw(back)
    lines = compose_lines(FORMATS["TD1"], identity.mrz_values("I"))
    boxes = draw_mrz(bdraw, lines, left=round((w - 30 * PITCH_PX) / 2), top=h - 200, line_gap_px=60)
    gap = 40
    sheet = Image.new("RGB", (w + 2 * gap, 2 * h + 3 * gap), (250, 250, 250))
    sheet.paste(front, (gap, gap))
    sheet.paste(back, (gap, h + 2 * gap))
    portrait_on_sheet = (portrait[0] + gap, portrait[1] + gap, portrait[2], portrait[3])
    boxes = [(x + gap, y + h + 2 * gap, bw, bh) for x, y, bw, bh in boxes]
    return Rendered(np.asarray(sheet), lines, portrait_on_sheet, identity, "TD1", boxes)


# -- degradations ----------------------------------------------------------------------------


def camera(image: np.ndarray, noise: float = 3.0, seed: int = 0) -> np.ndarray:
    """Sensor-like noise and a slight lens blur: what separates a photo from a rendering."""
    rng = np.random.default_rng(seed)
    blurred = cv2.GaussianBlur(image, (0, 0), 0.6)
    noisy = blurred.astype(np.float32) + rng.normal(0, noise, image.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def jpeg_bytes(image: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    return decode(jpeg_bytes(image, quality))


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma)


def rotate90(image: np.ndarray, quarter_turns: int) -> np.ndarray:
    """Counter-clockwise quarter turns, as a phone held sideways produces."""
    return np.ascontiguousarray(np.rot90(image, quarter_turns))


def on_table(
    image: np.ndarray,
    tilt: float = 0.0,
    angle_deg: float = 0.0,
    margin: float = 0.18,
    seed: int = 0,
) -> np.ndarray:
    """The document lying on a darker textured table, seen with a perspective ``tilt`` (0-0.25: how
    much the far edge shrinks) and an in-plane rotation of ``angle_deg``."""
    h, w = image.shape[:2]
    out_w, out_h = int(w * (1 + 2 * margin)), int(h * (1 + 2 * margin))
    rng = np.random.default_rng(seed)
    table = rng.normal(0, 6, (out_h, out_w, 1)) + np.array([120, 100, 80])
    table = cv2.GaussianBlur(np.clip(table, 0, 255).astype(np.uint8), (0, 0), 2)
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    shrink = tilt * w / 2
    dst = np.array([[shrink, 0], [w - shrink, 0], [w, h], [0, h]], dtype=np.float32)
    center = np.array([w / 2, h / 2])
    theta = np.radians(angle_deg)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    dst = (dst - center) @ rot.T + np.array([out_w / 2, out_h / 2])
    matrix = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    warped = cv2.warpPerspective(image, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), matrix, (out_w, out_h))
    return np.where(mask[..., None] > 127, warped, table).astype(np.uint8)


def with_identity(identity: Identity, **changes: object) -> Identity:
    return replace(identity, **changes)  # type: ignore[arg-type]


def paste_face(
    document: np.ndarray,
    box: tuple[int, int, int, int],
    face: np.ndarray,
    quality: int,
    offset: tuple[int, int],
) -> np.ndarray:
    """Replace the portrait like a forger: another face, JPEG-compressed on its own block grid
    (shifted by ``offset`` pixels against the page's), pasted into the box."""
    x, y, w, h = box
    resized = cv2.resize(face, (w, h), interpolation=cv2.INTER_AREA)
    dx, dy = offset
    padded = np.pad(resized, ((dy, 0), (dx, 0), (0, 0)), mode="edge")
    compressed = jpeg(padded, quality)[dy:, dx:]
    out = document.copy()
    out[y : y + h, x : x + w] = compressed
    return out


def screen_photo(image: np.ndarray, angle_deg: float = 3.0) -> np.ndarray:
    """The document shown on an RGB-stripe display and photographed: each pixel becomes three
    sub-pixel columns with dark row gaps, then the camera samples it slightly rotated and smaller."""
    h, w = image.shape[:2]
    up = cv2.resize(image, (w * 3, h * 3), interpolation=cv2.INTER_NEAREST).astype(np.float32)
    mask = np.zeros((h * 3, w * 3, 3), np.float32)
    for c in range(3):
        mask[:, c::3, c] = 1.0
    mask[2::3, :, :] *= 0.3
    shown = np.clip(up * mask * 1.8 + 10, 0, 255).astype(np.uint8)
    out_w, out_h = int(w * 1.15), int(h * 1.15)
    matrix: Any = cv2.getRotationMatrix2D((w * 1.5, h * 1.5), angle_deg, 0.37)
    matrix[:, 2] += (out_w / 2 - w * 1.5, out_h / 2 - h * 1.5)
    cam = cv2.warpAffine(shown, matrix, (out_w, out_h), flags=cv2.INTER_AREA)
    cam = cv2.GaussianBlur(cam, (0, 0), 0.7)
    return jpeg(camera(cam), 85)


# -- driver licence back (PDF417) -----------------------------------------------------------

ELEMENTS = {
    "DCA": "C",
    "DCS": "MUSTERMANN",
    "DAC": "ERIKA",
    "DAD": "ANNA",
    "DBD": "01152020",
    "DBB": "08121974",
    "DBA": "08122029",
    "DBC": "2",
    "DAQ": "D1234567",
    "DCG": "USA",
    "DAJ": "CA",
}


def licence_back(payload: bytes) -> np.ndarray:
    """A card back: grey plastic, some print, the PDF417 symbol."""
    symbol = np.asarray(
        zxingcpp.write_barcode_to_image(
            zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.PDF417), scale=3
        )
    )
    card = np.full((540, 856, 3), 228, np.uint8)
    cv2.putText(
        card, "DRIVER LICENSE - BACK", (40, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (60, 60, 60), 2
    )
    h, w = symbol.shape
    scale = min(760 / w, 300 / h)
    symbol = cv2.resize(symbol, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    y, x = 140, (856 - symbol.shape[1]) // 2
    card[y : y + symbol.shape[0], x : x + symbol.shape[1]] = symbol[..., None]
    return card


# -- photographed ID cards (``kycguard bench cards`` and tests/documents/test_photographed.py) --

CARD_SIZE = (856, 540)  # ID-1, 85.6 x 54 mm at 10 px/mm
REFERENCE_DAY = dt.date(2026, 1, 1)
"""The day specimen cards are generated and checked against (dates stay valid whatever the clock)."""


def face_crop(photo: np.ndarray) -> np.ndarray:
    """Head and shoulders of an aligned LFW image (250 x 250, face centred), 4:5 like a portrait."""
    h, w = photo.shape[:2]
    return photo[int(h * 0.12) : int(h * 0.92), int(w * 0.18) : int(w * 0.82)]


def render_card(
    photo: np.ndarray,
    identity: Identity,
    seed: int = 0,
    *,
    viz_identity: Identity | None = None,
    mrz_edit: MrzEdit | None = None,
) -> Rendered:
    """One side of an ID-1 card holding portrait, visual zone and the three-line TD1 MRZ.

    ``photo`` is used as the portrait as it is (crop it first, e.g. with :func:`face_crop`);
    ``viz_identity`` prints other data in the visual zone, ``mrz_edit`` redraws MRZ characters."""
    viz = viz_identity or identity
    w, h = CARD_SIZE
    card = _background((w, h), seed)
    draw = ImageDraw.Draw(card)
    _, value, title, _ = _fonts()
    draw.text((30, 12), "UTOPIA  IDENTITY CARD", font=title, fill=(40, 40, 90))
    portrait = (30, 72, 196, 245)
    _paste_portrait(card, photo, portrait, crop=False)
    given = viz.given_names
    while given and draw.textlength(given, font=value) > w - 290:
        given = given.rsplit(" ", 1)[0] if " " in given else given[:-1]
    _viz(
        draw,
        258,
        64,
        [
            ("Surname", viz.surname),
            ("Given names", given),
            ("Date of birth", _date(viz.birth_date)),
            ("Document No.", viz.document_number),
            ("Date of expiry", _date(viz.expiry_date)),
        ],
        row_gap=59,
    )
    lines = compose_lines(FORMATS["TD1"], identity.mrz_values("I"))
    boxes = draw_mrz(
        draw, lines, left=round((w - 30 * PITCH_PX) / 2), top=h - 162, line_gap_px=48, edit=mrz_edit
    )
    return Rendered(np.asarray(card), lines, portrait, identity, "TD1", boxes)


def _name_part(text: str) -> str:
    return " ".join("".join(c for c in part.upper() if "A" <= c <= "Z") for part in text.split())


def random_identity(
    name: str, rng: np.random.Generator, today: dt.date = REFERENCE_DAY
) -> Identity:
    """An identity for an LFW folder name (``Given_Names_Surname``) with plausible random data.

    Document numbers start with one or two letters, among them those OCR confuses with digits
    (O/0, I/1, S/5, B/8, Z/2): the misreadings the checks must tell from forgeries."""
    parts = [p for p in (_name_part(x) for x in name.split("_")) if p]
    surname, given = parts[-1], " ".join(parts[:-1]) or parts[-1]
    letters = "".join(rng.choice(list("ABCDEFGHIJKLMNOPRSTUVWXYZOISBZ"), int(rng.integers(1, 3))))
    number = letters + "".join(str(d) for d in rng.integers(0, 10, 9 - len(letters)))
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 53)))
    expiry = today + dt.timedelta(days=int(rng.integers(60, 365 * 10)))
    return Identity(
        surname=surname,
        given_names=given,
        document_number=number,
        birth_date=birth,
        sex=str(rng.choice(["M", "F"])),
        expiry_date=expiry,
        issue_date=expiry - dt.timedelta(days=365 * 10),
        optional_data="",
    )


@dataclass(frozen=True)
class Holder:
    """A person with two different photos: one printed on the card, one taken as the selfie."""

    name: str
    card_photo: str
    selfie_photo: str


def lfw_holders(root: str, count: int, seed: int) -> list[Holder]:
    """``count`` LFW identities with at least two images, chosen by ``seed`` (folder = identity)."""
    import os

    names = sorted(
        d
        for d in os.listdir(root)
        if os.path.isdir(os.path.join(root, d)) and len(os.listdir(os.path.join(root, d))) >= 2
    )
    if len(names) < count:
        raise ValueError(f"{root} has only {len(names)} identities with two images")
    rng = np.random.default_rng(seed)
    out = []
    for name in sorted(str(n) for n in rng.choice(names, count, replace=False)):
        files = sorted(os.listdir(os.path.join(root, name)))
        a, b = rng.choice(len(files), 2, replace=False)
        out.append(
            Holder(name, os.path.join(root, name, files[a]), os.path.join(root, name, files[b]))
        )
    return out


def load_rgb(path: str) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


@dataclass
class Photo:
    """A photographed document and where the card and its portrait ended up in the photo."""

    data: bytes  # the JPEG file as uploaded
    corners: np.ndarray  # 4 x 2, the card's corners (tl, tr, br, bl) in the photo
    portrait_box: tuple[int, int, int, int]  # x, y, w, h bounding the warped portrait
    params: dict[str, float]

    @property
    def image(self) -> np.ndarray:
        """The photo decoded (RGB uint8)."""
        return decode(self.data)


def _table(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A table top: a base colour, wood-like low-frequency streaks and fine grain."""
    w, h = size
    base = rng.uniform([70, 55, 40], [190, 170, 150])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    streak = 10 * np.sin(yy / rng.uniform(9, 30) + 2 * np.sin(xx / rng.uniform(80, 200)))
    grain = cv2.GaussianBlur(rng.normal(0, 8, (h, w)).astype(np.float32), (0, 0), 1.5)
    return np.clip(base + (streak + grain)[..., None], 0, 255).astype(np.float32)


def _card_corners(
    card_wh: tuple[int, int], out_wh: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, float]]:
    w, h = card_wh
    scale = float(rng.uniform(0.9, 1.3))
    angle = float(rng.uniform(-6, 6))
    tilt = float(rng.uniform(0.0, 0.06))  # far edge shrinks by this share: a few degrees off-axis
    side = int(rng.integers(0, 4))  # which edge is far from the camera
    pts = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32) - np.array([w / 2, h / 2])
    far = [(0, 1), (1, 2), (2, 3), (3, 0)][side]
    for i in far:  # pull the far edge's corners towards the edge's midpoint
        j = far[1] if i == far[0] else far[0]
        pts[i] += (pts[j] - pts[i]) * tilt / 2
    pts += rng.normal(0, 0.004 * w, pts.shape)
    theta = np.radians(angle)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    room = np.array(out_wh) / 2 - np.abs(pts @ rot.T * scale).max(axis=0) - 20
    centre = np.array(out_wh) / 2 + rng.uniform(-1, 1, 2) * np.maximum(room, 0) * 0.6
    dst = (pts @ rot.T) * scale + centre
    return dst.astype(np.float32), {"scale": scale, "angle_deg": angle, "tilt": tilt}


def photograph(
    document: np.ndarray,
    portrait_box: tuple[int, int, int, int],
    seed: int,
    *,
    out_size: tuple[int, int] = (1400, 1050),
    jpeg_quality: int | None = None,
) -> Photo:
    """``document`` (a rendered card, RGB) lying on a table, photographed by a phone.

    Perspective of a few degrees, in-plane rotation within +-6 degrees, scale 0.9-1.3, a drop shadow
    and a shadow across part of the scene, a lighting gradient, a glare spot, slight blur, sensor
    noise and JPEG (quality 80-92 unless given). Deterministic by ``seed``."""
    rng = np.random.default_rng(seed)
    h, w = document.shape[:2]
    out_w, out_h = out_size
    dst, params = _card_corners((w, h), out_size, rng)
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    card = cv2.warpPerspective(document.astype(np.float32), matrix, out_size, flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.ones((h, w), np.float32), matrix, out_size, flags=cv2.INTER_AREA)
    table = _table(out_size, rng)
    offset = rng.uniform(4, 14, 2)
    shift = np.array([[1, 0, offset[0]], [0, 1, offset[1]]], np.float32)
    drop = cv2.warpAffine(mask, shift, out_size)
    table = table * (1 - 0.45 * cv2.GaussianBlur(drop, (0, 0), 6)[..., None])
    scene: Any = card * mask[..., None] + table * (1 - mask[..., None])

    yy, xx = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    direction = rng.normal(0, 1, 2)
    direction /= np.linalg.norm(direction) + 1e-9
    ramp = ((xx - out_w / 2) * direction[0] + (yy - out_h / 2) * direction[1]) / max(out_size)
    light = 1.0 + float(rng.uniform(0.15, 0.35)) * ramp  # about 0.85 .. 1.15 across the frame
    edge = rng.uniform(0.2, 0.8) * out_w
    shadow_strength = float(rng.uniform(0.0, 0.3))
    shadow = 1 - shadow_strength / (1 + np.exp(-(xx + 0.3 * yy - edge) / 25))
    scene *= (light * shadow)[..., None] * rng.uniform(0.92, 1.05, 3)  # white balance
    gx, gy = dst[:, 0].min() + rng.uniform(0, 1) * np.ptp(dst[:, 0]), dst[:, 1].min()
    gy += rng.uniform(0, 0.7) * np.ptp(dst[:, 1])
    glare_radius, glare = float(rng.uniform(40, 110)), float(rng.uniform(20, 60))
    scene += (glare * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * glare_radius**2)))[..., None]

    sigma_blur, sigma_noise = float(rng.uniform(0.4, 1.0)), float(rng.uniform(1.5, 4.0))
    scene = cv2.GaussianBlur(scene, (0, 0), sigma_blur)
    scene += rng.normal(0, sigma_noise, scene.shape).astype(np.float32)
    quality = jpeg_quality or int(rng.integers(80, 93))
    data = jpeg_bytes(np.clip(scene, 0, 255).astype(np.uint8), quality)
    x, y, bw, bh = portrait_box
    corners = np.array([[x, y], [x + bw, y], [x + bw, y + bh], [x, y + bh]], np.float32)
    warped = cv2.perspectiveTransform(corners[None], matrix)[0]
    x0, y0 = np.floor(warped.min(axis=0)).astype(int)
    x1, y1 = np.ceil(warped.max(axis=0)).astype(int)
    params |= {
        "shadow": shadow_strength,
        "glare": glare,
        "glare_radius": glare_radius,
        "blur_sigma": sigma_blur,
        "noise_sigma": sigma_noise,
        "jpeg_quality": quality,
    }
    return Photo(data, dst, (int(x0), int(y0), int(x1 - x0), int(y1 - y0)), params)


@dataclass
class Specimen:
    """One benchmark case: the card, its photo, the selfie, and what was done to it."""

    kind: str  # genuine | screen_replay | portrait_pasted | mrz_edited | viz_altered
    rendered: Rendered
    photo: Photo
    selfie: bytes  # the holder's other photo, as the JPEG file
    holder: Holder


ATTACKS = ("screen_replay", "portrait_pasted", "mrz_edited", "viz_altered")


def specimen(
    holder: Holder, seed: int, kind: str = "genuine", other: Holder | None = None
) -> Specimen:
    """A photographed card of ``holder`` (deterministic by ``seed``), genuine or attacked.

    * ``screen_replay``: the genuine card shown on a display and photographed (sub-pixel moire);
    * ``portrait_pasted``: the genuine photo with ``other``'s face pasted over the portrait from
      another JPEG (quality 50-70, block grid shifted), saved again as JPEG 90;
    * ``mrz_edited``: the birth date or document number in the MRZ redrawn 10-15 % larger or lower;
    * ``viz_altered``: the printed birth date and document number differ from the MRZ."""
    rng = np.random.default_rng(seed)
    identity = random_identity(holder.name, rng)
    card_face = face_crop(load_rgb(holder.card_photo))
    viz_identity, edit = None, None
    if kind == "viz_altered":
        viz_identity = replace(
            identity,
            birth_date=identity.birth_date + dt.timedelta(days=int(rng.integers(400, 3000))),
            document_number=identity.document_number[:-3]
            + "".join(str(d) for d in rng.integers(0, 10, 3)),
        )
    if kind == "mrz_edited":
        edit = [MrzEdit(1, 0, 7, 1.12, 3), MrzEdit(0, 5, 14, 1.1, 0), MrzEdit(1, 0, 7, 1.0, 5)][
            int(rng.integers(0, 3))
        ]
    rendered = render_card(card_face, identity, seed, viz_identity=viz_identity, mrz_edit=edit)
    photo = photograph(rendered.image, rendered.portrait_box, seed)
    if kind == "screen_replay":
        big = cv2.resize(rendered.image, None, fx=1.6, fy=1.6, interpolation=cv2.INTER_CUBIC)
        shown = screen_photo(big, angle_deg=float(rng.uniform(-4, 4)))
        photo = Photo(jpeg_bytes(shown, 95), photo.corners, photo.portrait_box, {"screen": 1.0})
    elif kind == "portrait_pasted":
        if other is None:
            raise ValueError("portrait_pasted needs another holder's face")
        face = face_crop(load_rgb(other.card_photo))
        off = (int(rng.integers(1, 8)), int(rng.integers(1, 8)))
        forged = paste_face(photo.image, photo.portrait_box, face, int(rng.integers(50, 71)), off)
        photo = Photo(jpeg_bytes(forged, 90), photo.corners, photo.portrait_box, photo.params)
    elif kind not in ("genuine", "mrz_edited", "viz_altered"):
        raise ValueError(f"unknown specimen kind {kind!r}")
    # LFW photos often show other people at the edges; a selfie frames the holder alone
    full = load_rgb(holder.selfie_photo)
    h, w = full.shape[:2]
    selfie = jpeg_bytes(np.ascontiguousarray(full[h // 8 : h - h // 16, w // 6 : w - w // 6]), 95)
    return Specimen(kind, rendered, photo, selfie, holder)
