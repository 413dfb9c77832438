"""The README says what the code does: every command and option, and the defaults it states."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from warehouse.cli import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _leaves(group, path: tuple[str, ...] = ("moewh",)):
    # Typer bundles its own Click, so the command classes are not the click package's.
    if hasattr(group, "commands"):
        for name, cmd in group.commands.items():
            yield from _leaves(cmd, (*path, name))
    else:
        yield " ".join(path), group


def _reference_rows() -> list[str]:
    section = README.split("| Command | What it does |", 1)[1].split("\n\n", 1)[0]
    return [line.split(" | ", 1)[0] for line in section.splitlines() if line.startswith("| `moewh")]


def test_every_command_and_option_is_in_the_command_reference():
    rows = _reference_rows()
    missing = []
    for path, cmd in _leaves(typer.main.get_command(app)):
        mine = [r for r in rows if re.search(re.escape(path) + r"(?![\w-])", r)]
        if not mine:
            missing.append(path)
            continue
        for param in cmd.params:
            longs = [o for o in param.opts if o.startswith("--")]
            if param.param_type_name == "option" and longs and longs[0] != "--help":
                if not any(longs[0] in r for r in mine):
                    missing.append(f"{path} {longs[0]}")
    assert not missing, f"README command reference lacks: {missing}"


def test_the_readme_command_rows_name_real_commands():
    paths = {p for p, _ in _leaves(typer.main.get_command(app))}
    for row in _reference_rows():
        for named in re.findall(r"`(moewh(?: [a-z][a-z-]*)+)", row):
            assert any(p == named or named.startswith(p + " ") for p in paths), named


def test_stated_defaults_equal_the_code():
    from warehouse.cli.dashboard_cmds import dashboard
    from warehouse.db.store import DEFAULT_LOCK_TIMEOUT, LOCK_TIMEOUT_ENV
    from warehouse.paths import DEFAULT_DB, sql_dir

    timeout = re.search(re.escape(LOCK_TIMEOUT_ENV) + r"` seconds \(default (\d+)\)", README)
    assert timeout and float(timeout.group(1)) == DEFAULT_LOCK_TIMEOUT
    port = typer.main.get_command(app).commands["dashboard"].params
    default_port = next(p.default for p in port if p.name == "port")
    assert f"http://localhost:{default_port}" in README
    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    assert re.search(rf"^PORT\s*\?=\s*{default_port}$", makefile, re.M)
    assert f"`./{DEFAULT_DB}`" in README
    bucket = re.search(r"'file_region_bucket_bytes', '(\d+)'", (sql_dir() / "schema" / "003_analysis.sql").read_text())
    stated = re.search(r"file-map bucket size \((\d+) MiB", README)
    assert bucket and stated and int(bucket.group(1)) == int(stated.group(1)) << 20
    assert dashboard.__doc__
