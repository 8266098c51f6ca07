"""The README's Settings table stays true: every setting nborch reads is there, under its
environment variable and its name in Jupyter's config (`c.NborchApp.NAME`), with its
default; and so is every other option of the Jupyter server extension."""

from __future__ import annotations

import re
from pathlib import Path

from nborch.api.jupyter_extension import NborchApp
from nborch.settings import Settings, variable_for

README = Path(__file__).resolve().parents[1] / "README.md"
# | `NBORCH_HOME` (or — for Jupyter alone) | `home` | default | meaning |
ROW = re.compile(r"^\| (?:`(NBORCH_[A-Z_]+)`|—) \| `([a-z_]+)` \| ([^|]*) \|", re.M)


def settings_table() -> dict[str, tuple[str | None, str]]:
    """Name in Jupyter's config → (environment variable or None, the default column), from
    the README's Settings section."""
    text = README.read_text()
    section = text[text.index("### Settings") :]
    section = section[: section.index("\n#", 1)]
    return {
        name: (variable or None, default.strip())
        for variable, name, default in ROW.findall(section)
    }


def test_every_setting_is_in_the_readme_with_its_variable_and_default() -> None:
    table = settings_table()
    for name, field in Settings.model_fields.items():
        assert name in table, f"{name} ({variable_for(name)}) is not in the README"
        variable, default = table[name]
        assert variable == variable_for(name), name
        if isinstance(field.default, int | float) and not isinstance(field.default, bool):
            assert float(default.strip("`")) == field.default, variable


def test_every_option_of_the_jupyter_extension_is_in_the_readme() -> None:
    table = settings_table()
    options = NborchApp.class_own_traits(config=True)
    assert sorted(table) == sorted(options)
    for name, trait in options.items():
        if name not in Settings.model_fields:  # Jupyter's alone: no variable
            assert table[name] == (None, f"`{trait.default()}`"), name
