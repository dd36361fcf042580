"""No command ever deletes or writes into a folder of the user's: every command with an output folder
refuses one that is neither new, empty nor its own output, with one clear line and exit code 2."""

from __future__ import annotations

import pytest

from faults.helpers import (
    cli_in_process,
    outcome,
    snapshot,
    tiny_args,
    write_ckplus,
    write_model,
    write_store,
    write_video,
)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    store = write_store(root / "cache")
    return {
        "store": store.path,
        "model": write_model(root / "model", store),
        "video": write_video(root / "clip.avi"),
        "dataset": write_ckplus(root / "ckplus", subjects=2),
    }


COMMANDS = {
    "synth": lambda i, out: ["synth", out, "--subjects", "1"],
    "prepare": lambda i, out: ["prepare", i["dataset"], "-o", out, "--size", "24", "--workers", "1"],
    "evaluate": lambda i, out: [
        "evaluate", i["store"], "-o", out, "--k", "2", "--workers", "1", *tiny_args()
    ],
    "search": lambda i, out: [
        "search", i["store"], "--study", "s", "-o", out, "--n-trials", "1", "--jobs", "1", *tiny_args()
    ],
    "transfer": lambda i, out: [
        "transfer", "--source-cache", i["store"], "--target-cache", i["store"], "-o", out, "--k", "2",
        *tiny_args(),
    ],
    "nested": lambda i, out: ["nested", i["store"], "-o", out, "--k", "2", "--n-trials", "1", *tiny_args()],
    "evaluate --nested": lambda i, out: [
        "evaluate", i["store"], "--nested", "-o", out, "--k", "2", "--n-trials", "1", *tiny_args()
    ],
    "report": lambda i, out: ["report", i["store"], "-o", out],
    "train": lambda i, out: ["train", i["store"], "-o", out, *tiny_args()],
    "predict": lambda i, out: ["predict", i["video"], "--model", i["model"], "-o", out, "--no-video"],
    "export": lambda i, out: ["export", out, "--onnx"],
}  # fmt: skip


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_users_folder_survives(command, inputs, tmp_path, capsys, tally):
    users = tmp_path / "my documents"
    (users / "thesis").mkdir(parents=True)
    (users / "notes.txt").write_text("years of work")
    (users / "thesis" / "draft.tex").write_text("\\section{}")
    before = snapshot(users)
    code, err = cli_in_process(capsys, *COMMANDS[command](inputs, users))
    tally.add("output folder", "data_loss" if snapshot(users) != before else outcome(code, err))
    assert code == 2, err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"fer3d: error: {users}") and line.endswith(")"), line  # names the path
    assert snapshot(users) == before
    assert sorted(p.name for p in users.iterdir()) == ["notes.txt", "thesis"]


@pytest.mark.parametrize("command", ["prepare", "train", "evaluate", "synth"])
def test_a_dataset_root_as_output_survives(command, inputs, tmp_path, capsys, tally):
    import shutil

    dataset = shutil.copytree(inputs["dataset"], tmp_path / "ckplus")
    before = snapshot(dataset)
    args = COMMANDS[command](inputs, dataset)
    if command == "prepare":
        args[1] = dataset  # the dataset's own root as its cache root
    code, err = cli_in_process(capsys, *args)
    tally.add("output folder", "data_loss" if snapshot(dataset) != before else outcome(code, err))
    assert code == 2, err
    assert f"fer3d: error: {dataset}: " in err
    assert snapshot(dataset) == before


def test_a_file_as_output_is_refused(inputs, tmp_path, capsys):
    target = tmp_path / "model.txt"
    target.write_text("mine")
    code, err = cli_in_process(capsys, *COMMANDS["train"](inputs, target))
    assert code == 2 and "is not a folder" in err
    assert target.read_text() == "mine"
