"""Chain presets: versioned JSON that describes every stage; loading never runs code from it.

Stage types are looked up in explicit registries (pedalboard's built-in effects, voicemend's
stages, and ``vst3``/``au`` for external plugin files). Parameters are checked against the
plugin's own parameter names, and defaults come from the plugin itself.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pedalboard

from voicemend.engine.errors import VoicemendError
from voicemend.plugin.processors import PROCESSORS, Processor

FORMAT = "voicemend-chain"
FORMAT_VERSION = 1
_NOT_EFFECTS = {
    "Plugin",
    "Pedalboard",
    "Chain",
    "Mix",
    "PluginContainer",
    "ExternalPlugin",
    "VST3Plugin",
    "AudioUnitPlugin",
    "IIRFilter",
}
BUILTINS: dict[str, type[pedalboard.Plugin]] = {
    name: obj
    for name in dir(pedalboard)
    if not name.startswith("_")
    and name not in _NOT_EFFECTS
    and isinstance(obj := getattr(pedalboard, name), type)
    and issubclass(obj, pedalboard.Plugin)
}
EXTERNAL_TYPES = ("vst3", "au")
_SIGNATURE = re.compile(r"__init__\(self[^,)]*(?:, )?(.*)\)\s*->")


class PresetError(VoicemendError):
    """A preset is malformed, names an unknown stage or parameter, or a plugin is missing."""


@dataclass
class ExternalPlugin:
    """A VST3 / Audio Unit plugin loaded from a file, remembered with its path for presets."""

    path: str
    plugin_name: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = "vst3"

    def __post_init__(self) -> None:
        if not Path(self.path).exists():
            raise PresetError(f"plugin file {self.path} not found")
        try:
            self.plugin = pedalboard.load_plugin(self.path, plugin_name=self.plugin_name)
        except ImportError as exc:
            raise PresetError(
                f"cannot load plugin {self.path}: {str(exc).splitlines()[-1].strip()}"
            ) from None
        apply_parameters(self.plugin, self.params, f"plugin {Path(self.path).name}")


def builtin_parameters(cls: type[pedalboard.Plugin]) -> list[str]:
    """Constructor parameter names of a pedalboard built-in, read from its signature."""
    doc = (cls.__init__.__doc__ or "").splitlines()[0] if cls.__init__.__doc__ else ""
    match = _SIGNATURE.search(doc)
    if not match or not match.group(1).strip():
        return []
    return [part.split(":")[0].strip() for part in _split_args(match.group(1))]


def _split_args(text: str) -> list[str]:
    """Split on top-level commas (types such as Union[str, ...] contain commas)."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch in "[("
        depth -= ch in "])"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return parts


def apply_parameters(plugin: pedalboard.Plugin, params: dict[str, Any], what: str) -> None:
    """Set parameters by name on a plugin instance (external plugins expose them as attributes)."""
    known = set(getattr(plugin, "parameters", {}) or {})
    for name, value in params.items():
        if known and name not in known:
            raise PresetError(
                f"{what} has no parameter {name!r}; it has: {', '.join(sorted(known))}"
            )
        try:
            setattr(plugin, name, value)
        except (AttributeError, TypeError, ValueError) as exc:
            raise PresetError(f"{what}: cannot set {name}={value!r}: {exc}") from None


def build_stage(spec: dict[str, Any], index: int) -> pedalboard.Plugin | Processor | ExternalPlugin:
    """One live stage from its JSON description."""
    where = f"stage {index + 1}"
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise PresetError(f"{where}: each stage needs a string 'type'")
    kind = spec["type"]
    params = spec.get("params", {})
    if not isinstance(params, dict):
        raise PresetError(f"{where} ({kind}): 'params' must be an object")
    extra = set(spec) - {"type", "params", "path", "plugin_name"}
    if extra:
        raise PresetError(f"{where} ({kind}): unknown key(s) {', '.join(sorted(extra))}")
    if kind in EXTERNAL_TYPES:
        if not isinstance(spec.get("path"), str):
            raise PresetError(f"{where} ({kind}): needs the plugin file's 'path'")
        return ExternalPlugin(spec["path"], spec.get("plugin_name"), params, kind)
    if kind in PROCESSORS:
        try:
            return PROCESSORS[kind](**params)
        except TypeError as exc:
            raise PresetError(f"{where} ({kind}): bad parameters: {exc}") from None
        except VoicemendError as exc:
            raise PresetError(f"{where} ({kind}): {exc}") from None
    if kind in BUILTINS:
        return _build_builtin(BUILTINS[kind], params, f"{where} ({kind})")
    known = ", ".join([*sorted(BUILTINS), *PROCESSORS, *EXTERNAL_TYPES])
    raise PresetError(f"{where}: unknown stage type {kind!r}; known types: {known}")


def _build_builtin(
    cls: type[pedalboard.Plugin], params: dict[str, Any], what: str
) -> pedalboard.Plugin:
    allowed = builtin_parameters(cls)
    unknown = [p for p in params if p not in allowed]
    if unknown:
        raise PresetError(
            f"{what}: unknown parameter(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(allowed) or '(none)'}"
        )
    converted = dict(params)
    for name, value in params.items():
        _check_type(cls, name, value, what)
        enum_type = _enum_type(cls, name)
        if enum_type is not None and isinstance(value, str):
            try:
                converted[name] = enum_type.__members__[value]
            except KeyError:
                raise PresetError(
                    f"{what}: {name} must be one of {', '.join(enum_type.__members__)}"
                ) from None
    try:
        return cls(**converted)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise PresetError(f"{what}: {str(exc).splitlines()[0]}") from None


def _check_type(cls: type[pedalboard.Plugin], name: str, value: Any, what: str) -> None:
    """Numbers where the plugin's default is a number, so the error names the parameter."""
    try:
        default = getattr(cls(), name)
    except Exception:  # built-ins that need arguments: their constructor will complain
        return
    number = isinstance(default, (int, float)) and not isinstance(default, bool)
    if number and (not isinstance(value, (int, float)) or isinstance(value, bool)):
        raise PresetError(f"{what}: {name} must be a number, got {value!r}")


def _enum_type(cls: type[pedalboard.Plugin], name: str) -> type | None:
    try:
        default = getattr(cls(), name)
    except Exception:  # some built-ins need arguments; they have no enum parameters
        return None
    members = getattr(type(default), "__members__", None)
    return type(default) if members else None


def stage_to_spec(stage: Any) -> dict[str, Any]:
    """The JSON description of one live stage."""
    if isinstance(stage, Processor):
        return {"type": stage.type_name, "params": stage.params()}
    if isinstance(stage, ExternalPlugin):
        spec: dict[str, Any] = {"type": stage.kind, "path": stage.path, "params": stage.params}
        if stage.plugin_name:
            spec["plugin_name"] = stage.plugin_name
        return spec
    name = type(stage).__name__
    if name not in BUILTINS:
        raise PresetError(f"{name} cannot be saved in a preset (load external plugins from a path)")
    params = {}
    for p in builtin_parameters(BUILTINS[name]):
        value = getattr(stage, p, None)
        if isinstance(value, enum.Enum) or hasattr(type(value), "__members__"):
            value = value.name
        if value is not None and not isinstance(value, (int, float, str, bool)):
            raise PresetError(
                f"{name}.{p} holds a {type(value).__name__}, which a preset cannot store"
            )
        if value is not None:
            params[p] = value
    return {"type": name, "params": params}


def chain_to_preset(chain: Any) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": chain.name,
        "description": chain.description,
        "tail_s": chain.tail_s,
        "stages": [stage_to_spec(s) for s in chain.stages],
    }


def chain_from_preset(data: Any):
    from voicemend.plugin.chain import Chain

    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise PresetError(f'not a voicemend chain preset (expected "format": "{FORMAT}")')
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise PresetError(
            f"unsupported preset format_version {version!r}; this voicemend reads {FORMAT_VERSION}"
        )
    unknown = set(data) - {"format", "format_version", "name", "description", "tail_s", "stages"}
    if unknown:
        raise PresetError(f"unknown preset key(s): {', '.join(sorted(unknown))}")
    stages = data.get("stages")
    if not isinstance(stages, list):
        raise PresetError("a preset needs a 'stages' list")
    tail = data.get("tail_s", 0.0)
    if not isinstance(tail, (int, float)) or tail < 0:
        raise PresetError("'tail_s' must be a non-negative number")
    return Chain(
        [build_stage(s, i) for i, s in enumerate(stages)],
        tail_s=float(tail),
        name=str(data.get("name", "")),
        description=str(data.get("description", "")),
    )


def load_preset(path: str | Path):
    p = Path(path)
    if not p.exists():
        shipped = SHIPPED_DIR / f"{p.name}.json" if not p.suffix else SHIPPED_DIR / p.name
        if shipped.exists():
            p = shipped
        else:
            raise PresetError(
                f"{path}: no such preset (shipped presets: {', '.join(shipped_presets())})"
            )
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PresetError(f"cannot read preset {p}: {exc}") from None
    return chain_from_preset(data)


SHIPPED_DIR = Path(__file__).parent / "chains"


def shipped_presets() -> list[str]:
    return sorted(p.stem for p in SHIPPED_DIR.glob("*.json"))
