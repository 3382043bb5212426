"""Strict multipart parsing shared by the upload routes: unknown, duplicate and mistyped fields
are errors that name the field, never silently ignored."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import UploadFile

from kycguard.errors import InvalidRequest


async def read_form(
    request: Request, files: tuple[str, ...], texts: tuple[str, ...], max_bytes: int
) -> tuple[dict[str, bytes], dict[str, str]]:
    form = await request.form(max_files=len(files), max_fields=len(files) + len(texts))
    got_files: dict[str, bytes] = {}
    got_texts: dict[str, str] = {}
    try:
        for key, value in form.multi_items():
            if key not in files + texts:
                raise InvalidRequest(
                    f"unknown form field '{key}'; expected {', '.join(files + texts)}",
                    code="UNKNOWN_FIELD",
                    field=key,
                )
            if key in got_files or key in got_texts:
                raise InvalidRequest(
                    f"form field '{key}' was sent twice", code="DUPLICATE_FIELD", field=key
                )
            if (key in files) != isinstance(value, UploadFile):
                kind = "a file upload" if key in files else "a text field"
                raise InvalidRequest(
                    f"'{key}' must be {kind}", code="INVALID_FIELD_TYPE", field=key
                )
            if isinstance(value, UploadFile):
                got_files[key] = await value.read(max_bytes + 1)
            else:
                got_texts[key] = value
    finally:
        await form.close()
    return got_files, got_texts
