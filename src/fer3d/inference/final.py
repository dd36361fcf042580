"""``train_final``: one model trained on every clip of a cache, saved as a model folder.

There is no held-out data and no model selection: the number of epochs and every other choice come from
the config (chosen beforehand by cross-validation or a search), so nothing is tuned on what is trained on.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from fer3d.atomic import check_output_folder
from fer3d.config import ExperimentConfig
from fer3d.data.cache import ClipStore
from fer3d.inference.model_dir import is_model_folder, save_model_dir
from fer3d.inference.warm_start import WarmStart
from fer3d.training.inputs import load_clips
from fer3d.training.members import member_seed, merge_records, train_members
from fer3d.training.recipe import choose_recipe


def train_final(
    store: ClipStore,
    config: ExperimentConfig,
    out_dir: str | Path,
    *,
    device: torch.device | str | None = None,
    progress: bool = True,
    warm_start: WarmStart | None = None,
) -> Path:
    """Train ``config`` on all of ``store`` and write the model folder ``out_dir``; returns its path.

    With ``config.test.ensemble`` N > 1 the folder holds N members (N trainings; prediction runs all of
    them). With ``warm_start`` every member starts from that model folder's weights."""
    check_output_folder(out_dir, is_model_folder, "model folder")  # before an hour of training
    if warm_start is not None:
        warm_start.check_fits(config, store.channels)
    recipe = choose_recipe(config, device)
    clips = load_clips(store, config.input)
    start = time.perf_counter()
    models, results = [], []
    for model, result in train_members(
        clips,
        store.labels,
        config,
        recipe,
        num_classes=store.num_classes,
        in_channels=store.channels,
        seed=config.seed,
        init=None if warm_start is None else warm_start.init_fn(store.class_names),
        progress=progress,
    ):
        models.append(model.to("cpu", memory_format=torch.contiguous_format).eval())
        results.append(result)
    result = merge_records(results)
    record = {
        "cache": str(store.path),
        "cache_fingerprint": store.fingerprint,
        "config_fingerprint": config.fingerprint(),
        "clips": len(store),
        "subjects": len(set(store.subjects.tolist())),
        "epoch_losses": result.epoch_losses,
        "train_seconds": round(time.perf_counter() - start, 3),
        "device": str(recipe.device),
    }
    if len(models) > 1:
        record["member_seeds"] = [member_seed(config.seed, i) for i in range(len(models))]
        record["member_epoch_losses"] = [r.epoch_losses for r in results]
    if warm_start is not None:
        record["init"] = warm_start.describe()
    prep = store.meta["prepare"]
    return save_model_dir(
        out_dir, models, config, store.class_names, prep, in_channels=store.channels, record=record
    )
