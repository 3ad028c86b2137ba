"""A HuBERT-architecture encoder: convolutional waveform feature extractor + transformer.

Module names follow Hugging Face's ``HubertModel``, so its checkpoints (config.json +
model.safetensors or pytorch_model.bin) load by name; fairseq state dicts are mapped onto the
same names. 16 kHz input, one frame per 20 ms (the conv strides multiply to 320).
"""

from __future__ import annotations

import ast
import json
import operator
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from voicemend.engine.models.checkpoint import CheckpointError, load_weights, save_state


@dataclass(frozen=True)
class HubertConfig:
    """The architecture, with Hugging Face's field names (a subset of ``HubertConfig``)."""

    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    conv_dim: tuple[int, ...] = (512,) * 7
    conv_kernel: tuple[int, ...] = (10, 3, 3, 3, 3, 2, 2)
    conv_stride: tuple[int, ...] = (5, 2, 2, 2, 2, 2, 2)
    conv_bias: bool = False
    feat_extract_norm: str = "group"  # "group" (base) or "layer" (large)
    feat_proj_layer_norm: bool = True
    do_stable_layer_norm: bool = False  # pre-LN transformer (large models)
    num_conv_pos_embeddings: int = 128
    num_conv_pos_embedding_groups: int = 16
    layer_norm_eps: float = 1e-5

    @property
    def frame_stride(self) -> int:
        stride = 1
        for s in self.conv_stride:
            stride *= s
        return stride

    def to_dict(self) -> dict[str, Any]:
        return {"model_type": "hubert", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HubertConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("conv_dim", "conv_kernel", "conv_stride"):
            if key in known:
                known[key] = tuple(int(v) for v in known[key])
        return cls(**known)

    @classmethod
    def from_fairseq(cls, model_cfg: dict[str, Any]) -> HubertConfig:
        """From the ``cfg["model"]`` dict of a fairseq HuBERT checkpoint."""
        layers = _parse_conv_layers(
            model_cfg.get("conv_feature_layers", "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2")
        )
        return cls(
            hidden_size=int(model_cfg.get("encoder_embed_dim", 768)),
            num_hidden_layers=int(model_cfg.get("encoder_layers", 12)),
            num_attention_heads=int(model_cfg.get("encoder_attention_heads", 12)),
            intermediate_size=int(model_cfg.get("encoder_ffn_embed_dim", 3072)),
            conv_dim=tuple(d for d, _, _ in layers),
            conv_kernel=tuple(k for _, k, _ in layers),
            conv_stride=tuple(s for _, _, s in layers),
            conv_bias=bool(model_cfg.get("conv_bias", False)),
            feat_extract_norm="layer"
            if model_cfg.get("extractor_mode") == "layer_norm"
            else "group",
            do_stable_layer_norm=bool(model_cfg.get("layer_norm_first", False)),
            num_conv_pos_embeddings=int(model_cfg.get("conv_pos", 128)),
            num_conv_pos_embedding_groups=int(model_cfg.get("conv_pos_groups", 16)),
        )


_BINOPS = {ast.Add: operator.add, ast.Mult: operator.mul}


def _parse_conv_layers(spec: str) -> list[tuple[int, int, int]]:
    """Evaluate fairseq's ``conv_feature_layers`` string safely (lists, tuples, ints, + and *)."""

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [ev(e) for e in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        raise CheckpointError(f"unsupported conv_feature_layers expression: {spec!r}")

    layers = ev(ast.parse(spec, mode="eval"))
    return [(int(d), int(k), int(s)) for d, k, s in layers]


class ConvLayer(nn.Module):
    def __init__(self, c: HubertConfig, i: int) -> None:
        super().__init__()
        in_dim = c.conv_dim[i - 1] if i > 0 else 1
        self.conv = nn.Conv1d(
            in_dim, c.conv_dim[i], c.conv_kernel[i], c.conv_stride[i], bias=c.conv_bias
        )
        self.norm_kind = (
            "group"
            if (c.feat_extract_norm == "group" and i == 0)
            else ("layer" if c.feat_extract_norm == "layer" else None)
        )
        if self.norm_kind == "group":
            self.layer_norm = nn.GroupNorm(c.conv_dim[i], c.conv_dim[i], affine=True)
        elif self.norm_kind == "layer":
            self.layer_norm = nn.LayerNorm(c.conv_dim[i], elementwise_affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.norm_kind == "group":
            x = self.layer_norm(x)
        elif self.norm_kind == "layer":
            x = self.layer_norm(x.transpose(-2, -1)).transpose(-2, -1)
        return F.gelu(x)


class FeatureExtractor(nn.Module):
    def __init__(self, c: HubertConfig) -> None:
        super().__init__()
        self.conv_layers = nn.ModuleList(ConvLayer(c, i) for i in range(len(c.conv_dim)))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = wave[:, None]
        for layer in self.conv_layers:
            x = layer(x)
        return x


class FeatureProjection(nn.Module):
    def __init__(self, c: HubertConfig) -> None:
        super().__init__()
        self.use_norm = c.feat_proj_layer_norm
        if self.use_norm:
            self.layer_norm = nn.LayerNorm(c.conv_dim[-1], eps=c.layer_norm_eps)
        self.projection = nn.Linear(c.conv_dim[-1], c.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection(self.layer_norm(x) if self.use_norm else x)


class PositionalConv(nn.Module):
    def __init__(self, c: HubertConfig) -> None:
        super().__init__()
        k = c.num_conv_pos_embeddings
        conv = nn.Conv1d(
            c.hidden_size, c.hidden_size, k, padding=k // 2, groups=c.num_conv_pos_embedding_groups
        )
        self.conv = weight_norm(conv, name="weight", dim=2)
        self.trim = 1 if k % 2 == 0 else 0

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = self.conv(h.transpose(1, 2))
        if self.trim:
            x = x[:, :, : -self.trim]
        return F.gelu(x).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, c: HubertConfig) -> None:
        super().__init__()
        self.heads = c.num_attention_heads
        self.k_proj = nn.Linear(c.hidden_size, c.hidden_size)
        self.v_proj = nn.Linear(c.hidden_size, c.hidden_size)
        self.q_proj = nn.Linear(c.hidden_size, c.hidden_size)
        self.out_proj = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, h: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t, d = h.shape

        def split(x: torch.Tensor) -> torch.Tensor:
            return x.view(b, t, self.heads, d // self.heads).transpose(1, 2)

        attn_mask = None if padding_mask is None else ~padding_mask[:, None, None, :]
        out = F.scaled_dot_product_attention(
            split(self.q_proj(h)), split(self.k_proj(h)), split(self.v_proj(h)), attn_mask=attn_mask
        )
        return self.out_proj(out.transpose(1, 2).reshape(b, t, d))


class FeedForward(nn.Module):
    def __init__(self, c: HubertConfig) -> None:
        super().__init__()
        self.intermediate_dense = nn.Linear(c.hidden_size, c.intermediate_size)
        self.output_dense = nn.Linear(c.intermediate_size, c.hidden_size)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.output_dense(F.gelu(self.intermediate_dense(h)))


class EncoderLayer(nn.Module):
    def __init__(self, c: HubertConfig) -> None:
        super().__init__()
        self.pre_norm = c.do_stable_layer_norm
        self.attention = Attention(c)
        self.layer_norm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.feed_forward = FeedForward(c)
        self.final_layer_norm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, h: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.pre_norm:
            h = h + self.attention(self.layer_norm(h), padding_mask)
            return h + self.feed_forward(self.final_layer_norm(h))
        h = self.layer_norm(h + self.attention(h, padding_mask))
        return self.final_layer_norm(h + self.feed_forward(h))


class Encoder(nn.Module):
    def __init__(self, c: HubertConfig) -> None:
        super().__init__()
        self.pre_norm = c.do_stable_layer_norm
        self.pos_conv_embed = PositionalConv(c)
        self.layer_norm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.layers = nn.ModuleList(EncoderLayer(c) for _ in range(c.num_hidden_layers))

    def forward(self, h: torch.Tensor, output_layer: int | None = None) -> list[torch.Tensor]:
        """Hidden states after each layer (index 0: the input to the first layer)."""
        h = h + self.pos_conv_embed(h)
        if not self.pre_norm:
            h = self.layer_norm(h)
        states = [h]
        for i, layer in enumerate(self.layers):
            h = layer(h)
            last = i == len(self.layers) - 1
            states.append(self.layer_norm(h) if (self.pre_norm and last) else h)
            if output_layer is not None and i + 1 >= output_layer:
                break
        return states


class HubertEncoder(nn.Module):
    """waveform (B, samples) at 16 kHz -> hidden states (B, frames, hidden_size)."""

    def __init__(self, config: HubertConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or HubertConfig()
        self.masked_spec_embed = nn.Parameter(torch.zeros(c.hidden_size).uniform_())
        self.feature_extractor = FeatureExtractor(c)
        self.feature_projection = FeatureProjection(c)
        self.encoder = Encoder(c)

    @classmethod
    def from_config(cls, config: HubertConfig) -> HubertEncoder:
        return cls(config)

    def n_frames(self, n_samples: int) -> int:
        n = n_samples
        for k, s in zip(self.config.conv_kernel, self.config.conv_stride, strict=True):
            n = (n - k) // s + 1
        return max(n, 0)

    def forward(
        self,
        wave: torch.Tensor,
        frame_mask: torch.Tensor | None = None,
        output_layer: int | None = None,
    ) -> torch.Tensor:
        """Last hidden state (or that of ``output_layer``); ``frame_mask`` (B, frames) marks frames
        whose features are replaced by the learned mask embedding, as in HuBERT training."""
        return self.hidden_states(wave, frame_mask, output_layer)[-1]

    def hidden_states(
        self,
        wave: torch.Tensor,
        frame_mask: torch.Tensor | None = None,
        output_layer: int | None = None,
    ) -> list[torch.Tensor]:
        features = self.feature_extractor(wave).transpose(1, 2)
        h = self.feature_projection(features)
        if frame_mask is not None:
            h = torch.where(frame_mask[..., None], self.masked_spec_embed.to(h.dtype), h)
        return self.encoder(h, output_layer)

    # --- checkpoints -------------------------------------------------------------------------
    def save_pretrained(self, folder: str | Path) -> Path:
        return save_state(folder, self.state_dict(), self.config.to_dict())

    @classmethod
    def from_pretrained(cls, path: str | Path) -> HubertEncoder:
        """A Hugging Face folder (config.json + model.safetensors or pytorch_model.bin), a
        voicemend folder, or a fairseq checkpoint file (``{"cfg": ..., "model": state_dict}``)."""
        p = Path(path)
        if p.is_dir():
            cfg = p / "config.json"
            if not cfg.exists():
                raise CheckpointError(f"{cfg} is missing")
            config = HubertConfig.from_dict(json.loads(cfg.read_text(encoding="utf-8")))
            weights = next(
                (p / n for n in ("model.safetensors", "pytorch_model.bin") if (p / n).exists()),
                None,
            )
            if weights is None:
                raise CheckpointError(f"{p} holds neither model.safetensors nor pytorch_model.bin")
            state = _strip_prefix(load_weights(weights))
        else:
            data = load_weights(p)
            if "model" not in data or "cfg" not in data:
                raise CheckpointError(f"{p} is not a fairseq checkpoint (no 'cfg' and 'model')")
            model_cfg = (
                data["cfg"].get("model", data["cfg"]) if isinstance(data["cfg"], dict) else {}
            )
            config = HubertConfig.from_fairseq(model_cfg)
            state = fairseq_to_hf(data["model"])
        model = cls(config)
        model.load_state_dict(_modern_weight_norm(state), strict=False)
        missing = [k for k in model.state_dict() if k not in _modern_weight_norm(state)]
        if missing:
            raise CheckpointError(f"checkpoint lacks {len(missing)} weights, e.g. {missing[:3]}")
        return model.eval()


def _strip_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """HubertModel saved inside a task model (``hubert.`` prefix) works too."""
    if any(k.startswith("hubert.") for k in state):
        return {k[len("hubert.") :]: v for k, v in state.items() if k.startswith("hubert.")}
    return state


def _modern_weight_norm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in state.items():
        k = k.replace(".weight_g", ".parametrizations.weight.original0")
        k = k.replace(".weight_v", ".parametrizations.weight.original1")
        out[k] = v
    return out


_FAIRSEQ_RULES = (
    (r"^feature_extractor\.conv_layers\.(\d+)\.0\.", r"feature_extractor.conv_layers.\1.conv."),
    # extractor_mode "layer_norm": Sequential(conv, dropout, Sequential(T, LayerNorm, T), GELU)
    (
        r"^feature_extractor\.conv_layers\.(\d+)\.2\.1\.",
        r"feature_extractor.conv_layers.\1.layer_norm.",
    ),
    # extractor_mode "default": Sequential(conv, dropout, GroupNorm (first layer only), GELU)
    (
        r"^feature_extractor\.conv_layers\.(\d+)\.2\.",
        r"feature_extractor.conv_layers.\1.layer_norm.",
    ),
    (r"^layer_norm\.", "feature_projection.layer_norm."),
    (r"^post_extract_proj\.", "feature_projection.projection."),
    (r"^encoder\.pos_conv\.0\.", "encoder.pos_conv_embed.conv."),
    (r"^encoder\.layers\.(\d+)\.self_attn\.", r"encoder.layers.\1.attention."),
    (r"^encoder\.layers\.(\d+)\.self_attn_layer_norm\.", r"encoder.layers.\1.layer_norm."),
    (r"^encoder\.layers\.(\d+)\.fc1\.", r"encoder.layers.\1.feed_forward.intermediate_dense."),
    (r"^encoder\.layers\.(\d+)\.fc2\.", r"encoder.layers.\1.feed_forward.output_dense."),
    (r"^mask_emb$", "masked_spec_embed"),
)
_FAIRSEQ_PRETRAINING_ONLY = ("label_embs_concat", "final_proj.")


def fairseq_to_hf(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename fairseq HuBERT weights to Hugging Face names (pre-training heads are dropped)."""
    out = {}
    for key, value in state.items():
        if key.startswith(_FAIRSEQ_PRETRAINING_ONLY):
            continue
        new = key
        for pattern, repl in _FAIRSEQ_RULES:
            new = re.sub(pattern, repl, new)
        out[new] = value
    return out
