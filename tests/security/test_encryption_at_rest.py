"""Encryption at rest: after real verifications and a video session, no JPEG/PNG and no raw face
template exists anywhere on disk or in any database column; the stored ciphertext decrypts to exactly
what was kept; rotating the data key re-encrypts everything (key file and environment keys)."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from security.helpers import (
    Deployment,
    database_values,
    files_under,
    run_verification,
    scratch_database,
    start_session,
)
from sqlalchemy import create_engine, text

from kycguard.security.blobs import strip_metadata
from kycguard.security.crypto import KeyRing, key_id_of, parse_env_keys, read_key_file, row_aad
from kycguard.settings import Settings

JPEG, PNG = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"
JPEG_B64, PNG_B64 = b"/9j/", b"iVBORw0KGgo"


def images_in(data: bytes) -> list[str]:
    """Every JPEG/PNG that decodes, raw or base64, found at any offset (a bare 3-byte marker in
    ciphertext happens by chance; an image that decodes does not)."""
    found = []
    for magic, b64 in ((JPEG, False), (PNG, False), (JPEG_B64, True), (PNG_B64, True)):
        start = data.find(magic)
        while start != -1:
            chunk = data[start : start + 4_000_000]
            if b64:
                end = 0
                while (
                    end < len(chunk)
                    and chunk[end : end + 1]
                    in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
                ):
                    end += 1
                try:
                    chunk = base64.b64decode(chunk[: end - end % 4])
                except ValueError:
                    chunk = b""
            try:
                with Image.open(io.BytesIO(chunk)) as img:
                    img.load()
                found.append(f"{'base64 ' if b64 else ''}{img.format} at {start}")
            except Exception:
                pass
            start = data.find(magic, start + 1)
    return found


def vectors_in(value: Any) -> bool:
    """A JSON value holding a list of 64+ numbers (an embedding written as text)."""
    if isinstance(value, list):
        if len(value) >= 64 and all(isinstance(v, int | float) for v in value):
            return True
        return any(vectors_in(v) for v in value)
    if isinstance(value, dict):
        return any(vectors_in(v) for v in value.values())
    return False


@pytest.fixture(scope="session")
def selfie_template(photos: dict[str, bytes]) -> np.ndarray:
    """The selfie's face embedding, computed here the way /verify computes it."""
    from kycguard.services.runtime import build_vision
    from kycguard.services.verification import select_selfie_face
    from kycguard.vision.image_io import decode_image, downscale

    settings = Settings()
    lim = settings.limits
    vision = build_vision(settings)
    try:
        img = downscale(
            decode_image(
                photos["obama2"],
                field="selfie",
                max_bytes=lim.max_upload_bytes,
                max_pixels=lim.max_pixels,
            ),
            lim.analysis_max_side_px,
        )
        face = select_selfie_face(vision.detector.detect(img), settings).face
        return np.asarray(vision.matcher.embedder.embed(img, face))
    finally:
        vision.close()


def _keyring(dep: Deployment) -> KeyRing:
    path = dep.data_dir / "data-keys.json"
    keys, active = read_key_file(path)
    return KeyRing(keys, active)


def _rows(url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())
    finally:
        engine.dispose()


def _cli(dep: Deployment, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "kycguard.cli", *args],
        env=dep.server.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_no_image_or_template_readable_on_disk_or_in_the_database(
    deployment: Deployment, photos: dict[str, bytes], selfie_template: np.ndarray
) -> None:
    user = f"enc-{uuid.uuid4().hex[:6]}"
    vid = run_verification(deployment, photos, user)["verification_id"]
    session = start_session(deployment, user, document=photos["card"])

    # what was kept, decrypted with the server's key file: exactly the selfie, a JPEG portrait, and
    # the template this test computed itself (so the needles below are the real bytes)
    ring = _keyring(deployment)
    kept = {
        kind: ring.decrypt(bytes(content), row_aad("blobs", bid))
        for bid, kind, content in _rows(
            deployment.database_url,
            "SELECT id, kind, content FROM blobs WHERE verification_id = :v",
            v=vid,
        )
    }
    assert set(kept) == {"selfie", "document_portrait", "selfie_template"}
    # the selfie as uploaded, minus its metadata (EXIF and the like; the pixels are untouched)
    assert kept["selfie"] == strip_metadata(photos["obama2"])[1] != photos["obama2"]
    assert images_in(kept["document_portrait"]) == ["JPEG at 0"]
    stored = np.frombuffer(kept["selfie_template"], np.float32)
    assert stored.shape == selfie_template.shape
    assert np.array_equal(stored, selfie_template.astype(np.float32))
    (doc,) = _rows(
        deployment.database_url,
        "SELECT content FROM kyc_session_blobs WHERE session_id = :s AND key = 'document'",
        s=session["session_id"],
    )
    portrait = ring.decrypt(
        bytes(doc[0]), row_aad("kyc_session_blobs", session["session_id"], "document")
    )
    assert images_in(portrait) == ["JPEG at 0"]

    needles = {
        "template float32": selfie_template.astype(np.float32).tobytes()[:32],
        "template float64": selfie_template.astype(np.float64).tobytes()[:32],
        "selfie upload": photos["obama2"][:64],
    }
    # the scanner finds what it looks for (so a clean scan means something)
    planted = (
        b"noise"
        + kept["document_portrait"]
        + base64.b64encode(photos["obama2"])
        + needles["template float64"]
    )
    found = images_in(planted)
    assert "JPEG at 5" in found and any(f.startswith("base64 JPEG") for f in found), found

    problems = []
    folders = {deployment.data_dir}
    if deployment.database_url.startswith("sqlite"):
        folders.add(Path(deployment.database_url.split("///", 1)[1]).parent)
    for folder in folders:
        for path, data in files_under(folder):
            problems += [f"{path}: {p}" for p in images_in(data)]
            problems += [f"{path}: {n}" for n, needle in needles.items() if needle in data]
    for table, column, data in database_values(deployment.database_url):
        where = f"{table}.{column}"
        problems += [f"{where}: {p}" for p in images_in(data)]
        problems += [f"{where}: {n}" for n, needle in needles.items() if needle in data]
        if data[:1] in (b"[", b"{"):
            try:
                if vectors_in(json.loads(data)):
                    problems.append(f"{where}: a numeric vector of 64+ values")
            except ValueError:
                pass
    assert not problems, problems


def test_rotating_the_data_key_re_encrypts_everything(
    deployment: Deployment, photos: dict[str, bytes]
) -> None:
    run_verification(deployment, photos, f"rot-{uuid.uuid4().hex[:6]}")
    start_session(deployment, f"rot-{uuid.uuid4().hex[:6]}", document=photos["card"])
    deployment.create_key("integrator", deployment.tenant_a, signed_requests=True)
    before_ring = _keyring(deployment)
    url = deployment.database_url

    def stale(table: str, column: str) -> int:
        """Ciphertexts of ``table``: every one is under an old key once the new key exists."""
        return len(_rows(url, f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL"))

    expected = {
        "api_keys": stale("api_keys", "signing_secret"),
        "kyc_session_blobs": stale("kyc_session_blobs", "content"),
    }
    assert expected["api_keys"] >= 1 and expected["kyc_session_blobs"] >= 1
    plain = {
        bid: before_ring.decrypt(bytes(c), row_aad("blobs", bid))
        for bid, c in _rows(url, "SELECT id, content FROM blobs")
    }
    sealed = {
        vid: before_ring.decrypt(bytes(c), row_aad("verifications", vid))
        for vid, c in _rows(url, "SELECT id, sealed FROM verifications WHERE sealed IS NOT NULL")
    }

    report = _cli(deployment, "keys", "rotate-data-key")
    new = report["active_key_id"]
    assert new != before_ring.active_id and report["previous_key_id"] == before_ring.active_id
    assert report["reencrypted"]["blobs"] == len(plain) > 0
    assert report["reencrypted"]["api_keys"] == expected["api_keys"]
    assert report["reencrypted"]["kyc_session_blobs"] == expected["kyc_session_blobs"]
    assert report["reencrypted"]["verifications"] == len(sealed) > 0
    assert before_ring.active_id in report["unused_key_ids"]
    ring = _keyring(deployment)
    assert ring.active_id == new and before_ring.active_id in ring.key_ids  # kept, decrypt-only
    for bid, key_id, content in _rows(url, "SELECT id, key_id, content FROM blobs"):
        assert key_id == new and key_id_of(bytes(content)) == new
        assert ring.decrypt(bytes(content), row_aad("blobs", bid)) == plain[bid]
    for (secret,) in _rows(
        url, "SELECT signing_secret FROM api_keys WHERE signing_secret IS NOT NULL"
    ):
        assert key_id_of(bytes(secret)) == new

    # the running server picked the new key up without a restart
    vid = run_verification(deployment, photos, f"rot-{uuid.uuid4().hex[:6]}")["verification_id"]
    assert {
        k for (k,) in _rows(url, "SELECT key_id FROM blobs WHERE verification_id = :v", v=vid)
    } == {new}

    retired = _cli(deployment, "keys", "rotate-data-key", "--retire-old")
    final = _keyring(deployment)
    assert final.key_ids == [retired["active_key_id"]]
    assert set(retired["retired_key_ids"]) == {before_ring.active_id, new}
    for bid, content in _rows(url, "SELECT id, content FROM blobs"):
        final.decrypt(bytes(content), row_aad("blobs", bid))
    for vid, plain_answer in sealed.items():
        ((content,),) = _rows(url, "SELECT sealed FROM verifications WHERE id = :v", v=vid)
        assert final.decrypt(bytes(content), row_aad("verifications", vid)) == plain_answer
    audit = _rows(url, "SELECT details FROM audit_log WHERE action = 'data_key.rotated'")
    assert len(audit) >= 2


def test_keys_from_the_environment_rotate_too(tmp_path: Path) -> None:
    """KYCGUARD_DATA_KEYS: the operator puts a new key first; rotation re-encrypts to it."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from kycguard.security.audit import Actor
    from kycguard.security.blobs import NewBlob
    from kycguard.security.crypto import DataKeyError
    from kycguard.security.rotation import rotate_data_key
    from kycguard.security.runtime import open_security

    def b64() -> str:
        return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()

    old, new = f"old:{b64()}", f"new:{b64()}"
    with scratch_database("sqlite", tmp_path) as url:
        first = Settings(data_dir=tmp_path, database_url=url, security={"data_keys": old})
        with open_security(first) as sec, sec.database.session() as s:
            sec.blobs.put(s, NewBlob("selfie", "image/jpeg", b"\xff\xd8\xffsecret"), user_id="u")
        assert not (tmp_path / "data-keys.json").exists()  # nothing generated when keys are given
        second = Settings(
            data_dir=tmp_path, database_url=url, security={"data_keys": f"{new},{old}"}
        )
        with open_security(second) as sec:
            report = rotate_data_key(
                second.security, tmp_path, sec.database, sec.audit, Actor("test")
            )
            assert report["reencrypted"]["blobs"] == 1 and report["unused_key_ids"] == ["old"]
            ((bid, content),) = _rows(url, "SELECT id, content FROM blobs")
            assert key_id_of(bytes(content)) == "new"
            assert (
                sec.keyring.decrypt(bytes(content), row_aad("blobs", bid)) == b"\xff\xd8\xffsecret"
            )
        with pytest.raises(DataKeyError):
            KeyRing(*parse_env_keys(old)).decrypt(bytes(content), row_aad("blobs", bid))
        with pytest.raises(DataKeyError):  # bound to its row: another row's id does not decrypt
            KeyRing(*parse_env_keys(new)).decrypt(bytes(content), row_aad("blobs", "other"))
