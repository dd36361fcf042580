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
from fer3d.models import build_model
from fer3d.training import fit
from fer3d.training.inputs import load_clips
from fer3d.training.recipe import choose_recipe


def train_final(
    store: ClipStore,
    config: ExperimentConfig,
    out_dir: str | Path,
    *,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> Path:
    """Train ``config`` on all of ``store`` and write the model folder ``out_dir``; returns its path."""
    check_output_folder(out_dir, is_model_folder, "model folder")  # before an hour of training
    recipe = choose_recipe(config, device)
    clips = load_clips(store, config.input)
    torch.manual_seed(config.seed)
    model = build_model(config, store.num_classes, store.channels)
    start = time.perf_counter()
    result = fit(
        model,
        clips,
        store.labels,
        config,
        recipe,
        num_classes=store.num_classes,
        seed=config.seed,
        progress=progress,
    )
    model = model.to("cpu", memory_format=torch.contiguous_format).eval()
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
    prep = store.meta["prepare"]
    return save_model_dir(
        out_dir, model, config, store.class_names, prep, in_channels=store.channels, record=record
    )
