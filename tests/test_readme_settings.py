"""The README's Settings table stays true: every setting nborch reads is there, under its
environment variable, with its default."""

from __future__ import annotations

import re
from pathlib import Path

from nborch.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"
ROW = re.compile(r"^\| `(NBORCH_[A-Z_]+)` \| ([^|]*) \|", re.M)


def settings_table() -> dict[str, str]:
    """Environment variable → the default column, from the README's Settings section."""
    text = README.read_text()
    section = text[text.index("### Settings") :]
    section = section[: section.index("\n#", 1)]
    return {name: default.strip() for name, default in ROW.findall(section)}


def test_every_setting_is_in_the_readme_with_its_default() -> None:
    table = settings_table()
    prefix = Settings.model_config.get("env_prefix", "")
    fields = {prefix + name.upper(): field for name, field in Settings.model_fields.items()}
    assert sorted(table) == sorted(fields)
    for variable, field in fields.items():
        if isinstance(field.default, int | float) and not isinstance(field.default, bool):
            assert float(table[variable].strip("`")) == field.default, variable
