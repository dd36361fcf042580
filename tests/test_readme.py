"""The README is user documentation: short, and its tables and commands match the code."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from fer3d.cli import app
from fer3d.presets import PROFILES, get_config
from fer3d.search.space import markdown_table

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()

# README column -> dotted config key of a profile override
PROFILE_COLUMNS = {
    "input size": "input.size",
    "width": "model.width",
    "epochs": "train.epochs",
    "batch": "train.batch_size",
    "lr": "train.lr",
}


def test_readme_is_at_most_350_lines():
    assert len(README.splitlines()) <= 350


def test_readme_starts_with_the_two_commands():
    block = README.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split()[:2] for line in block] == [["make", "demo"], ["make", "test"]]


def test_search_space_table_is_the_code_s():
    assert markdown_table() in README


def _profile_rows() -> dict[str, dict[str, str]]:
    lines = [line for line in README.splitlines() if line.startswith("| `") or line.startswith("| profile")]
    header = next(line for line in lines if line.startswith("| profile"))
    names = [cell.strip() for cell in header.strip("|").split("|")]
    rows = {}
    for line in lines:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == len(names) and cells[0].strip("`") in PROFILES:
            rows[cells[0].strip("`")] = dict(zip(names, cells, strict=True))
    return rows


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _field(config: dict, dotted: str):
    for key in dotted.split("."):
        config = config[key]
    return config


def test_profile_table_matches_presets():
    rows = _profile_rows()
    assert set(rows) == set(PROFILES), "every profile has a README row"
    for name, overrides in PROFILES.items():
        row = rows[name]
        config = get_config("ckplus-paper", name).to_dict()
        for column, key in PROFILE_COLUMNS.items():
            expected = _field(config, key)
            assert _as_number(row[column]) == pytest.approx(expected), (
                f"{name}: README {column}={row[column]}, code {expected}"
            )
        others = {k: v for k, v in overrides.items() if k not in PROFILE_COLUMNS.values()}
        listed = {item.strip() for item in row["other"].split(",") if item.strip()}
        shown = {f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in others.items()}
        assert listed == shown, f"{name}: README's 'other' column {listed}, presets.py {shown}"


def test_docs_links_resolve():
    for target in re.findall(r"\]\(((?:docs/)[^)#]+)", README):
        assert (ROOT / target).is_file(), f"README links to missing {target}"


def _readme_commands() -> list[list[str]]:
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split("  #", 1)[0].strip()
            if re.match(r"^(\S+=\S+ )*fer3d ", line):
                words = shlex.split(line.split("&", 1)[0])
                commands.append(words[words.index("fer3d") :])
    return commands


def test_every_documented_command_and_option_exists():
    group = typer.main.get_command(app)
    commands = _readme_commands()
    assert len(commands) > 20
    for words in commands:
        name = words[1]
        assert name in group.commands, f"README runs unknown command `fer3d {name}`"
        known = {opt for param in group.commands[name].params for opt in param.opts + param.secondary_opts}
        for word in words[2:]:
            if word.startswith("-"):
                option = word.split("=", 1)[0]
                assert option in known, f"README uses unknown option {option} of `fer3d {name}`"
