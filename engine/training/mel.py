"""Recipe for the mel-domain transformer inpainter (voicemend's own configuration).

Each example is a crop of training speech and one gap (20-500 ms, with at least
``min_context_s`` on both sides). The hidden frames are every mel frame whose analysis window
hears the gap, the same rule inference uses, so the model never sees a frame half-computed over
silence. The loss is L1 on the hidden frames plus L1 on their frame-to-frame change, which keeps
the prediction moving like speech instead of settling on the smoothest curve.

With ``adversarial_weight`` above zero, a mel-patch critic (hinge loss) joins from
``adversarial_start_step``: L1 alone rewards the mean of every way a long gap could be filled,
which voices as a smooth buzz; the critic rewards frames that look like speech around the gap.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from voicemend.engine.errors import CheckpointError
from voicemend.engine.models.discriminators import MelPatchDiscriminator
from voicemend.engine.models.mel import LogMel
from voicemend.engine.models.mel_inpainter import heard_frames
from voicemend.engine.models.mel_transformer import (
    MelTransformer,
    MelTransformerConfig,
    sized_config,
)
from voicemend.engine.training.batches import CropBatches, batch_source
from voicemend.engine.training.data import train_pool
from voicemend.engine.training.ift import GapConfig, GapMasks
from voicemend.engine.training.losses import hinge_discriminator_loss, hinge_generator_loss
from voicemend.engine.training.run import (
    Progress,
    RecipeConfig,
    TrainingRun,
    optimise,
    run_recipe,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MelTrainConfig(RecipeConfig, GapConfig):
    batch_size: int = 16
    window_s: float = 3.0
    max_gap_ms: float = 500.0
    min_context_s: float = 0.3
    delta_weight: float = 1.0
    adversarial_weight: float = 0.0  # 0: L1 only (the shipped model's recipe)
    # The critic trains from the start; the predictor heeds it from this step.
    adversarial_start_step: int = 0
    # The critic's scores count on the gap's frames and this many on each side.
    critic_reach_frames: int = 5
    # Processes that make batches beside training, for a GPU (0: the training process makes
    # them from the run's one generator, as on a CPU); see batches.py.
    data_workers: int = 0
    # bfloat16 autocast for the predictor's forward pass on a GPU (its matrix products at twice
    # TF32's rate or more); the mel features, the loss and the weights stay float32.
    bf16: bool = False


def mel_loss(
    pred: torch.Tensor, target: torch.Tensor, hidden: torch.Tensor, delta_weight: float
) -> dict[str, torch.Tensor]:
    """L1 on hidden frames and on the change between consecutive frames that touch the gap."""
    inside = hidden.float()[:, None, :]
    l1 = ((pred - target).abs() * inside).sum() / (inside.sum() * pred.shape[1]).clamp(min=1)
    pair = (hidden[:, 1:] | hidden[:, :-1]).float()[:, None, :]
    d_pred, d_true = pred.diff(dim=-1), target.diff(dim=-1)
    l1_delta = ((d_pred - d_true).abs() * pair).sum() / (pair.sum() * pred.shape[1]).clamp(min=1)
    return {"loss": l1 + delta_weight * l1_delta, "l1_gap": l1, "l1_delta": l1_delta}


def recorded_model(folder: Path) -> MelTransformerConfig | None:
    """The model a checkpoint folder was trained as (its ``state.json``), or a shipped model
    folder is (its ``config.json``); None when the folder records neither."""
    for name, key in (("state.json", ("config", "model")), ("config.json", ())):
        path = Path(folder) / name
        if not path.exists():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            for k in key:
                data = data[k]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"cannot read the model settings in {path}: {exc}") from None
        if isinstance(data, dict) and data.get("model_type") == "mel_transformer":
            return MelTransformerConfig.from_dict(data)
    return None


def resolve_model(out_dir: Path, init_from: Path | None, size: str | None) -> MelTransformerConfig:
    """The model a run trains: the one its checkpoint (or the checkpoint it starts from) was
    trained as, so resuming needs no size; else the named ``size`` (default ``small``). A size
    that contradicts the checkpoint is an error, not a silent restart."""
    recorded = recorded_model(Path(out_dir) / "checkpoint")
    if recorded is None and init_from is not None:
        recorded = recorded_model(Path(init_from))
    if recorded is None:
        return sized_config(size or "small")
    if size is not None and sized_config(size) != recorded:
        raise CheckpointError(
            f"the checkpoint in {init_from if init_from else out_dir} holds a model of "
            f"d_model={recorded.d_model}, {recorded.num_layers} layers, not the {size!r} size; "
            "leave out --size to continue it, or train the new size in another folder"
        )
    return recorded


def train_mel(
    out_dir: Path,
    config: MelTrainConfig,
    max_hours: float | None = None,
    data_root: Path | None = None,
    model_config: MelTransformerConfig | None = None,
    init_from: Path | None = None,
    progress: Progress | None = None,
    device: torch.device | None = None,
    size: str | None = None,
) -> Path:
    """Train (or resume) and export the mel transformer to ``out_dir / "export"``. Without
    ``model_config`` the model is the run's own (see :func:`resolve_model`)."""
    device = device or torch.device("cpu")
    model_config = model_config or resolve_model(out_dir, init_from, size)
    model = MelTransformer(model_config).to(device)
    mel = LogMel(model_config.mel).to(device)
    modules: dict[str, torch.nn.Module] = {"model": model}
    critic = None
    if config.adversarial_weight > 0:
        critic = MelPatchDiscriminator(model_config.mel.n_mels).to(device)
        modules["discriminator"] = critic
    optimizers = {name: config.optimizer(module.parameters()) for name, module in modules.items()}
    opt, opt_critic = optimizers["model"], optimizers.get("discriminator")
    run = TrainingRun(
        out_dir,
        modules,
        optimizers,
        {"recipe": "mel", "train": asdict(config), "model": model_config.to_dict()},
        seed=config.seed,
    ).start(init_from)
    sr = model_config.mel.sample_rate
    pool = train_pool(data_root, sr)
    hop = model_config.mel.hop_length
    n_samples = int(config.window_s * sr) // hop * hop
    make = CropBatches(
        pool, n_samples, config.batch_size, config.augmentation(), GapMasks(sr, config)
    )
    next_batch = batch_source(
        make, run.rng, run.seed, run.step, config.data_workers, device.type == "cuda"
    )
    model.train()

    def step() -> dict[str, torch.Tensor]:
        wave, gap = (t.to(device, non_blocking=True) for t in next_batch())
        with torch.no_grad():
            target = mel(wave)
        hidden = heard_frames(gap, target.shape[-1], mel.config)
        with torch.autocast(device.type, torch.bfloat16, enabled=config.bf16):
            pred = model(target, hidden)
        pred = pred.float()
        losses = mel_loss(pred, target, hidden, config.delta_weight)
        if critic is not None and opt_critic is not None:
            near = _dilate(hidden, config.critic_reach_frames)
            real, fake = critic(target, hidden)[near], critic(pred.detach(), hidden)[near]
            loss_d = hinge_discriminator_loss([real], [fake])
            optimise(opt_critic, loss_d, critic.parameters(), max_norm=5.0)
            losses["critic"] = loss_d.detach()
            if run.step >= config.adversarial_start_step:
                adversarial = hinge_generator_loss([critic(pred, hidden)[near]])
                losses["adversarial"] = adversarial.detach()
                losses["loss"] = losses["loss"] + config.adversarial_weight * adversarial
        optimise(opt, losses["loss"], model.parameters(), max_norm=5.0)
        return {k: v.detach() for k, v in losses.items()}

    run_recipe(run, config, step, max_hours, progress)
    export = out_dir / "export"
    model.cpu().eval().save_pretrained(export)
    return export


def _dilate(mask: torch.Tensor, frames: int) -> torch.Tensor:
    """(B, F) bool, widened by ``frames`` on each side."""
    if frames <= 0:
        return mask
    kernel = torch.ones(1, 1, 2 * frames + 1, device=mask.device)
    return torch.nn.functional.conv1d(mask[:, None].float(), kernel, padding=frames)[:, 0] > 0
