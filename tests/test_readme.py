"""The README names what the code has (issue 16: README and behaviour agree): one row of the
configuration table per setting, and every module in the project layout."""

import dataclasses
import re

from inventory.config import Settings
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def readme_section(heading: str) -> str:
    start = README.index(f"\n## {heading}\n")
    return README[start : README.index("\n## ", start + 1)]


def test_the_configuration_table_has_one_row_per_setting_with_its_default():
    rows = re.findall(r"^\| `([A-Z_]+)` \| (.+?) \|", readme_section("Configuration"), re.M)
    documented = [name for name, _ in rows]
    defaults = dict(rows)

    settings = [field.name.upper() for field in dataclasses.fields(Settings)]
    assert sorted(set(settings) - set(documented)) == []
    assert len(documented) == len(set(documented))
    for field in dataclasses.fields(Settings):
        if isinstance(field.default, int | float) and not isinstance(field.default, bool):
            shown = int(field.default) if field.default == int(field.default) else field.default
            assert defaults[field.name.upper()] == f"`{shown}`", field.name


def test_the_project_layout_names_every_module():
    layout = readme_section("Project layout")
    modules = sorted(path.name for path in (ROOT / "inventory").glob("[!_]*.py"))
    routes = sorted(path.stem for path in (ROOT / "inventory" / "routes").glob("*.py"))

    assert [name for name in modules if f"  {name} " not in layout] == []
    assert [name for name in routes if name != "__init__" and name not in layout] == []
