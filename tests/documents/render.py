"""Synthetic identity documents for the tests: a real face photo, visual-zone text, a valid MRZ.

Documents are drawn at 10 px/mm with the OCR-B font of Debian's ``fonts-ocr-b`` at the ICAO pitch
(10 characters per inch), and can then be degraded the way phone photos are: rotation, perspective,
blur, noise, JPEG. Nothing here reads documents: tests compare what the library reads against what
this module drew.
"""

from __future__ import annotations

import datetime as dt
import glob
import io
from dataclasses import dataclass, field, replace

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
        boxes.append((left, bbox[1], round(x - left), bbox[3] - bbox[1]))
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


def _paste_portrait(canvas: Image.Image, photo: np.ndarray, box: tuple[int, int, int, int]) -> None:
    x, y, w, h = box
    face = Image.fromarray(portrait_crop(photo)).resize((w, h), Image.Resampling.LANCZOS)
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


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


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
    matrix = cv2.getRotationMatrix2D((w * 1.5, h * 1.5), angle_deg, 0.37)
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
