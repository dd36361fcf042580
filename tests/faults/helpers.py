"""Tiny inputs for the fault tests, and the CLI run in this process or in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

FER3D = [sys.executable, "-c", "from fer3d.cli import main; main()"]
CLASSES = ("anger", "happy", "surprise")


def write_ckplus(root: Path, subjects: int = 4, frames: int = 6, size: int = 24, seed: int = 0) -> Path:
    """A CK+-layout tree: one sequence per subject and class, the class a bright square in one corner."""
    rng = np.random.default_rng(seed)
    for s in range(1, subjects + 1):
        subject = f"S{s:03d}"
        for label in range(len(CLASSES)):
            seq = f"{label + 1:03d}"
            folder = root / "cohn-kanade-images" / subject / seq
            folder.mkdir(parents=True)
            for f in range(1, frames + 1):
                img = (rng.random((size, size)) * 60).astype(np.uint8)
                grow = size * f // (2 * frames)
                y0, x0 = (label // 2) * size // 2, (label % 2) * size // 2
                img[y0 : y0 + grow, x0 : x0 + grow] = 220
                cv2.imwrite(str(folder / f"{subject}_{seq}_{f:08d}.png"), img)
            emo = root / "Emotion" / subject / seq
            emo.mkdir(parents=True)
            code = (1, 5, 7)[label]
            (emo / f"{subject}_{seq}_{frames:08d}_emotion.txt").write_text(f"   {code:.7e}\n")
    return root


def write_store(target: Path, subjects: int = 4, frames: int = 6, size: int = 24, seed: int = 0):
    """A clip cache written directly (no face work): ``subjects`` x 3 classes of gray clips."""
    from fer3d.data.cache import write_store as store_writer
    from fer3d.data.prepare import PrepareConfig

    rng = np.random.default_rng(seed)
    clips, records = [], []
    for s in range(subjects):
        for label in range(len(CLASSES)):
            clip = (rng.random((frames, size, size)) * 60).astype(np.uint8)
            y0, x0 = (label // 2) * size // 2, (label % 2) * size // 2
            for t in range(frames):
                grow = size * (t + 1) // (2 * frames)
                clip[t, y0 : y0 + grow, x0 : x0 + grow] = 220
            clips.append(clip)
            records.append(
                {"subject": f"S{s:03d}", "sequence_id": f"S{s:03d}_{label}", "label": label, "source": ""}
            )
    prep = PrepareConfig(frames=frames, size=size, color="gray", faces="none")
    raw = np.stack(clips)
    meta = {
        "dataset": "tiny",
        "root": str(target),
        "fingerprint": f"faults-{seed}-{size}-{subjects}",
        "class_names": list(CLASSES),
        "prepare": asdict(prep),
        "records": records,
        "skipped": [],
        "notes": [],
    }
    return store_writer(target, raw, raw.copy(), meta)


def tiny_args(size: int = 24, frames: int = 6) -> list[str]:
    """CLI options of the cheapest run that still trains (tiny profile, one epoch)."""
    return [
        "--profile",
        "tiny",
        "--set",
        f"input.size={size}",
        "--set",
        f"input.frames={frames}",
        "--set",
        "train.epochs=1",
        "--device",
        "cpu",
    ]


def write_model(target: Path, store) -> Path:
    """An untrained model folder for ``store`` (predict and export only need its format)."""
    import torch

    from fer3d.inference.model_dir import save_model_dir
    from fer3d.models import build_model
    from fer3d.presets import get_config

    config = get_config(
        "ckplus-paper",
        "tiny",
        {"input.size": store.size, "input.frames": len(store.clips(False)[0]), "input.clahe": False},
    )
    torch.manual_seed(0)
    model = build_model(config, store.num_classes, store.channels).eval()
    return save_model_dir(
        target, model, config, store.class_names, store.meta["prepare"], in_channels=store.channels
    )


def write_video(path: Path, n: int = 16, size: tuple[int, int] = (48, 64)) -> Path:
    """A short gray MJPG or mp4v video of a growing square."""
    h, w = size
    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if path.suffix == ".mp4" else "MJPG"))
    writer = cv2.VideoWriter(str(path), fourcc, 25.0, (w, h))
    assert writer.isOpened(), f"cannot write {path}"
    for t in range(n):
        img = np.full((h, w, 3), 30, np.uint8)
        grow = min(h, w) * ((t % 8) + 1) // 16
        img[:grow, :grow] = 220
        writer.write(img)
    writer.release()
    return path


def run_cli(*args, timeout: float = 300, env: dict | None = None, preexec_fn=None):
    """``fer3d ARGS`` in a subprocess, as a user runs it."""
    return subprocess.run(
        [*FER3D, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        preexec_fn=preexec_fn,
    )


def cli_in_process(capsys, *args) -> tuple[int, str]:
    """``fer3d ARGS`` in this process (fast; for errors raised before any work): (exit code, stderr)."""
    from fer3d.cli import app
    from fer3d.cli.errors import run_app

    argv, sys.argv = sys.argv, ["fer3d", *map(str, args)]
    try:
        run_app(app)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.argv = argv
    return code, capsys.readouterr().err


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes, to show that nothing was changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def outcome(code: int, err: str) -> str:
    """How a command ended, for the fault tally: clear_error, ok or traceback."""
    line = last_line(err)
    if "Traceback" in err or code not in (0, 2):
        return "traceback"
    if code == 2:
        return "clear_error" if line.startswith("fer3d: error: ") and line.endswith(")") else "traceback"
    return "ok"


def assert_clear_error(code: int, err: str, path_part: str | None = None) -> str:
    """Exit code 2 and a last line ``fer3d: error: <path>: <what> (<fix>)``, no traceback."""
    line = last_line(err)
    assert "Traceback" not in err, err
    assert code == 2, err
    assert line.startswith("fer3d: error: ") and line.endswith(")"), line
    if path_part is not None:
        assert path_part in line, line
    return line


def descendants(pid: int) -> set[int]:
    """Process ids of every live descendant of ``pid`` (from /proc; zombies left out)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    live = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            live.add(pid)
    return live


def kill_after(args: list, delay: float, log: Path, env: dict | None = None, wait: float = 20.0):
    """Start ``fer3d ARGS``, SIGKILL its main process after ``delay`` s (if still running), then give its
    workers ``wait`` s to exit with it. Returns (killed, workers still alive then); those are killed."""
    import os
    import signal
    import time

    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [*FER3D, *map(str, args)], stdout=out, stderr=out, env=env, start_new_session=True
        )
        try:
            proc.wait(timeout=delay)
            return False, set()
        except subprocess.TimeoutExpired:
            pass
        workers = descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + wait
        while alive(workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = alive(workers)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        return True, left
