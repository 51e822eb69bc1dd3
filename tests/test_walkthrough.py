"""The README's walkthrough works when pasted (issue 16: every README sample works).

The `sh` blocks of the sections named in SECTIONS run in order in one bash, as a reader pastes
them one section after the other, on an empty database, in a folder where `make run` would have
left `.dev-admin-password`, against a real server started with the settings the README's
`make run` line gives. Where an output block (`text` or `json`) follows a `sh` block, what that
block printed must match it, `...` standing for anything (ids, times, tokens). The block that
starts the server (`make run`) is the one not run: the test started it.
"""

import re
import shlex
import subprocess
from collections.abc import Iterator

import pytest

from inventory.models import Role
from tests.conftest import ROOT, LiveServer, start_server, stop_server

pytestmark = pytest.mark.live

README = ROOT / "README.md"
SECTIONS = ["Using the API", "Warehouses and reservations"]
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
START = re.compile(r"^((?:[A-Z_]+=\S+ )*)make run\b", re.M)
MARK = "@@ end of block @@"


def section(markdown: str, heading: str) -> str:
    """The text of the `## heading` section, up to the next `## ` heading."""
    start = markdown.index(f"\n## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else None]


def blocks(markdown: str) -> list[tuple[str, str | None]]:
    """Each `sh` block with the output block that follows it, if any."""
    found = [(lang, body) for lang, body in BLOCK.findall(markdown)]
    steps = []
    for index, (lang, body) in enumerate(found):
        if lang != "sh" or START.match(body.lstrip()):
            continue
        following = found[index + 1] if index + 1 < len(found) else None
        expected = following[1] if following and following[0] in ("text", "json") else None
        steps.append((body, expected))
    return steps


def server_settings(markdown: str) -> dict[str, str]:
    """The settings the README's `make run` lines put before `make run`."""
    settings = {}
    for prefix in START.findall(markdown):
        settings.update(item.split("=", 1) for item in shlex.split(prefix))
    return settings


def as_pattern(expected: str) -> re.Pattern[str]:
    parts = [re.escape(part) for part in expected.strip().split("...")]
    return re.compile(".*?".join(parts), re.S)


@pytest.fixture(scope="module")
def readme_server(migrated_database: str, tmp_path_factory) -> Iterator[LiveServer]:
    """A real server started as the README says, on a free local port."""
    log_path = tmp_path_factory.mktemp("readme-server") / "server.log"
    server = start_server(log_path, "--workers", "2", **server_settings(README.read_text()))
    yield server
    stop_server(server)


def test_every_command_of_the_readme_walkthrough_prints_what_it_shows(
    readme_server, tmp_path, make_user
):
    make_user(Role.admin, "admin", password="walkthrough-admin-pw")
    (tmp_path / ".dev-admin-password").write_text("walkthrough-admin-pw\n")
    markdown = README.read_text()
    text = "".join(section(markdown, heading) for heading in SECTIONS)
    text = text.replace("http://127.0.0.1:8000", readme_server)
    steps = blocks(text)
    script = "".join(f"{body}\necho '{MARK}'\n" for body, _ in steps)

    result = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    outputs = result.stdout.replace("\r", "").split(f"{MARK}\n")
    assert len(outputs) == len(steps) + 1, result.stdout + result.stderr
    mismatches = [
        f"\n$ {body}\nprinted:\n{output}\nthe README shows:\n{expected}"
        for (body, expected), output in zip(steps, outputs, strict=False)
        if expected is not None and not as_pattern(expected).fullmatch(output.strip())
    ]
    assert not mismatches, "".join(mismatches)
    assert result.stderr == ""


def test_the_readme_runs_at_least_one_block_of_every_walkthrough_section():
    markdown = README.read_text()

    counts = {heading: len(blocks(section(markdown, heading))) for heading in SECTIONS}

    assert all(count >= 5 for count in counts.values()), counts
    assert server_settings(markdown) == {"WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"}
