"""Generic folder reader: ``ROOT/<label>/<sequence>`` where a sequence is a folder of frame images or one
video file (mp4, avi, mov, mkv).

The subject of each sequence comes either from ``subject_regex``, searched in the sequence's folder or file
name (the named group ``subject`` if there is one, else the first group, else the whole match), or from a
manifest CSV with the header ``path,label,subject`` (paths relative to ROOT). With a manifest, only the
listed sequences are read and the label is the manifest's. Class names are the sorted label names.
Files and folders that fit neither form are reported as bad input (hidden dot-files are ignored).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from fer3d.data.errors import BadInputError, DatasetLayoutError, SkipLog
from fer3d.data.oulu import frame_files, natural_key
from fer3d.data.records import Dataset, SequenceRecord
from fer3d.data.registry import register_reader
from fer3d.data.video import VIDEO_SUFFIXES

LAYOUT_HINT = "expected ROOT/<label>/<folder of frames or video file>"


class FolderReader:
    """``ROOT/<label>/<sequence>`` with the subject from a name pattern or a manifest."""

    name = "folder"

    def __init__(self, subject_regex: str | None = None, manifest: str | Path | None = None) -> None:
        if subject_regex is None and manifest is None:
            raise BadInputError(
                "folder format",
                "the subject of each sequence is unknown",
                "give --subject-regex (e.g. '^(S\\d+)_') or --manifest FILE.csv (path,label,subject)",
            )
        if subject_regex is not None and manifest is not None:
            raise BadInputError("folder format", "give --subject-regex or --manifest, not both")
        self.manifest = Path(manifest) if manifest is not None else None
        self.subject_regex: re.Pattern[str] | None = None
        if subject_regex is not None:
            try:
                self.subject_regex = re.compile(subject_regex)
            except re.error as err:
                raise BadInputError(
                    subject_regex,
                    f"invalid --subject-regex: {err}",
                    r"give a Python regex, e.g. '^(?P<subject>S\d+)_'",
                ) from None

    def read(self, root: Path, skip_log: SkipLog) -> Dataset:
        root = Path(root)
        if not root.is_dir():
            raise DatasetLayoutError(root, "not a folder dataset: no such folder", LAYOUT_HINT)
        if self.manifest is not None:
            entries = self._manifest_entries(root, skip_log)
        else:
            entries = self._tree_entries(root, skip_log)
        class_names = tuple(sorted({label for _, label, _ in entries}))
        index = {c: i for i, c in enumerate(class_names)}
        records: list[SequenceRecord] = []
        for path, label, subject in entries:
            try:
                records.append(_record(root, path, index[label], subject))
            except BadInputError as err:
                skip_log.handle(err)
        if not records:
            raise DatasetLayoutError(root, "no usable sequence found", LAYOUT_HINT)
        used = {r.label for r in records}
        empty = [c for i, c in enumerate(class_names) if i not in used]
        notes = [f"class(es) with no usable sequence: {', '.join(empty)}"] if empty else []
        return Dataset(self.name, root, class_names, records, skip_log, notes)

    def _tree_entries(self, root: Path, skip_log: SkipLog) -> list[tuple[Path, str, str]]:
        entries = []
        label_dirs = [p for p in sorted(root.iterdir()) if not p.name.startswith(".")]
        if not any(p.is_dir() for p in label_dirs):
            raise DatasetLayoutError(root, "not a folder dataset: no label folders", LAYOUT_HINT)
        for label_dir in label_dirs:
            if not label_dir.is_dir():
                skip_log.handle(BadInputError(label_dir, "unexpected file at the top level", LAYOUT_HINT))
                continue
            for seq in sorted(label_dir.iterdir(), key=natural_key):
                if seq.name.startswith("."):
                    continue
                try:
                    entries.append((seq, label_dir.name, self._subject(seq)))
                except BadInputError as err:
                    skip_log.handle(err)
        return entries

    def _subject(self, seq: Path) -> str:
        assert self.subject_regex is not None
        match = self.subject_regex.search(seq.name)
        if match is None:
            raise BadInputError(
                seq, f"--subject-regex '{self.subject_regex.pattern}' does not match its name"
            )
        if "subject" in self.subject_regex.groupindex:
            subject = match.group("subject")
        elif self.subject_regex.groups:
            subject = match.group(1)
        else:
            subject = match.group(0)
        if not subject:
            raise BadInputError(
                seq, f"--subject-regex '{self.subject_regex.pattern}' captures an empty subject"
            )
        return subject

    def _manifest_entries(self, root: Path, skip_log: SkipLog) -> list[tuple[Path, str, str]]:
        manifest = (
            self.manifest if self.manifest.is_absolute() or self.manifest.exists() else root / self.manifest
        )
        assert manifest is not None
        if not manifest.is_file():
            raise BadInputError(
                manifest,
                "manifest file does not exist",
                "give --manifest a CSV of path,label,subject, absolute or relative to ROOT",
            )
        try:
            with manifest.open(newline="", encoding="utf-8-sig") as handle:
                rows = list(csv.reader(handle))
        except UnicodeDecodeError as err:
            raise BadInputError(
                manifest, f"manifest is not UTF-8 text (byte {err.start})", "save it as a UTF-8 CSV file"
            ) from None
        except csv.Error as err:
            raise BadInputError(manifest, f"manifest is not valid CSV: {err}", "fix the file") from None
        header = [h.strip().lower() for h in rows[0]] if rows else []
        if header[:3] != ["path", "label", "subject"]:
            raise BadInputError(
                manifest,
                f"manifest header is {rows[0] if rows else 'missing'}",
                "it must be path,label,subject",
            )
        entries = []
        for line, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) < 3 or not all(cell.strip() for cell in row[:3]):
                skip_log.handle(
                    BadInputError(
                        f"{manifest}:{line}", f"malformed manifest row {row}", "expected path,label,subject"
                    )
                )
                continue
            entries.append((root / row[0].strip(), row[1].strip(), row[2].strip()))
        if not entries:
            raise BadInputError(manifest, "manifest lists no sequence", "add rows path,label,subject")
        return entries


def _record(root: Path, path: Path, label: int, subject: str) -> SequenceRecord:
    sequence_id = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    if path.is_dir():
        return SequenceRecord(subject=subject, sequence_id=sequence_id, label=label, frames=frame_files(path))
    if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
        if path.stat().st_size == 0:
            raise BadInputError(path, "video file is empty (0 bytes)", "re-copy the file or use --skip-bad")
        return SequenceRecord(subject=subject, sequence_id=sequence_id, label=label, video=path)
    if not path.exists():
        raise BadInputError(
            path, "listed sequence does not exist", "fix its path in the manifest (relative to ROOT)"
        )
    raise BadInputError(
        path,
        "unexpected file: neither a folder of frames nor a video",
        f"videos must end in {', '.join(VIDEO_SUFFIXES)}",
    )


register_reader("folder", FolderReader)
