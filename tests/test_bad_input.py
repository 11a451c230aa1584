"""Bad input fails loudly, names the file (and row and column), and leaves outputs/ untouched."""

import pytest

from tests.conftest import snapshot

HO_FILE = "funding/home-office-serious-violence-funding-allocations-2023-24.csv"
HO_LABEL = f"raw/{HO_FILE}"


def failure_text(build) -> str:
    """Everything a person running the build is shown about why it failed."""
    checks = [f"{e.check_name}: {e.description}" for e in build.failed_checks()]
    return "\n".join(build.step_failures() + checks)


def assert_failed_and_unpublished(project, build, *expected: str) -> str:
    assert not build.result.success
    text = failure_text(build)
    for fragment in expected:
        assert fragment in text, text
    return text


@pytest.fixture
def published(project):
    return snapshot(project.outputs)


def test_wrong_sha256_names_the_file_and_publishes_nothing(project, published):
    project.replace_raw(HO_FILE, "£861,445", "£861,446", update_manifest=False)
    build = project.build()
    text = assert_failed_and_unpublished(project, build, HO_FILE, "does not match the manifest")
    assert "sha256" in text
    assert snapshot(project.outputs) == published


def test_negative_amount_fails_the_blocking_check_with_file_row_and_column(project, published):
    project.replace_raw(HO_FILE, '"£861,445"', '"-£861,445"')
    build = project.build()
    assert_failed_and_unpublished(
        project, build, f"{HO_LABEL}, row 9, column 'Grip police force allocation': value '-£861,445'"
    )
    failed = {(e.asset_key.to_user_string(), e.check_name) for e in build.failed_checks()}
    assert failed == {("raw_home_office__funding_allocations_2023_24", "matches_schema")}
    assert snapshot(project.outputs) == published


def test_unknown_area_name_fails_with_file_row_and_column(project, published):
    project.replace_raw(HO_FILE, "Thames Valley,", "Thames Vally,")
    build = project.build()
    assert_failed_and_unpublished(
        project, build, f"{HO_LABEL}, row 9, column 'Area': value 'Thames Vally': unknown area name"
    )
    failed = {(e.asset_key.to_user_string(), e.check_name) for e in build.failed_checks()}
    assert failed == {("core_funding_reports", "figures_read")}
    assert snapshot(project.outputs) == published


def test_alias_to_an_unknown_area_code_fails_the_foreign_key_check(project, published):
    project.replace_raw("mappings/area_names.csv", "Avon & Somerset,E23000036", "Avon & Somerset,E23000096")
    build = project.build()
    assert_failed_and_unpublished(
        project, build, "outputs/data/area_names.csv, row 2, column 'area_code': value 'E23000096': matches no row"
    )
    assert snapshot(project.outputs) == published


def test_renamed_column_is_named(project, published):
    project.replace_raw(HO_FILE, "VRU allocation", "VRU allocations")
    build = project.build()
    text = assert_failed_and_unpublished(project, build, HO_LABEL)
    assert "'VRU allocation'" in text and "missing" in text
    assert snapshot(project.outputs) == published


def test_file_missing_from_disk(project, published):
    (project.raw / HO_FILE).unlink()
    build = project.build()
    assert_failed_and_unpublished(project, build, HO_FILE, "is missing")
    assert snapshot(project.outputs) == published


def test_file_not_in_the_manifest(project, published):
    (project.raw / "funding" / "extra.csv").write_text("Area\nKent\n")
    build = project.build()
    assert_failed_and_unpublished(project, build, "not listed in the manifest: funding/extra.csv")
    assert snapshot(project.outputs) == published


def test_manifest_path_escaping_raw(project, published):
    manifest = project.manifest()
    manifest["files"][0]["path"] = "../outputs/datapackage.json"
    project.write_manifest(manifest)
    build = project.build()
    assert_failed_and_unpublished(project, build, "escapes", "sources.yaml")
    assert snapshot(project.outputs) == published


def test_non_utf8_file(project, published):
    data = (project.raw / HO_FILE).read_bytes().replace(b"Thames", b"Th\xe9mes")
    project.write_raw(HO_FILE, data)
    build = project.build()
    assert_failed_and_unpublished(project, build, HO_FILE, "line 9 is not valid UTF-8")
    assert snapshot(project.outputs) == published
