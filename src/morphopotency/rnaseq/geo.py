"""Fetch a GEO series' supplementary file once and keep it, with its checksum, under resources/."""

from __future__ import annotations

import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from morphopotency.io.atomic import atomic_path
from morphopotency.provenance import sha256

GEO_BASE = "https://ftp.ncbi.nlm.nih.gov/geo/series"
_ACCESSION = re.compile(r"^GSE\d+$")


def supplementary_url(accession: str, filename: str, base: str = GEO_BASE) -> str:
    """GEO's layout: series/GSE210nnn/GSE210678/suppl/<file>."""
    if not _ACCESSION.match(accession):
        raise ValueError(
            f"rnaseq.geo.accession: '{accession}' is not a GEO series accession (GSE followed by digits)"
        )
    if "/" in filename or filename in ("", ".", ".."):
        raise ValueError(f"rnaseq.geo.file: '{filename}' must be a plain file name")
    stub = accession[:-3] + "nnn" if len(accession) > 6 else "GSEnnn"
    return f"{base.rstrip('/')}/{stub}/{accession}/suppl/{filename}"


def download(url: str, target: str | Path, expected_sha256: str | None = None, timeout: float = 60.0) -> str:
    """Download ``url`` to ``target`` atomically; returns the SHA-256 and writes it beside as ``.sha256``.

    A checksum mismatch leaves nothing behind, so a corrupted or changed download is never used.
    """
    target = Path(target)
    try:
        with atomic_path(target) as tmp:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out)
            digest = sha256(tmp)
            if expected_sha256 and digest != expected_sha256.lower():
                raise ValueError(
                    f"{url}: SHA-256 {digest} differs from the expected {expected_sha256} (rnaseq.geo.sha256)"
                )
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ConnectionError(
            f"cannot download {url}: {exc}. Without network access, download the file elsewhere and set "
            "rnaseq.table to its local path."
        ) from exc
    with atomic_path(target.with_name(target.name + ".sha256")) as tmp:
        tmp.write_text(f"{digest}  {target.name}\n", encoding="utf-8")
    return digest
