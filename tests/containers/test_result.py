"""Reading a container's output: lines from chunks cut anywhere, and the lines a run's
logs miss after its worker died."""

from __future__ import annotations

from nborch.containers.result import iter_lines, missing_log_lines


def test_lines_come_whole_whatever_the_chunks() -> None:
    text = "première ligne\r\nsecond\n\nthird without end"
    data = text.encode()
    for size in (1, 2, 3, 7, len(data)):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]  # cuts inside é too
        assert list(iter_lines(chunks)) == ["première ligne", "second", "", "third without end"]
    assert list(iter_lines([b"\xff broken\n"])) == ["\ufffd broken"]
    assert list(iter_lines([])) == []


def test_missing_lines_are_those_after_the_stored_prefix() -> None:
    produced = ["Executing Cell 1", "started", "", "finished", "Ending Cell 1"]
    stored = ["nborch: running in container abc", "Executing Cell 1", "started"]
    assert missing_log_lines(stored, produced) == ["", "finished", "Ending Cell 1"]
    assert missing_log_lines([], produced) == produced
    assert missing_log_lines(["nborch: x", *produced], produced) == []
    # A line printed twice by the notebook is matched twice, not once.
    assert missing_log_lines(["a"], ["a", "a", "b"]) == ["a", "b"]
