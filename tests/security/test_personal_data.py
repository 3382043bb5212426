"""Personal data at rest: after a real verification of a rendered and photographed ID card, no name,
birth date, document number or MRZ line is in clear in any database column; the API still answers in
full; erasure removes them (the decision stays) and leaves no raw user id anywhere, the audit log
included; kept selfies carry no EXIF; a shared database refuses a generated per-host key; /health
reports each model's real state."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from security.helpers import (
    Deployment,
    database_values,
    run_verification,
    scratch_database,
    start_session,
)
from sqlalchemy import create_engine, text
from support.servers import Server

from kycguard.security.crypto import KeyRing, read_key_file, row_aad


def _needles(answer: dict[str, Any]) -> dict[str, bytes]:
    """The personal fields the verification read (so the scan looks for what was really there)."""
    doc = answer["document_authenticity"]
    mrz, identity = doc["mrz"], doc["identity"]
    needles = {
        "surname": identity["surname"],
        "given names": identity["given_names"],
        "document number": identity["document_number"],
        "birth date": identity["birth_date"],
        "MRZ birth date": mrz["birth_date"],
        "MRZ optional data": mrz["optional_data"],
    }
    needles |= {f"MRZ line {i}": line for i, line in enumerate(mrz["raw"])}
    return {k: str(v).encode() for k, v in needles.items() if v}


def _clear_hits(url: str, needles: dict[str, bytes]) -> list[str]:
    return [
        f"{table}.{column}: {name}"
        for table, column, data in database_values(url)
        for name, needle in needles.items()
        if needle in data
    ]


def _rows(url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())
    finally:
        engine.dispose()


def test_personal_fields_are_sealed_and_erasure_removes_them(
    deployment: Deployment, photos: dict[str, bytes]
) -> None:
    user = f"pd-{uuid.uuid4().hex[:8]}"
    answer = run_verification(deployment, photos, user)
    vid = answer["verification_id"]
    needles = _needles(answer)
    assert needles["surname"] == b"OBAMA" and needles["document number"] == b"D23145890"
    session = start_session(deployment, user, verification_id=vid)

    # the scanner finds a planted value (a clean scan means something)
    assert _clear_hits(deployment.database_url, {"user": user.encode()})
    assert not _clear_hits(deployment.database_url, needles)
    ((sealed, result),) = _rows(
        deployment.database_url, "SELECT sealed, result FROM verifications WHERE id = :v", v=vid
    )
    public = json.loads(result) if isinstance(result, str) else result
    assert public["status"] == answer["status"] and public["reasons"] == answer["reasons"]
    assert "mrz" not in public["document_authenticity"] and "warnings" not in public
    keys, active = read_key_file(deployment.data_dir / "data-keys.json")
    full = json.loads(KeyRing(keys, active).decrypt(bytes(sealed), row_aad("verifications", vid)))
    assert full == answer

    with deployment.client(headers=deployment.headers("integrator")) as c:
        # the read view adds the session created with this verification_id (still active)
        video = {"session_id": session["session_id"], "status": "active", "decision": None}
        read = {"video_session": video | {"completed_at": None}, "final_decision": answer["status"]}
        assert c.get(f"/api/v1/verifications/{vid}").json() == answer | read  # whole while kept
        erased = c.delete(f"/api/v1/subjects/{user}")
        assert erased.status_code == 200, erased.text
        assert erased.json()["deleted"]["verification_personal_data"] == 1
        after = c.get(f"/api/v1/verifications/{vid}")
        linked = c.get(f"/api/v1/sessions/{session['session_id']}")
    assert after.status_code == 200
    body = after.json()
    assert body["personal_data"]["status"] == "erased"
    assert body["personal_data"]["reason"] == "erasure"
    assert {k: body[k] for k in ("status", "overall_confidence", "reasons")} == {
        k: answer[k] for k in ("status", "overall_confidence", "reasons")
    }
    assert [c["name"] for c in body["document_authenticity"]["checks"]] == [
        c["name"] for c in answer["document_authenticity"]["checks"]
    ]
    assert not [n for n, v in needles.items() if v.decode() in after.text]
    assert linked.json()["user_id"] == erased.json()["subject_ref"] != user
    assert _rows(
        deployment.database_url, "SELECT sealed FROM verifications WHERE id = :v", v=vid
    ) == [(None,)]
    assert not _clear_hits(deployment.database_url, needles)
    # nothing in the database names the erased user any more: not the records, not the audit log
    assert not _clear_hits(deployment.database_url, {"user": user.encode()})


def _with_exif(jpeg: bytes) -> bytes:
    img = Image.open(io.BytesIO(jpeg))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # camera make
    exif[0x9003] = "2026:11:30 10:11:12"  # when
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}  # where
    out = io.BytesIO()
    img.save(out, "JPEG", quality=95, exif=exif.tobytes(), comment=b"SecretComment")
    return out.getvalue()


def test_kept_selfies_carry_no_metadata(deployment: Deployment, photos: dict[str, bytes]) -> None:
    selfie = _with_exif(photos["obama2"])
    assert b"SecretCam" in selfie and b"SecretComment" in selfie
    with deployment.client(headers=deployment.headers("integrator")) as c:
        r = c.post(
            "/api/v1/verify",
            files={
                "id_document": ("id.jpg", photos["card"], "image/jpeg"),
                "selfie": ("selfie.jpg", selfie, "image/jpeg"),
            },
            data={"user_id": f"exif-{uuid.uuid4().hex[:6]}"},
        )
    assert r.status_code == 200, r.text
    keys, active = read_key_file(deployment.data_dir / "data-keys.json")
    ((bid, content),) = _rows(
        deployment.database_url,
        "SELECT id, content FROM blobs WHERE verification_id = :v AND kind = 'selfie'",
        v=r.json()["verification_id"],
    )
    kept = KeyRing(keys, active).decrypt(bytes(content), row_aad("blobs", bid))
    assert b"SecretCam" not in kept and b"SecretComment" not in kept
    with Image.open(io.BytesIO(kept)) as img:
        assert dict(img.getexif()) == {} and img.info.get("comment") is None
        pixels = np.asarray(img.convert("RGB"))
    with Image.open(io.BytesIO(selfie)) as original:  # lossless: the pixels are the upload's
        assert np.array_equal(pixels, np.asarray(original.convert("RGB")))


def test_a_shared_database_refuses_a_generated_per_host_key(tmp_path: Path) -> None:
    with scratch_database("postgres", tmp_path) as url:
        env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("KYCGUARD_")}
        env |= {"KYCGUARD_DATABASE_URL": url, "KYCGUARD_DATA_DIR": str(tmp_path / "host1")}
        cmd = [sys.executable, "-m", "kycguard.cli", "keys", "list", "--json"]
        refused = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert refused.returncode != 0
        assert "KYCGUARD_DATA_KEYS" in refused.stderr + refused.stdout
        assert "security.data_key_file" in refused.stderr + refused.stdout
        assert not (tmp_path / "host1" / "data-keys.json").exists()
        env["KYCGUARD_DATA_KEYS"] = "shared:" + "A" * 43 + "="
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]


def test_health_reports_each_models_real_state(deployment: Deployment, tmp_path: Path) -> None:
    with deployment.client() as c:
        ok = c.get("/health")
    assert ok.status_code == 200
    models = ok.json()["models"]
    assert models["minifasnet"].startswith("inactive")
    assert models["document_ocr"].startswith("loaded (rapidocr")
    # a configured model that does not load: the server says so and is not ready
    broken = Server(
        {"KYCGUARD_LIVENESS__MINIFASNET_PATH": str(tmp_path / "missing.onnx")}, tmp_path
    )
    try:
        deadline, r = time.monotonic() + 120, None
        while time.monotonic() < deadline and broken.process.poll() is None:
            try:
                r = httpx.get(f"{broken.base_url}/health", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert r is not None, broken.log.read_text()[-2000:]
        assert r.status_code == 503
        assert r.json()["models"]["minifasnet"].startswith("failed")
        assert r.json()["status"] == "degraded"
    finally:
        broken.stop()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_records_from_before_sealing_are_sealed_at_start(kind: str, tmp_path: Path) -> None:
    """Rows written in clear before migration 0006 are sealed by the next start."""
    from datetime import UTC, datetime

    from kycguard.settings import Settings
    from kycguard.store.database import Database, upgrade
    from kycguard.store.models import Verification
    from kycguard.store.repository import VerificationRepository

    with scratch_database(kind, tmp_path) as url:
        upgrade(url)
        db = Database(url)
        legacy = {"verification_id": "v1", "status": "approved", "mrz": {"surname": "LEGACY"}}
        with db.session() as s:
            s.add(
                Verification(
                    id="v1",
                    created_at=datetime.now(UTC),
                    status="approved",
                    overall_confidence=90.0,
                    reasons=[],
                    result=legacy,
                    selfie_sha256="0" * 64,
                    document_sha256="0" * 64,
                )
            )
        settings = Settings(data_dir=tmp_path, database_url=url)
        from kycguard.security.crypto import load_keyring

        ring = load_keyring(settings.security, tmp_path)
        repo = VerificationRepository(db, cipher=ring)
        assert repo.seal_legacy() == 1 and repo.seal_legacy() == 0
        assert repo.get("v1") == legacy
        assert not _clear_hits(url, {"surname": b"LEGACY"})
        db.close()
