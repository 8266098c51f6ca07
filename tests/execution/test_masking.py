"""nborch.execution.masking: secret values out of output notebooks, parameters files and
log lines, without breaking either, also when a value is written in pieces."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import nbformat
import yaml
from nbformat.v4 import new_code_cell, new_notebook, new_output

from nborch.execution.masking import (
    LineMasker,
    mask_notebook,
    mask_notebook_file,
    mask_parameters_file,
    masked_forms,
)


def test_every_escaped_form_is_masked() -> None:
    forms = masked_forms(['a"é\\'])
    assert set(forms) == {'a"é\\', 'a\\"\\xe9\\\\', 'a\\"\\u00e9\\\\', 'a"é\\\\'}
    assert forms == sorted(forms, key=len, reverse=True)
    assert masked_forms(["", "x"]) == ["x"]


def test_a_notebook_is_masked_where_people_read_it_and_stays_a_notebook(tmp_path: Path) -> None:
    value = "a"  # a short value: it must not reach the notebook's structure
    notebook = new_notebook(
        cells=[
            new_code_cell(
                'token = "a"',
                metadata={"tags": ["injected-parameters"]},
            ),
            new_code_cell(
                "print(token)",
                outputs=[
                    new_output("stream", name="stdout", text="a\n"),
                    new_output("display_data", data={"text/plain": "'a'", "image/png": "aGVsbG8="}),
                    new_output("error", ename="ValueError", evalue="bad a", traceback=["a!"]),
                ],
            ),
        ],
        metadata={"papermill": {"parameters": {"token": "a"}, "input_path": "in.ipynb"}},
    )
    path = tmp_path / "output.ipynb"
    nbformat.write(notebook, path)
    path.chmod(0o640)
    mask_notebook_file(path, masked_forms([value]))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    masked = nbformat.read(path, as_version=4)
    nbformat.validate(masked)
    assert masked.cells[0].source == 'token = "*****"'
    stream, display, error = masked.cells[1].outputs
    assert (stream.output_type, stream.name, stream.text) == ("stream", "stdout", "*****\n")
    assert display.data == {"text/plain": "'*****'", "image/png": "aGVsbG8="}
    assert (error.ename, error.evalue, error.traceback) == (
        "ValueError",
        "b*****d *****",
        ["*****!"],
    )
    assert masked.metadata.papermill.parameters == {"token": "*****"}
    assert masked.metadata.papermill.input_path == "in.ipynb"
    assert masked.metadata.papermill.keys() == notebook.metadata.papermill.keys()


def test_nothing_to_mask_leaves_files_alone(tmp_path: Path) -> None:
    path = tmp_path / "output.ipynb"
    path.write_text('{"cells": [], "metadata": {}}')  # not as nbformat would write it
    mask_notebook_file(path, masked_forms(["secret"]))
    assert path.read_text() == '{"cells": [], "metadata": {}}'
    mask_notebook_file(tmp_path / "missing.ipynb", ["secret"])  # no error
    (tmp_path / "cut.ipynb").write_text('{"cells": [')
    mask_notebook_file(tmp_path / "cut.ipynb", ["secret"])
    assert (tmp_path / "cut.ipynb").read_text() == '{"cells": ['


def test_a_parameters_file_is_masked_and_keeps_its_types(tmp_path: Path) -> None:
    path = tmp_path / "parameters.yaml"
    path.write_text(yaml.safe_dump({"token": "x: 's3cr3t'", "n": 3, "headers": ["s3cr3t"]}))
    mask_parameters_file(path, masked_forms(["s3cr3t"]))
    assert yaml.safe_load(path.read_text()) == {
        "token": "x: '*****'",
        "n": 3,
        "headers": ["*****"],
    }
    assert "s3cr3t" not in json.dumps(path.read_text())


SECRET = "s3cr3t-0123456789"


def test_a_value_written_in_pieces_is_masked_in_the_joined_stream() -> None:
    half = len(SECRET) // 2
    outputs = [
        new_output("stream", name="stdout", text=f"token: {SECRET[:half]}"),
        new_output("stream", name="stdout", text=[SECRET[half:], "\n"]),
        new_output("stream", name="stderr", text="a warning\n"),
        new_output("stream", name="stdout", text="later\n"),
    ]
    notebook = new_notebook(cells=[new_code_cell("print(token)", outputs=outputs)])
    masked = mask_notebook(notebook, masked_forms([SECRET]))
    assert [(o["name"], o["text"]) for o in masked["cells"][0]["outputs"]] == [
        ("stdout", "token: *****\n"),
        ("stderr", "a warning\n"),
        ("stdout", "later\n"),
    ]
    nbformat.validate(nbformat.from_dict(masked))
    assert notebook.cells[0].outputs[0].text == f"token: {SECRET[:half]}"  # a copy


def test_a_value_cut_across_log_lines_is_masked_in_each_piece() -> None:
    masker = LineMasker(masked_forms([SECRET]))
    assert masker.feed(["starting"]) == ["starting"]
    # The end of this line may begin the value: held back until more comes.
    assert masker.feed([f"token: {SECRET[:8]}"]) == []
    assert masker.feed([SECRET[8:12]]) == []
    assert masker.feed([f"{SECRET[12:]} done", "next"]) == [
        "token: *****",
        "*****",
        "***** done",
        "next",
    ]
    assert masker.finish() == []


def test_a_value_whose_first_piece_went_out_is_masked_in_the_rest() -> None:
    masker = LineMasker(masked_forms([SECRET]))
    assert masker.feed(["token: s3c"]) == ["token: s3c"]  # too short to hold back
    assert masker.feed([f"{SECRET[3:]}!"]) == ["*****!"]


def test_held_lines_go_out_at_the_end_and_values_with_line_breaks_are_masked() -> None:
    masker = LineMasker(masked_forms(["-----BEGIN KEY-----\nAAAA\n-----END KEY-----"]))
    assert masker.feed(["key: -----BEGIN KEY-----", "AAAA"]) == []
    assert masker.feed(["-----END KEY----- ok", "-----BEGIN"]) == [
        "key: *****",
        "*****",
        "***** ok",
    ]
    assert masker.finish() == ["-----BEGIN"]
    plain = LineMasker()
    assert plain.feed([SECRET]) == [SECRET]
