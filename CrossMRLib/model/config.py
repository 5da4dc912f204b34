"""Network hyper-parameters, stored inside every checkpoint so weights always rebuild the right network."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

NUM_ORGANS = 4  # labels 1..4 (liver, right kidney, left kidney, spleen)


@dataclass
class ModelConfig:
    """Sizes of the network; `input_size` is the square side every slice is resized to."""

    input_size: int = 128
    embed_dim: int = 32  # FocalNet stem width (stages: x1, x2, x4, x8)
    depths: tuple[int, ...] = (1, 1, 2, 1)
    hidden_dim: int = 64  # FPN / decoder width
    num_heads: int = 4
    num_queries: int = 11  # object queries per organ (the paper's N)
    num_points: int = 12  # scribble points sampled per organ (plus one mean-pooled token)
    decoder_rounds: int = 1  # passes over the three decoder levels (stride 32, 16, 8)
    num_organs: int = NUM_ORGANS
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["depths"] = list(self.depths)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "depths" in known:
            known["depths"] = tuple(known["depths"])
        return cls(**known)
