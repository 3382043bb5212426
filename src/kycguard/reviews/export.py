"""Labelled cases as training data: the deployment's own selfies and kept frames, with their labels.

``kycguard models export-labels --out DIR`` writes the images reviewers labelled (feedback routes)
and a ``labels.csv`` in the format ``kycguard models train-pad`` reads
(``file,label,attack_type,source,subject``), so a bank retrains presentation-attack detection on its
own traffic. The images leave the encrypted store only here, by an operator who holds the data keys;
the export is audited (``labels.exported``) and the subject column is the keyed pseudonym, never the
user id. Delete the folder after training: it is personal data.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from kycguard.reviews.models import CaseLabel
from kycguard.security.audit import Actor
from kycguard.security.frames import EncryptedFrameStore
from kycguard.security.runtime import SecurityRuntime

FIELDS = ("file", "label", "attack_type", "source", "subject")


@dataclass(frozen=True)
class ExportReport:
    cases: int
    images: int
    fraud: int
    genuine: int
    without_images: int  # labelled, but retention or erasure already removed the images

    def to_dict(self) -> dict[str, int]:
        return self.__dict__.copy()


def export_labels(
    security: SecurityRuntime, out: Path, actor: Actor, tenant: str | None = None
) -> ExportReport:
    """Every labelled case's selfie (verifications) or kept best frames (sessions) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    frames = EncryptedFrameStore(security.database, security.keyring)
    with security.database.session() as session:
        query = select(CaseLabel).order_by(CaseLabel.labelled_at)
        if tenant is not None:
            query = query.where(CaseLabel.tenant == tenant)
        labels = list(session.scalars(query))
    rows: list[dict[str, str]] = []
    empty = 0
    for label in labels:
        images = _images(security, frames, label)
        empty += not images
        subject = security.subjects.ref(label.tenant, label.user_id) if label.user_id else ""
        for name, (data, ext) in images.items():
            file = f"{label.kind}-{label.case_id}-{name}.{ext}"
            (out / file).write_bytes(data)
            rows.append(
                {
                    "file": file,
                    "label": "fraud" if label.was_fraud else "genuine",
                    "attack_type": "",
                    "source": label.tenant or "deployment",
                    "subject": subject,
                }
            )
    with (out / "labels.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    report = ExportReport(
        cases=len(labels),
        images=len(rows),
        fraud=sum(r["label"] == "fraud" for r in rows),
        genuine=sum(r["label"] == "genuine" for r in rows),
        without_images=empty,
    )
    with security.database.session() as session:
        security.audit.append(
            session, actor, "labels.exported", tenant=tenant, details=report.to_dict()
        )
    return report


def _images(
    security: SecurityRuntime, frames: EncryptedFrameStore, label: CaseLabel
) -> dict[str, tuple[bytes, str]]:
    """name -> (image bytes, file extension)."""
    if label.kind == "verification":
        return {
            info.kind: (security.blobs.read(info.id)[1], _EXT.get(info.media_type, "img"))
            for info in security.blobs.of_verification(label.case_id)
            if info.kind == "selfie"
        }
    kept = frames.get_all(label.case_id, "best/")  # kept frames are JPEG
    return {key.replace("/", "_"): (data, "jpg") for key, data in sorted(kept.items())}


_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
