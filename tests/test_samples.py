from pathlib import Path

import pytest

from morphopotency.config import ConfigError
from morphopotency.samples import expand_images, image_id, images_by_donor, read_sample_sheet

HEADER = "sample\tdonor\tcondition\trnaseq_column\timages\n"


def write(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "samples.tsv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def test_default_sheet_reads(repo, samples_schema):
    sheet = read_sample_sheet(repo / "config/samples.tsv", samples_schema)
    assert list(sheet["sample"]) == [
        "S1",
        "S5",
        "S7",
        "S8",
        "S9",
        "D1",
        "D5",
        "D7",
        "D8",
        "D9",
        "N1",
        "N2",
        "N3",
    ]
    assert set(sheet["condition"]) == {"stem", "differentiated"}
    assert list(sheet.loc[sheet["role"] == "score", "donor"]) == ["N1", "N2", "N3"]
    assert (sheet.loc["D8", "donor"], sheet.loc["D8", "images"]) == ("S8", "")


def test_duplicate_sample_names_both_lines(tmp_path, samples_schema):
    path = write(tmp_path, ["S1\tS1\tstem\tS1\t", "S5\tS5\tstem\tS5\t", "S1\tS1\tstem\tS1b\t"])
    with pytest.raises(ConfigError, match=r"sample 'S1' is duplicated \(lines 2, 4\)") as err:
        read_sample_sheet(path, samples_schema)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("bad", ["../x", "a/b", "S 1", "S1.tif", ""])
def test_path_characters_in_ids_are_refused(tmp_path, samples_schema, bad):
    path = write(tmp_path, ["S1\tS1\tstem\tS1\t", f"{bad}\tS2\tstem\tS2\t"])
    with pytest.raises(ConfigError, match=r"line 3 .*sample: '.*' does not match"):
        read_sample_sheet(path, samples_schema)


def test_bad_donor_id_and_condition_name_the_line(tmp_path, samples_schema):
    path = write(tmp_path, ["S1\t..\tstem\tS1\t", "S2\tS2\tpluripotent\tS2\t"])
    with pytest.raises(ConfigError) as err:
        read_sample_sheet(path, samples_schema)
    text = str(err.value)
    assert "line 2 (sample 'S1'): donor: '..' does not match" in text
    assert "line 3 (sample 'S2'): condition: 'pluripotent' is not one of ['stem', 'differentiated']" in text


def test_missing_column(tmp_path, samples_schema):
    path = tmp_path / "samples.tsv"
    path.write_text("sample\tdonor\tcondition\nS1\tS1\tstem\n")
    with pytest.raises(ConfigError, match="missing column\\(s\\) rnaseq_column, images"):
        read_sample_sheet(path, samples_schema)


def test_images_folder_glob_and_planned(tmp_path, samples_schema):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ["a.tif", "b.ome.tif", "c.TIFF", "notes.txt"]:
        (folder / name).write_bytes(b"x")
    assert [p.name for p in expand_images(str(folder))] == ["a.tif", "b.ome.tif", "c.TIFF"]
    assert [p.name for p in expand_images(str(folder / "*.ome.tif"))] == ["b.ome.tif"]
    planned = [tmp_path / "later" / "S1_field01.ome.tif"]
    assert expand_images(str(tmp_path / "later"), planned) == planned
    assert image_id("b.ome.tif") == "b" and image_id("c.TIFF") == "c"


def test_images_that_do_not_exist_name_the_sample(tmp_path, samples_schema):
    path = write(tmp_path, [f"S1\tS1\tstem\tS1\t{tmp_path}/nothing/*.tif"])
    sheet = read_sample_sheet(path, samples_schema)
    with pytest.raises(ConfigError, match=r"sample 'S1': images '.*nothing/\*.tif' match no image file"):
        images_by_donor(sheet)


def test_images_on_two_samples_of_one_donor(tmp_path, samples_schema):
    path = write(tmp_path, ["S1\tS1\tstem\tS1\ta", "D1\tS1\tdifferentiated\tD1\tb"])
    with pytest.raises(ConfigError, match="donor 'S1' has images on several lines \\(2, 3\\)"):
        read_sample_sheet(path, samples_schema)


def test_role_defaults_to_reference_and_is_one_per_donor(tmp_path, samples_schema):
    sheet = read_sample_sheet(write(tmp_path, ["S1\tS1\tstem\tS1\t"]), samples_schema)
    assert list(sheet["role"]) == ["reference"]
    path = tmp_path / "roles.tsv"
    path.write_text(
        HEADER.rstrip("\n")
        + "\trole\nS1\tS1\tstem\tS1\t\t\nD1\tS1\tdifferentiated\tD1\t\tscore\nN1\tN1\tstem\t\t\tqc\n"
    )
    with pytest.raises(ConfigError) as err:
        read_sample_sheet(path, samples_schema)
    assert "donor 'S1' is both reference and score (lines 2, 3)" in str(err.value)
    assert "line 4 (sample 'N1')" in str(err.value) and "'qc' is not one of" in str(err.value)


def test_rows_longer_than_the_header_are_named(tmp_path, samples_schema):
    path = write(tmp_path, ["S1\tS1\tstem\tS1\t\tscore"])  # a role column the header lacks
    with pytest.raises(ConfigError, match="more tab-separated fields than the header has columns"):
        read_sample_sheet(path, samples_schema)
