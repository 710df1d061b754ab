"""The role classifier: a small Harmonic CNN, its checkpoint format and the bundled weights.

A checkpoint is a plain dict saved with ``torch.save`` and loaded with
``weights_only=True``: ``state_dict``, ``config`` (front-end and back-end),
``roles``, ``thresholds``, ``sample_rate``, ``window`` (seconds), ``name``,
``version``, ``training`` (what it was trained on) and ``metrics``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from .choices import DEVICES
from .errors import ModelError
from .features import FrontEndConfig, front_end
from .roles import ROLES

FORMAT = "iram-role-classifier/1"
BUNDLED = "hcnn.pt"


@dataclass(frozen=True)
class ModelConfig:
    front: FrontEndConfig = field(default_factory=FrontEndConfig)
    widths: tuple[int, ...] = (24, 32, 48, 64)
    hidden: int = 128
    dropout: float = 0.3
    window: float = 3.0  # seconds of audio per example

    def to_dict(self) -> dict:
        d = asdict(self)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return cls(front=FrontEndConfig(**d["front"]), widths=tuple(d["widths"]), hidden=d["hidden"],
                   dropout=d["dropout"], window=d["window"])


class RoleCNN(nn.Module):
    """Front-end, then conv blocks (conv 3x3, batch norm, ReLU, 2x2 max-pool),
    then the frequency axis flattened per frame, max- and mean-pooled over time,
    and a two-layer head with one logit per role."""

    def __init__(self, cfg: ModelConfig, n_roles: int = len(ROLES)):
        super().__init__()
        self.cfg = cfg
        self.front = front_end(cfg.front)
        self.norm = nn.BatchNorm2d(cfg.front.channels)
        layers, c = [], cfg.front.channels
        for w in cfg.widths:
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c = w
        self.conv = nn.Sequential(*layers)
        n_freq = cfg.front.n_bands // 2 ** len(cfg.widths)
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(2 * c * n_freq, cfg.hidden), nn.ReLU(inplace=True),
                                  nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, n_roles))

    def frames(self, audio: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, features, frames/16) conv features per time step."""
        z = self.conv(self.norm(self.front(audio)))
        b, c, f, t = z.shape
        return z.reshape(b, c * f, t)

    def pool(self, z: torch.Tensor) -> torch.Tensor:
        """(batch, features, frames) -> (batch, n_roles) logits."""
        return self.head(torch.cat([z.amax(dim=2), z.mean(dim=2)], dim=1))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.pool(self.frames(audio))


@dataclass
class RoleModel:
    """A loaded classifier with what it needs to score audio."""

    net: RoleCNN
    roles: tuple[str, ...]
    thresholds: tuple[float, ...]
    name: str
    version: str
    training: dict
    metrics: dict
    path: str

    @property
    def sample_rate(self) -> int:
        return self.net.cfg.front.sample_rate

    @property
    def window(self) -> float:
        return self.net.cfg.window


def save(path: str | Path, net: RoleCNN, *, thresholds, name: str, version: str, training: dict, metrics: dict) -> None:
    from .io import atomic_path

    ckpt = {
        "format": FORMAT,
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "config": net.cfg.to_dict(),
        "roles": list(ROLES),
        "thresholds": [float(t) for t in thresholds],
        "sample_rate": net.cfg.front.sample_rate,
        "window": net.cfg.window,
        "name": name,
        "version": version,
        "training": training,
        "metrics": metrics,
    }
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)


def bundled_path() -> Path:
    return Path(str(resources.files("iram") / "weights" / BUNDLED))


def load(path: str | Path | None = None, *, device: str = "cpu") -> RoleModel:
    """Load a checkpoint (default: the one bundled in the package)."""
    path = Path(path) if path is not None else bundled_path()
    if not path.exists():
        hint = "reinstall iram" if path == bundled_path() else "check the path (--model, --init)"
        raise ModelError(f"{path}: model checkpoint not found; {hint}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ModelError(f"{path}: not a readable PyTorch checkpoint ({type(err).__name__}); is the file corrupt?") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ModelError(f"{path}: not an iram role-classifier checkpoint; train one with 'iram train'")
    if tuple(ckpt["roles"]) != ROLES:
        raise ModelError(f"{path}: checkpoint scores roles {ckpt['roles']}, iram needs {list(ROLES)}; retrain it")
    net = RoleCNN(ModelConfig.from_dict(ckpt["config"]))
    try:
        net.load_state_dict(ckpt["state_dict"])
    except RuntimeError as err:
        raise ModelError(f"{path}: weights do not fit the model they describe; the checkpoint is damaged") from err
    net.eval().to(device)
    return RoleModel(net=net, roles=ROLES, thresholds=tuple(ckpt["thresholds"]), name=ckpt["name"],
                     version=ckpt["version"], training=ckpt.get("training", {}), metrics=ckpt.get("metrics", {}),
                     path=str(path))


def pick_device(device: str = "auto") -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError("--device cuda: no CUDA GPU is available here; use --device cpu or auto")
    if device not in DEVICES:
        raise ModelError(f"--device {device}: choose {', '.join(DEVICES)}")
    return device
