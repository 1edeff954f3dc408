"""Keeping an uploaded file server-side between the preview and the import (two requests).

The client only ever holds a random token. The file and a small JSON record (institution,
user, file name, time) live under ``settings.VAR_DIR / "imports"``; the token is refused for
another institution and after ``IMPORT_STAGE_TTL`` seconds (an hour by default). The import
re-reads and re-validates the file: nothing from the preview is trusted.

With several web servers, ``VAR_DIR`` must be storage they all share (or the preview and the
import must reach the same server).
"""

import json
import logging
import os
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from admissions.models import User
from verifications.imports.report import ImportRefused, import_max_bytes, import_stage_ttl


logger = logging.getLogger(__name__)

_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")
_UNSAFE_FILENAME_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_COPY_CHUNK = 1 << 20


class StagedImportNotFound(Exception):
    """No staged file for this token in the user's institution (unknown, taken, or another
    institution's: the three look the same to the caller, who answers 404)."""


class StagedImportExpired(StagedImportNotFound):
    """The staged file is older than ``IMPORT_STAGE_TTL``; it has been deleted."""


@dataclass(frozen=True)
class StagedImport:
    token: str
    # The staged file, read from disk in chunks by the preview and the import.
    path: Path
    filename: str
    staged_at: float
    user_id: int

    @property
    def data(self) -> bytes:
        """The whole file, read now (for small files and tests: the import streams ``path``)."""
        return self.path.read_bytes()


def clean_filename(filename: str) -> str:
    """The file's own name, as a browser may send a whole path: no folders, no control
    characters, at most 255 characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = _UNSAFE_FILENAME_CHARS.sub("", name).strip()
    return name[-255:] or "import.csv"


def _directory() -> Path:
    return Path(settings.VAR_DIR) / "imports"


def _paths(token: str) -> tuple[Path, Path]:
    directory = _directory()
    return directory / f"{token}.csv", directory / f"{token}.json"


def _institution_id(user: User) -> int:
    if user.institution_id is None:
        raise PermissionDenied("this user belongs to no institution")
    return user.institution_id


def _write_private(path: Path, content: bytes | Iterable[bytes], max_bytes: int = -1) -> None:
    """Write ``content`` (bytes, or chunks written one by one) to a new file only this user
    reads; ``_TooLarge`` (the partial file deleted) past ``max_bytes`` when given."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in [content] if isinstance(content, bytes) else content:
                written += len(chunk)
                if 0 <= max_bytes < written:
                    raise _TooLarge
                out.write(chunk)
    except _TooLarge:
        path.unlink(missing_ok=True)
        raise


class _TooLarge(Exception):
    pass


def _chunks(data: "bytes | IO[bytes] | UploadedFile") -> Iterable[bytes]:
    if isinstance(data, bytes):
        return [data]
    if isinstance(data, UploadedFile):
        return data.chunks()
    data.seek(0)
    return iter(lambda: data.read(_COPY_CHUNK), b"")


def import_stage(
    *, acting_user: User, data: "bytes | IO[bytes] | UploadedFile", filename: str
) -> str:
    """Keep an uploaded file (its bytes, or a file copied in chunks) for the import that may
    follow its preview; return its token.

    Refuses (``ImportRefused``) a file over ``IMPORT_MAX_BYTES`` without keeping it.
    """
    institution_id = _institution_id(acting_user)
    max_bytes = import_max_bytes()
    too_large = ImportRefused(
        _("Le fichier dépasse la taille maximale de %(max)s Mo.")
        % {"max": max_bytes // (1024 * 1024) or 1},
        code="too_large",
    )
    if isinstance(data, bytes) and len(data) > max_bytes:
        raise too_large
    import_stage_purge()
    _directory().mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(24)
    data_path, meta_path = _paths(token)
    try:
        _write_private(data_path, _chunks(data), max_bytes)
    except _TooLarge:
        raise too_large from None
    meta = {
        "institution_id": institution_id,
        "user_id": acting_user.pk,
        "filename": clean_filename(filename),
        "staged_at": time.time(),
    }
    # Written last: a token is usable only once its file is complete.
    _write_private(meta_path, json.dumps(meta).encode())
    return token


def _read_meta(institution_id: int, token: str) -> dict:
    if not _TOKEN_RE.match(token or ""):
        raise StagedImportNotFound(token)
    _data_path, meta_path = _paths(token)
    try:
        meta = json.loads(meta_path.read_bytes())
    except (FileNotFoundError, ValueError) as exc:
        raise StagedImportNotFound(token) from exc
    if meta.get("institution_id") != institution_id:
        raise StagedImportNotFound(token)
    if time.time() - meta["staged_at"] > import_stage_ttl():
        _delete(token)
        raise StagedImportExpired(token)
    return meta


def import_load(*, acting_user: User, token: str) -> StagedImport:
    """The staged file of ``token``, if it belongs to the user's institution and has not
    expired; otherwise ``StagedImportNotFound`` (or its subclass ``StagedImportExpired``)."""
    meta = _read_meta(_institution_id(acting_user), token)
    data_path, _meta_path = _paths(token)
    if not data_path.is_file():
        raise StagedImportNotFound(token)
    return StagedImport(
        token=token,
        path=data_path,
        filename=meta["filename"],
        staged_at=meta["staged_at"],
        user_id=meta["user_id"],
    )


def import_discard(*, acting_user: User, token: str) -> None:
    """Delete a staged file of the user's institution (after its import, or on cancel)."""
    try:
        _read_meta(_institution_id(acting_user), token)
    except StagedImportNotFound:
        return
    _delete(token)


def _delete(token: str) -> None:
    for path in _paths(token):
        path.unlink(missing_ok=True)


def import_stage_purge() -> int:
    """Delete the staged files older than ``IMPORT_STAGE_TTL``; return how many."""
    directory = _directory()
    if not directory.is_dir():
        return 0
    deadline = time.time() - import_stage_ttl()
    purged = 0
    for path in directory.iterdir():
        try:
            if path.stat().st_mtime < deadline:
                path.unlink(missing_ok=True)
                purged += path.suffix == ".json"
        except FileNotFoundError:
            continue
    if purged:
        logger.info("purged %s expired staged import(s)", purged)
    return purged
