"""The manifest: structure, checksums, and paths that must stay inside raw/."""

import pytest

from pipeline.defs.resources import PROJECT_DIR
from pipeline.sources.manifest import ManifestError, load_manifest, sha256_of, verify_file


def test_committed_manifest_matches_every_raw_file():
    manifest = load_manifest(PROJECT_DIR / "raw")
    assert manifest.unlisted_files() == []
    for file_id, entry in manifest.files.items():
        path = verify_file(manifest, file_id)
        assert sha256_of(path) == entry.sha256
        source = manifest.source_of(file_id)
        assert source is None or source["url"].startswith(("https://", "http://"))
    for source in manifest.sources.values():
        assert source["url"].startswith(("https://", "http://")), source["source_id"]


def test_every_raw_table_is_a_manifest_file():
    from schemas import RAW_TABLES
    from schemas.raw import layout_tables

    manifest = load_manifest(PROJECT_DIR / "raw")
    tables = {t.file_id for t in RAW_TABLES.values()} | {t.file_id for t in layout_tables(manifest.files.values())}
    assert tables <= set(manifest.files)
    # Files no asset reads as a table are publishers' metadata kept beside their data.
    assert all(manifest.files[f].path.endswith(".json") for f in set(manifest.files) - tables)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sources: [\n", "not readable YAML"),
        ("just a string\n", "expected top-level lists"),
        (
            "sources: []\nfiles: [{file_id: x}]\n",
            "files entry 1 (file_id x): missing path, title, date_retrieved, sha256, bytes",
        ),
        (
            "sources: [{source_id: S, title: t, publisher: p, url: u, licence: l, kind: k, colour: red}]\nfiles: []\n",
            "sources entry 1 (source_id S): unknown field(s) colour",
        ),
        (
            "sources: []\nfiles: [{file_id: f, path: a.csv, title: t, date_retrieved: 2026-02-30, "
            f"sha256: {'a' * 64}, bytes: 1}}]\n",
            "files entry 1 (file_id f): date_retrieved: '2026-02-30' is not an ISO date (YYYY-MM-DD)",
        ),
        (
            "sources: []\nfiles: [{file_id: f, path: a.csv, title: t, date_retrieved: 2026-11-25, "
            f"sha256: {'a' * 64}, bytes: 1, table_layout: ons_pfa_sideways}}]\n",
            "files entry 1 (file_id f): table_layout: Input should be 'ons_pfa_long', 'ons_pfa_workbook'",
        ),
        (
            "sources: []\nfiles: [{file_id: f, path: a.xlsx, title: t, date_retrieved: 2026-11-25, "
            f"sha256: {'a' * 64}, bytes: 1, table_options: {{sheets: [{{name: P1, group_row: 4}}]}}}}]\n",
            "files entry 1 (file_id f): table_options.sheets.0.heading_row: Field required",
        ),
        (
            "sources: []\nfiles: [{file_id: f, path: a.csv, title: t, date_retrieved: 2026-11-25, "
            "sha256: abc, bytes: -1}]\n",
            "files entry 1 (file_id f): sha256: String should match pattern '^[0-9a-f]{64}$'; bytes: Input should "
            "be greater than or equal to 0",
        ),
        (
            "sources: [{source_id: S, title: t, publisher: p, url: u, licence: l, kind: k, date_published: 29/08/2023}]"
            "\nfiles: []\n",
            "date_published: '29/08/2023' is not an ISO date",
        ),
    ],
)
def test_malformed_manifest(tmp_path, text, message):
    (tmp_path / "sources.yaml").write_text(text)
    with pytest.raises(ManifestError, match="sources.yaml") as info:
        load_manifest(tmp_path)
    assert message in str(info.value)


def test_path_escaping_raw_is_refused(tmp_path):
    (tmp_path / "sources.yaml").write_text(
        "sources: [{source_id: S, title: t, publisher: p, url: u, licence: l, kind: k}]\n"
        "files: [{file_id: f, path: ../../etc/passwd, source_id: S, title: t, date_retrieved: 2026-11-25, "
        f"sha256: {'a' * 64}, bytes: 1}}]\n"
    )
    with pytest.raises(ManifestError, match=r"path '\.\./\.\./etc/passwd' escapes"):
        load_manifest(tmp_path)


def test_a_manifest_whose_byte_count_is_wrong_is_refused_even_when_the_checksum_matches(tmp_path):
    """A hand-edited `bytes` (or one copied from another entry) is caught: the size is checked after the sha256."""
    (tmp_path / "a.csv").write_bytes(b"x\n1\n")
    (tmp_path / "sources.yaml").write_text(
        "sources: []\nfiles: [{file_id: f, path: a.csv, title: t, date_retrieved: 2026-11-25, "
        f"sha256: {sha256_of(tmp_path / 'a.csv')}, bytes: 5}}]\n"
    )
    with pytest.raises(ManifestError, match=r"a\.csv: 4 bytes, the manifest says 5"):
        verify_file(load_manifest(tmp_path), "f")
