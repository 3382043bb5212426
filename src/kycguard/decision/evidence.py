"""Identity evidence from a document: was the identity on it read and checked, and is it a document?

No approval rests on a face alone: the face must match the portrait of a document whose identity data
was read and checked. Three sources count, read from the document report the analyzer produced
(``documents.report.DocumentReport.to_dict()``):

- ``mrz``: a machine-readable zone read with every ICAO 9303 check digit valid;
- ``barcode``: a PDF417 barcode decoded as AAMVA identity data (driver licences);
- ``visual_zone``: the printed fields read by OCR: a name, the birth date, and the document number or
  the expiry date.

A picture with no identity data is never approved (``DOCUMENT_NOT_RECOGNISED``, review); one that is no
document at all (no MRZ, no barcode, hardly any printed text, and a face filling the frame: a portrait
photo or a selfie) is rejected (``NOT_AN_IDENTITY_DOCUMENT``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from kycguard.decision.config import EvidenceSettings
from kycguard.decision.findings import Finding, Severity


@dataclass(frozen=True)
class DocumentEvidence:
    source: str | None  # "mrz" | "barcode" | "visual_zone"; None: no identity data read
    printed_lines: int  # text lines read in the visual zone
    mrz_found: bool
    barcode_found: bool
    face_fraction: float  # portrait face width / document image width

    @property
    def identity_read(self) -> bool:
        return self.source is not None

    def is_document(self, settings: EvidenceSettings) -> bool:
        printed = self.mrz_found or self.barcode_found
        printed = printed or self.printed_lines >= settings.min_printed_lines
        return printed or self.face_fraction < settings.not_a_document_face_fraction

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"face_fraction": round(self.face_fraction, 3)}


def document_evidence(doc: dict[str, Any], face_fraction: float) -> DocumentEvidence:
    """What ``doc`` (a document report as a dict) shows of its holder's identity."""
    checks = {c["name"]: c for c in doc.get("checks", [])}
    mrz = doc.get("mrz") or {}
    digits_ok = (checks.get("mrz_check_digits") or {}).get("passed") is True
    sources = (doc.get("identity") or {}).get("sources") or {}
    ident = doc.get("identity") or {}
    barcode = "barcode" in sources.values()
    viz_lines = len((doc.get("viz") or {}).get("lines") or [])
    source: str | None = None
    if digits_ok:
        source = "mrz"
    elif barcode:
        source = "barcode"
    elif (
        (ident.get("surname") or ident.get("given_names"))
        and ident.get("birth_date")
        and (ident.get("document_number") or ident.get("expiry_date"))
    ):
        source = "visual_zone"
    return DocumentEvidence(
        source=source,
        printed_lines=viz_lines,
        mrz_found=bool(mrz),
        barcode_found=bool(doc.get("barcode")),
        face_fraction=face_fraction,
    )


def evidence_findings(evidence: DocumentEvidence, settings: EvidenceSettings) -> list[Finding]:
    if evidence.identity_read:
        return []
    if not evidence.is_document(settings):
        return [
            Finding(
                "NOT_AN_IDENTITY_DOCUMENT",
                "the document photo is not an identity document: no machine-readable zone, "
                f"barcode or printed fields, and the face fills {evidence.face_fraction:.0%} of "
                "the picture",
                Severity.REJECT,
            )
        ]
    return [
        Finding(
            "DOCUMENT_NOT_RECOGNISED",
            "no identity data could be read from the document (no valid machine-readable zone, "
            "no barcode, no name, birth date and number in the printed fields): the face match "
            "alone does not prove an identity",
            Severity.REVIEW,
        )
    ]
