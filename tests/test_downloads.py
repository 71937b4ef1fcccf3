"""GEO and Enrichr downloads, against a local HTTP server on 127.0.0.1 (never the internet)."""

import gzip
import hashlib

import pytest

from morphopotency.io.gmt import read_gmt
from morphopotency.rnaseq.geo import download, supplementary_url


def test_supplementary_url_follows_geo_layout():
    assert (
        supplementary_url("GSE210678", "counts.txt.gz")
        == "https://ftp.ncbi.nlm.nih.gov/geo/series/GSE210nnn/GSE210678/suppl/counts.txt.gz"
    )
    with pytest.raises(ValueError, match="not a GEO series accession"):
        supplementary_url("GSM1", "x")
    with pytest.raises(ValueError, match="plain file name"):
        supplementary_url("GSE1234", "../x")


def test_geo_download_records_checksum(server, tmp_path):
    root, base = server
    payload = gzip.compress(b"gene_id\tS1\ng1\t1\n")
    (root / "GSE210nnn" / "GSE210678" / "suppl").mkdir(parents=True)
    (root / "GSE210nnn" / "GSE210678" / "suppl" / "table.tsv.gz").write_bytes(payload)
    target = tmp_path / "resources" / "geo" / "GSE210678" / "table.tsv.gz"
    digest = download(supplementary_url("GSE210678", "table.tsv.gz", base), target)
    assert target.read_bytes() == payload
    assert digest == hashlib.sha256(payload).hexdigest()
    assert target.with_name("table.tsv.gz.sha256").read_text().split()[0] == digest


def test_checksum_mismatch_and_missing_file_leave_nothing(server, tmp_path):
    root, base = server
    (root / "f.txt").write_bytes(b"data")
    target = tmp_path / "out" / "f.txt"
    with pytest.raises(ValueError, match="differs from the expected"):
        download(f"{base}/f.txt", target, expected_sha256="0" * 64)
    with pytest.raises(ConnectionError, match="set rnaseq.table to its local path"):
        download(f"{base}/missing.txt", target)
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_enrichr_library_text_format_is_read_as_gmt(server, tmp_path):
    root, base = server
    (root / "lib").write_text("Cell Adhesion (GO:0007155)\t\tFN1,1.0\tITGB1,1.0\nOther\t\tACTB\n")
    target = tmp_path / "resources" / "enrichr" / "lib.gmt"
    download(f"{base}/lib", target)
    assert read_gmt(target) == {"Cell Adhesion (GO:0007155)": ["FN1", "ITGB1"], "Other": ["ACTB"]}
