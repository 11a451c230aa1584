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
    # Files no asset reads as a table are publishers' metadata kept beside their data, or the population files held
    # as their first version before the pipeline reads them (issue 22).
    not_yet_read = {"ons__mye_lad23_2011_2023", "ons__lad23_csp_pfa_lookup_dec2023"}
    assert all(manifest.files[f].path.endswith(".json") for f in set(manifest.files) - tables - not_yet_read)


SOURCE = "source_id: S, title: t, publisher: p, url: 'https://example.org/u', licence: l, kind: k"


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
            f"sources: [{{{SOURCE}, colour: red}}]\nfiles: []\n",
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
            f"sources: [{{{SOURCE}, date_published: 29/08/2023}}]\nfiles: []\n",
            "date_published: '29/08/2023' is not an ISO date",
        ),
        # Impossible or unsafe values (issue 24, finding 6): each named with its entry, field and value.
        (
            f"sources: [{{{SOURCE}, date_published: 2099-08-29}}]\nfiles: []\n",
            "sources entry 1 (source_id S): date_published: '2099-08-29' is after today",
        ),
        (
            "sources: [{source_id: S, title: t, publisher: p, url: 'javascript:alert(1)', licence: l, kind: k}]\n"
            "files: []\n",
            "sources entry 1 (source_id S): url: 'javascript:alert(1)' is not an http(s) address",
        ),
        (
            f"sources: [{{{SOURCE}, archive_url: 'file:///etc/passwd'}}]\nfiles: []\n",
            "sources entry 1 (source_id S): archive_url: 'file:///etc/passwd' is not an http(s) address",
        ),
        (
            "sources: []\nfiles: [{file_id: f, path: a.csv, title: t, date_retrieved: 2099-11-25, "
            f"sha256: {'a' * 64}, bytes: 1}}]\n",
            "files entry 1 (file_id f): date_retrieved: '2099-11-25' is after today",
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
        "sources: [{source_id: S, title: t, publisher: p, url: 'https://example.org/u', licence: l, kind: k}]\n"
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


@pytest.mark.parametrize(
    ("fetch", "message"),
    [
        (
            "{method: scrape, address: 'https://www.ons.gov.uk/x', hosts: [www.ons.gov.uk], format: xlsx, folder: o}",
            "sources entry 1 (source_id S): fetch.method: unknown method 'scrape'",
        ),
        (
            "{method: ons_dataset, address: 'http://www.ons.gov.uk/x', hosts: [www.ons.gov.uk], format: xlsx, "
            "folder: o}",
            "sources entry 1 (source_id S): fetch: address 'http://www.ons.gov.uk/x' is not an https address",
        ),
        (
            "{method: ons_dataset, address: 'https://ons.example.org/x', hosts: [www.ons.gov.uk], format: xlsx, "
            "folder: o}",
            "fetch: address 'https://ons.example.org/x': host 'ons.example.org' is not in hosts ['www.ons.gov.uk']",
        ),
        (
            "{method: git_file, address: 'https://github.com/o/r', hosts: ['https://github.com'], format: csv, "
            "folder: o, path: a.csv}",
            "fetch.hosts: 'https://github.com' is not a host name",
        ),
        (
            "{method: git_file, address: 'https://github.com/o/r', hosts: [github.com], format: csv, folder: o}",
            "a git_file fetch needs path",
        ),
        (
            "{method: ons_dataset, address: 'https://www.ons.gov.uk/x', hosts: [www.ons.gov.uk], format: xlsx, "
            "folder: o, like: nothing}",
            "sources entry 1 (source_id S): fetch.like 'nothing' is not a file_id",
        ),
    ],
)
def test_malformed_fetch_block(tmp_path, fetch, message):
    """A fetch block is checked when the manifest is read: its method, an https address on a declared host."""
    (tmp_path / "sources.yaml").write_text(f"sources: [{{{SOURCE}, fetch: {fetch}}}]\nfiles: []\n")
    with pytest.raises(ManifestError, match="sources.yaml") as info:
        load_manifest(tmp_path)
    assert message in str(info.value)


def test_declared_fetches_name_the_publishers_own_hosts():
    """Every declared fetch starts at the publisher's own address, and its source's url is the publisher's."""
    manifest = load_manifest(PROJECT_DIR / "raw")
    methods = {source_id: spec.method for source_id, spec in manifest.fetches.items()}
    assert methods == {
        "S01": "govuk_content",
        "ONS_HOMICIDE": "git_file",
        "ONS_PFA_TABLES": "ons_dataset",
        "ONS_MYE": "ons_dataset",
        "HO_PRC_OPEN_DATA": "govuk_content",
        "PQ_SV_FUNDING": "parliament_written_questions",
    }
    for source_id, spec in manifest.fetches.items():
        assert spec.address.startswith("https://"), source_id
        assert "github.com/jamesLSI" not in manifest.sources[source_id]["url"]
