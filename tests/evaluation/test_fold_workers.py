"""Folds trained in one-thread worker processes: same results as in-process, resumable, interruptible."""

import json

import numpy as np
import pytest
import torch

from fer3d.cli.common import resolve_workers
from fer3d.cli.errors import UserError
from fer3d.evaluation.crossval import cross_validate
from fer3d.evaluation.fold_progress import FoldProgress
from fer3d.presets import get_config
from fer3d.runtime import workers
from fer3d.training.recipe import GPU_SHARED_WORKERS, auto_workers

TINY = get_config("ckplus-paper", "tiny", {"input.size": 24, "train.epochs": 1})


def test_workers_give_the_in_process_result_and_report_each_epoch(fake_store, tmp_path, monkeypatch):
    reports: list[tuple[int, tuple]] = []  # (trainer, (fold, epoch, epochs, loss, seconds))
    monkeypatch.setattr(
        FoldProgress, "epoch", lambda self, trainer, message: reports.append((trainer, message))
    )
    config = TINY.with_overrides({"train.epochs": 2})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers train with one thread: compare like with like
    try:
        alone = cross_validate(fake_store, config, "kfold", k=3, progress=True)
    finally:
        torch.set_num_threads(threads)
    in_process, reports[:] = list(reports), []
    monkeypatch.setattr(workers, "available_cores", lambda: 2)
    parallel = cross_validate(
        fake_store, config, "kfold", k=3, out_dir=tmp_path / "run", progress=True, workers=2
    )
    # every fold's every epoch reached the parent: from this process, then from the two workers
    for got, trainers in ((in_process, {0}), (reports, None)):
        assert sorted((m[0], m[1]) for _, m in got) == [(f, e) for f in range(3) for e in range(2)]
        assert trainers is None or {t for t, _ in got} == trainers
        for _, (fold, epoch, epochs, loss, seconds) in got:
            assert epochs == 2 and seconds > 0
            assert loss == pytest.approx(alone.folds[fold].epoch_losses[epoch], rel=1e-4)
    assert len({t for t, _ in reports}) == 2 and 0 not in {t for t, _ in reports}  # two worker pids
    assert [f.fold for f in parallel.folds] == [0, 1, 2]
    for a, b in zip(alone.folds, parallel.folds, strict=True):
        assert a.test_indices == b.test_indices
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-4)
        np.testing.assert_allclose(a.epoch_losses, b.epoch_losses, rtol=1e-4)
    assert len(list((tmp_path / "run" / "folds").glob("fold_*.json"))) == 3


def test_workers_reuse_finished_folds(fake_store, tmp_path):
    out = tmp_path / "run"
    cross_validate(fake_store, TINY, "kfold", k=3, out_dir=out, progress=False)
    marked = out / "folds" / "fold_000.json"
    saved = json.loads(marked.read_text())
    saved["train_seconds"] = -1.0  # a marker training again would overwrite
    marked.write_text(json.dumps(saved))
    (out / "folds" / "fold_001.json").unlink()
    (out / "folds" / "fold_002.json").unlink()
    result = cross_validate(fake_store, TINY, "kfold", k=3, out_dir=out, progress=False, workers=2)
    assert result.folds[0].train_seconds == -1.0
    assert all(f.train_seconds > 0 for f in result.folds[1:])
    assert sorted(result.tested.tolist()) == list(range(len(fake_store)))


def test_a_stop_in_on_fold_keeps_the_folds_already_training(fake_store, tmp_path):
    out = tmp_path / "run"

    def stop(result, finished, n_folds):
        raise RuntimeError("pruned")

    with pytest.raises(RuntimeError, match="pruned"):
        cross_validate(fake_store, TINY, "loso", out_dir=out, progress=False, on_fold=stop, workers=2)
    kept = len(list((out / "folds").glob("fold_*.json")))
    assert kept >= 2  # the fold that stopped the run and the one training beside it
    result = cross_validate(fake_store, TINY, "loso", out_dir=out, progress=False, workers=2)
    assert len(result.folds) == len(set(fake_store.subjects))


def test_auto_workers_only_for_small_models(monkeypatch):
    monkeypatch.setattr(workers, "available_cores", lambda: 4)
    cpu = get_config("ckplus-paper", "cpu")
    assert auto_workers(cpu, "cpu", tasks=10) == 4
    assert auto_workers(cpu, "cpu", tasks=3) == 3
    assert auto_workers(get_config("ckplus-paper", "full"), "cpu", tasks=10) == 1
    assert auto_workers(cpu.with_overrides({"input.size": 64, "model.width": 0.25}), "cpu", tasks=10) == 4
    assert auto_workers(cpu.with_overrides({"input.size": 80, "model.width": 0.25}), "cpu", tasks=10) == 1
    # on a GPU, a few small trainings share the device; a big one has it alone
    assert auto_workers(cpu, "cuda", tasks=10) == GPU_SHARED_WORKERS
    assert auto_workers(cpu, "cuda", tasks=2) == 2
    assert auto_workers(get_config("ckplus-paper", "full"), "cuda", tasks=10) == 1


def test_workers_option_is_checked():
    cpu = get_config("ckplus-paper", "cpu")
    assert resolve_workers("3", cpu, "cpu", 10) == 3
    assert resolve_workers("auto", get_config("ckplus-paper", "full"), "cpu", 10) == 1
    for bad in ("0", "-1", "two"):
        with pytest.raises(UserError, match="--workers must be"):
            resolve_workers(bad, cpu, "cpu", 10)
    with pytest.raises(UserError, match="--jobs must be"):
        resolve_workers("many", cpu, "cpu", 10, option="--jobs")
