"""Per-epoch progress of the folds in training: one bar per process training folds, under the folds bar.

Each bar shows the fold it is training, its epoch, the epoch's mean loss and the seconds since the
fold's training started, so a slow run can be told from a hung one.
"""

from __future__ import annotations

import threading
from typing import Any

from tqdm import tqdm

# no rate or elapsed time of the bar's own: one bar follows fold after fold, its message has the time
BAR_FORMAT = "{desc} |{bar:20}| epoch {n_fmt}/{total_fmt}{postfix}"

# what a fold worker sends its parent after each epoch: (fold, epoch index, epochs, loss, seconds)
EpochMessage = tuple[int, int, int, float, float]


class FoldProgress:
    """Bars keyed by the process that trains (a worker pid, or 0 for this process)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._bars: dict[int, tqdm] = {}
        self._lock = threading.Lock()  # worker messages arrive on a listener thread

    def epoch(self, trainer: int, message: EpochMessage) -> None:
        if not self.enabled:
            return
        fold, epoch, epochs, loss, seconds = message
        with self._lock:
            text = f"loss {loss:.3f}, {seconds:.0f} s into the fold"
            bar = self._bars.get(trainer)
            if bar is None:
                self._bars[trainer] = tqdm(
                    total=epochs,
                    initial=epoch + 1,
                    desc=f"fold {fold}",
                    postfix=text,
                    position=len(self._bars) + 1,
                    leave=False,
                    bar_format=BAR_FORMAT,
                )
                return
            bar.total = epochs
            bar.n = epoch + 1
            bar.set_description_str(f"fold {fold}", refresh=False)
            bar.set_postfix_str(text, refresh=True)

    def from_worker(self, pid: int, message: Any) -> None:
        """``runtime.workers.worker_pool``'s ``on_progress``."""
        self.epoch(pid, message)

    def in_process(self, fold: int):
        """``fit``'s ``on_epoch`` for a fold trained in this process."""
        return lambda epoch, epochs, loss, seconds: self.epoch(0, (fold, epoch, epochs, loss, seconds))

    def close(self) -> None:
        with self._lock:
            for bar in self._bars.values():
                bar.close()
            self._bars.clear()
