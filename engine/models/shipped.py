"""The model weights shipped inside the package: one manifest, verified by sha256 on load.

Each entry names a folder under ``engine/weights/`` holding ``config.json`` and
``model.safetensors``. ``manifest.json`` beside them records every file's sha256, so a corrupt or
altered file is refused instead of silently producing wrong audio.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from voicemend.engine.errors import CheckpointError

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
MANIFEST = WEIGHTS_DIR / "manifest.json"
STORAGES = ("float16", "int8", "float32")


@dataclass(frozen=True)
class ShippedModel:
    name: str
    folder: Path
    kind: str  # "mel_inpainter", "vocos", "hubert", ...
    sample_rate: int
    files: dict[str, str]  # file name -> sha256


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest() -> dict[str, ShippedModel]:
    if not MANIFEST.exists():
        return {}
    data = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return {
        name: ShippedModel(
            name,
            WEIGHTS_DIR / entry["folder"],
            entry["kind"],
            int(entry["sample_rate"]),
            dict(entry["files"]),
        )
        for name, entry in data.get("models", {}).items()
    }


def available(*names: str) -> bool:
    """True when every named model is listed and its files are present (not yet verified)."""
    models = manifest()
    return all(
        n in models and all((models[n].folder / f).exists() for f in models[n].files) for n in names
    )


def verified_folder(name: str) -> Path:
    """The model's folder after checking every file against its recorded sha256."""
    models = manifest()
    if name not in models:
        raise CheckpointError(
            f"no shipped model named {name!r}; the package has: {', '.join(models) or 'none'}"
        )
    model = models[name]
    for file, digest in model.files.items():
        path = model.folder / file
        if not path.exists():
            raise CheckpointError(f"shipped model file {path} is missing; reinstall voicemend")
        if sha256_of(path) != digest:
            raise CheckpointError(f"shipped model file {path} does not match its sha256; reinstall")
    return model.folder


def register(name: str, folder: Path, kind: str, sample_rate: int) -> None:
    """Add (or refresh) a model folder in the manifest, recording its files' sha256."""
    data = json.loads(MANIFEST.read_text(encoding="utf-8")) if MANIFEST.exists() else {"models": {}}
    files = {
        p.name: sha256_of(p)
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix in {".json", ".safetensors"}
    }
    data.setdefault("models", {})[name] = {
        "folder": str(folder.relative_to(WEIGHTS_DIR)),
        "kind": kind,
        "sample_rate": sample_rate,
        "files": files,
    }
    MANIFEST.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def ship(
    name: str,
    export_dir: Path,
    kind: str,
    run_dir: Path | None = None,
    sample_rate: int = 16_000,
    bench_markdown: str = "",
    storage: str = "float16",
    hardware: str = "one CPU thread",
) -> Path:
    """Copy an exported model into the package's weights folder, register it, write its card.

    ``storage`` is how float weights are written: ``float16`` (half the size; loading casts them
    back to the model's float32, and inference quality does not change measurably), ``int8``
    (large matrices as int8 with a scale per row, a quarter of the size; see
    :mod:`voicemend.engine.models.quantize`) or ``float32`` (as exported).
    """
    if storage not in STORAGES:
        raise CheckpointError(f"unknown weight storage {storage!r}; choose from {STORAGES}")
    import shutil

    from voicemend.engine.models.card import training_summary, write_card

    for needed in ("config.json", "model.safetensors"):
        if not (export_dir / needed).exists():
            raise CheckpointError(f"{export_dir / needed} is missing; export the model first")
    target = WEIGHTS_DIR / name
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(export_dir / "config.json", target / "config.json")
    copy_weights(export_dir / "model.safetensors", target / "model.safetensors", storage)
    summary = training_summary(run_dir) if run_dir is not None else {}
    write_card(target, name, kind, summary, bench_markdown, hardware=hardware, storage=storage)
    register(name, target, kind, sample_rate)
    return target


def copy_weights(source: Path, target: Path, storage: str) -> None:
    """``source`` safetensors written to ``target`` in ``storage`` (see :func:`ship`)."""
    import shutil

    if storage == "float32":
        shutil.copyfile(source, target)
    else:
        from safetensors.torch import load_file, save_file

        from voicemend.engine.models.quantize import quantize_int8

        tensors = load_file(str(source))
        metadata = None
        if storage == "int8":
            tensors, metadata = quantize_int8(tensors)
        else:
            tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
        save_file(tensors, str(target), metadata=metadata)
    target.chmod(0o644)  # readable by everyone once installed, like the rest of the package
