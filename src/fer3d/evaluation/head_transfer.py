"""Copying trained weights into a fresh model whose classes may differ: the backbone whole, the classifier
head row by row for the classes both sides name alike (:class:`~fer3d.evaluation.labelmap.LabelMap`).
Used by transfer (pre-trained on A, fine-tuned on B) and by ``--init MODEL_DIR``."""

from __future__ import annotations

import torch
from torch import nn

from fer3d.evaluation.labelmap import UNMAPPED, LabelMap


def head_layer(model: nn.Module) -> str:
    """Name of the last ``nn.Linear`` (the classifier head) in ``model``."""
    names = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not names:
        raise ValueError("model has no linear classifier head")
    return names[-1]


def transfer_weights(pretrained: dict[str, torch.Tensor], model: nn.Module, label_map: LabelMap) -> None:
    """Load every pre-trained weight into ``model``; head rows are copied per mapped class, others keep
    their fresh initialisation."""
    head = head_layer(model)
    own = model.state_dict()
    for key, value in pretrained.items():
        if key.startswith(head + "."):
            continue
        if key not in own or own[key].shape != value.shape:
            raise ValueError(
                f"pre-trained weight {key} {tuple(value.shape)} does not fit the target model "
                f"{tuple(own[key].shape) if key in own else '(missing)'}: source and target caches need the "
                "same colour mode, and the config the same input size and frames"
            )
        own[key] = value
    for t, s in enumerate(label_map.target_to_source):
        if s >= 0:
            own[f"{head}.weight"][t] = pretrained[f"{head}.weight"][s]
            own[f"{head}.bias"][t] = pretrained[f"{head}.bias"][s]
    model.load_state_dict(own)


def head_map(source: tuple[str, ...], target: tuple[str, ...]) -> LabelMap:
    """Classes matched by name; when none matches, a map with every target row left fresh."""
    try:
        return LabelMap.by_name(source, target)
    except ValueError:  # no class in common (or names that collide): the whole head starts fresh
        return LabelMap(source, target, (UNMAPPED,) * len(source), (UNMAPPED,) * len(target))
