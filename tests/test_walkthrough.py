"""The walkthroughs in docs/walkthrough.md and docs/reservations.md work when pasted (issue 16
point 1).

Its `sh` blocks run in order in one bash, in a folder where `make run` would have left
`.dev-admin-password`, against a real server; where an output block (`text` or `json`) follows a
`sh` block, what that block printed must match it, `...` standing for anything (ids, times,
tokens). The block that starts the server (`make run`) is the one not run: the test started it.
"""

import re
import subprocess

import pytest

from inventory.models import Role
from tests.conftest import ROOT

pytestmark = pytest.mark.live

WALKTHROUGHS = [ROOT / "docs" / "walkthrough.md", ROOT / "docs" / "reservations.md"]
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
MARK = "@@ end of block @@"


def blocks(markdown: str) -> list[tuple[str, str | None]]:
    """Each `sh` block with the output block that follows it, if any."""
    found = [(lang, body) for lang, body in BLOCK.findall(markdown)]
    steps = []
    for index, (lang, body) in enumerate(found):
        if lang != "sh" or body.lstrip().startswith("make run"):
            continue
        following = found[index + 1] if index + 1 < len(found) else None
        expected = following[1] if following and following[0] in ("text", "json") else None
        steps.append((body, expected))
    return steps


def as_pattern(expected: str) -> re.Pattern[str]:
    parts = [re.escape(part) for part in expected.strip().split("...")]
    return re.compile(".*?".join(parts), re.S)


@pytest.mark.parametrize("walkthrough", WALKTHROUGHS, ids=lambda path: path.name)
def test_every_command_of_the_walkthrough_prints_what_it_shows(
    live_server, tmp_path, make_user, walkthrough
):
    make_user(Role.admin, "admin", password="walkthrough-admin-pw")
    (tmp_path / ".dev-admin-password").write_text("walkthrough-admin-pw\n")
    text = walkthrough.read_text().replace("http://127.0.0.1:8000", live_server)
    steps = blocks(text)
    script = "".join(f"{body}\necho '{MARK}'\n" for body, _ in steps)

    result = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    outputs = result.stdout.replace("\r", "").split(f"{MARK}\n")
    assert len(outputs) == len(steps) + 1, result.stdout + result.stderr
    for (body, expected), output in zip(steps, outputs, strict=False):
        if expected is not None:
            assert as_pattern(expected).fullmatch(output.strip()), (
                f"\n$ {body}\nprinted:\n{output}\nthe walkthrough shows:\n{expected}"
            )
    assert result.stderr == ""
