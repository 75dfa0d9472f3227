"""Networks an agent can be built with, registered by type.

Every factory receives the shapes it must map between (``in_shape``, ``out_shape``), the
agent's ``role`` and, for generators, the data's value range ``out_range``; the config sets
everything else. A generator's network maps ``(B, latent_dim)`` to ``(B, *data_shape)``; a
discriminator's maps ``(B, *data_shape)`` to ``(B, 1)`` logits.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Annotated, Literal

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from arena.core.errors import ConfigError
from arena.core.registry import Ge, Gt, Lt, Registry, check_kwargs, load_entry_point

__all__ = ["MLP", "MaxoutMLP", "Maxout", "DCGANGenerator", "DCGANDiscriminator", "networks", "init_weights"]

Shape = tuple[int, ...]
Activation = Literal["relu", "leaky_relu", "tanh", "elu", "gelu", "silu", "sigmoid"]
OutAct = Literal["auto", "none", "sigmoid", "tanh"]
Init = Literal["default", "normal", "uniform", "xavier", "orthogonal"]
Prob = Annotated[float, Ge(0), Lt(1)]


def _activation(name: str, slope: float = 0.2) -> nn.Module:
    if name == "leaky_relu":
        return nn.LeakyReLU(slope)
    return {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU, "sigmoid": nn.Sigmoid}[name]()


def _output_activation(out_act: str, role: str, out_range: tuple[float, float] | None) -> nn.Module:
    """The last activation: logits for discriminators; for generators the data's range decides 'auto'."""
    if role == "discriminator":
        if out_act not in ("auto", "none"):
            raise ConfigError(f"discriminators output logits; got out_act {out_act!r} (use 'none')", ("out_act",))
        return nn.Identity()
    if out_act == "auto":
        if out_range == (0.0, 1.0):
            out_act = "sigmoid"
        elif out_range == (-1.0, 1.0):
            out_act = "tanh"
        else:
            out_act = "none"
    if out_act == "sigmoid":
        return nn.Sigmoid()
    if out_act == "tanh":
        return nn.Tanh()
    return nn.Identity()


def init_weights(module: nn.Module, scheme: str, std: float = 0.02, irange: float = 0.05) -> None:
    """Re-initialise linear and convolution layers in place (``default`` keeps PyTorch's).

    ``normal``: weights N(0, std), biases 0 (DCGAN, PacGAN). ``uniform``: weights U(-irange, irange),
    biases 0 (pylearn2's ``irange``, used by Goodfellow et al., 2014).
    """
    if scheme == "default":
        return
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            weight = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            if scheme == "normal":
                nn.init.normal_(weight, 0.0, std)
            elif scheme == "uniform":
                nn.init.uniform_(weight, -irange, irange)
            elif scheme == "xavier":
                nn.init.xavier_uniform_(weight)
            elif scheme == "orthogonal":
                nn.init.orthogonal_(weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and scheme == "normal":
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


def _flat(shape: Sequence[int]) -> int:
    return int(math.prod(shape))


class MLP(nn.Module):
    """A fully connected network.

    Args:
        hidden: sizes of the hidden layers.
        act: activation after every hidden layer.
        act_slope: negative slope of ``leaky_relu``.
        norm: ``batch`` or ``layer`` normalisation after every hidden linear layer, or
            ``spectral`` normalisation of every linear layer's weight.
        norm_eps: epsilon of batch/layer norm (the PyTorch-GAN reference uses 0.8).
        norm_first_layer: whether the first hidden layer is normalised too.
        dropout: dropout probability after every hidden activation.
        input_dropout: dropout probability on the input.
        out_act: ``auto`` (sigmoid for [0, 1] data, tanh for [-1, 1], none otherwise), ``none``,
            ``sigmoid`` or ``tanh``. Discriminators always output logits.
        init: ``default`` (PyTorch's), ``normal`` (N(0, init_std), as in PacGAN), ``uniform``
            (U(-init_range, init_range), as in Goodfellow et al.), ``xavier``, ``orthogonal``.
        init_std: standard deviation of the ``normal`` init.
        init_range: half-width of the ``uniform`` init.
    """

    def __init__(
        self,
        in_shape: Shape,
        out_shape: Shape,
        role: str,
        out_range: tuple[float, float] | None = None,
        hidden: list[Annotated[int, Gt(0)]] = (256, 256),  # type: ignore[assignment]
        act: Activation = "relu",
        act_slope: Annotated[float, Ge(0)] = 0.2,
        norm: Literal["none", "batch", "layer", "spectral"] = "none",
        norm_eps: Annotated[float, Gt(0)] = 1e-5,
        norm_first_layer: bool = True,
        dropout: Prob = 0.0,
        input_dropout: Prob = 0.0,
        out_act: OutAct = "auto",
        init: Init = "default",
        init_std: Annotated[float, Gt(0)] = 0.02,
        init_range: Annotated[float, Gt(0)] = 0.05,
    ) -> None:
        super().__init__()
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        sn = spectral_norm if norm == "spectral" else (lambda m: m)
        layers: list[nn.Module] = [nn.Flatten()]
        if input_dropout:
            layers.append(nn.Dropout(input_dropout))
        width = _flat(in_shape)
        for i, h in enumerate(hidden):
            layers.append(sn(nn.Linear(width, h)))
            if norm in ("batch", "layer") and (i > 0 or norm_first_layer):
                layers.append(nn.BatchNorm1d(h, eps=norm_eps) if norm == "batch" else nn.LayerNorm(h, eps=norm_eps))
            layers.append(_activation(act, act_slope))
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(sn(nn.Linear(width, _flat(out_shape))))
        layers.append(_output_activation(out_act, role, out_range))
        self.body = nn.Sequential(*layers)
        init_weights(self, init, init_std, init_range)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).view(x.shape[0], *self.out_shape)


class Maxout(nn.Module):
    """A linear layer to ``units * pieces`` outputs followed by a max over each unit's pieces."""

    def __init__(self, in_features: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(x.shape[0], self.units, self.pieces).amax(-1)


class MaxoutMLP(nn.Module):
    """Maxout layers, as in the discriminators of Goodfellow et al. (2014) and PacGAN.

    Args:
        units: units of each maxout layer.
        pieces: linear pieces per unit.
        dropout: dropout probability before each layer: one number (applied before every
            layer except the first), or a list with one entry per maxout layer plus one for the
            output layer (the paper: ``[0.2, 0.5, 0.5]``, i.e. keep 0.8 on the input, 0.5 on hidden).
        out_act: as for ``mlp``.
        init: as for ``mlp``.
        init_std: as for ``mlp``.
        init_range: as for ``mlp``.
    """

    def __init__(
        self,
        in_shape: Shape,
        out_shape: Shape,
        role: str,
        out_range: tuple[float, float] | None = None,
        units: list[Annotated[int, Gt(0)]] = (240, 240),  # type: ignore[assignment]
        pieces: Annotated[int, Gt(0)] = 5,
        dropout: Prob | list[Prob] = 0.0,
        out_act: OutAct = "auto",
        init: Init = "default",
        init_std: Annotated[float, Gt(0)] = 0.02,
        init_range: Annotated[float, Gt(0)] = 0.05,
    ) -> None:
        super().__init__()
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        if isinstance(dropout, (int, float)):
            rates = [0.0] + [float(dropout)] * len(units)
        else:
            rates = list(dropout)
            if len(rates) != len(units) + 1:
                raise ConfigError(
                    f"expected {len(units) + 1} dropout rates (one per maxout layer plus the output layer), got {len(rates)}",
                    ("dropout",),
                )
        layers: list[nn.Module] = [nn.Flatten()]
        width = _flat(in_shape)
        for rate, u in zip(rates, units):
            if rate:
                layers.append(nn.Dropout(rate))
            layers.append(Maxout(width, u, pieces))
            width = u
        if rates[-1]:
            layers.append(nn.Dropout(rates[-1]))
        layers.append(nn.Linear(width, _flat(out_shape)))
        layers.append(_output_activation(out_act, role, out_range))
        self.body = nn.Sequential(*layers)
        init_weights(self, init, init_std, init_range)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).view(x.shape[0], *self.out_shape)


def _image_shape(shape: Shape, key: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ConfigError(f"dcgan needs images of shape (channels, height, width); the data has shape {tuple(shape)}", (key,))
    return shape  # type: ignore[return-value]


def _upsampled_sizes(side: int, steps: int, kernel: int) -> list[int]:
    """The side before each of ``steps`` stride-2 transposed convolutions and after the last:
    halved (rounded up) going back from ``side``. A 4-wide kernel doubles exactly, so ``side``
    must then be divisible by ``2**steps``; a 3-wide one reaches any side (output padding 0 or 1)."""
    sizes = [side]
    for _ in range(steps):
        sizes.append(-(-sizes[-1] // 2))
    sizes.reverse()
    if kernel == 4 and any(b != 2 * a for a, b in zip(sizes, sizes[1:])):
        raise ConfigError(f"dcgan with kernel 4 doubles the side {steps} times, so the image side must be divisible by "
                          f"{2 ** steps}; got {side} (kernel 3 reaches any side)", ("kernel",))
    return sizes


class DCGANGenerator(nn.Module):
    """Latent -> linear projection -> stride-2 transposed convolutions -> image (Radford et al.,
    2016), BatchNorm and ReLU after the projection and every hidden layer.

    Args:
        latent_dim: the latent vector's size.
        out_shape: the image ``(C, H, W)``.
        widths: channels of the projection and of every hidden transposed convolution, widest first.
        norm: ``batch`` or ``none``.
        out: the output activation.
        kernel: 4 (DCGAN: sides divisible by 2 per layer) or 3 (PacGAN's 4 -> 7 -> 14 -> 28).
        out_conv: end with a stride-1 convolution to the image's channels (PacGAN) instead of a
            last transposed convolution.
        bias_before_norm: give a layer that BatchNorm follows a bias (which the normalisation
            cancels; Adam turns its gradient, zero up to rounding, into steps of the learning rate).
    """

    def __init__(self, latent_dim: int, out_shape: Shape, widths: Sequence[int], norm: str, out: nn.Module,
                 kernel: int = 4, out_conv: bool = False, bias_before_norm: bool = True) -> None:
        super().__init__()
        c, h, w = _image_shape(out_shape, "type")
        self.out_shape = tuple(out_shape)
        steps = len(widths) - 1 if out_conv else len(widths)
        hs, ws = _upsampled_sizes(h, steps, kernel), _upsampled_sizes(w, steps, kernel)
        bn2 = (lambda n: nn.BatchNorm2d(n)) if norm == "batch" else (lambda n: nn.Identity())
        bn1 = (lambda n: nn.BatchNorm1d(n)) if norm == "batch" else (lambda n: nn.Identity())
        bias = bias_before_norm or norm != "batch"
        layers: list[nn.Module] = [
            nn.Linear(latent_dim, widths[0] * hs[0] * ws[0], bias=bias),
            bn1(widths[0] * hs[0] * ws[0]),
            nn.ReLU(),
            nn.Unflatten(1, (widths[0], hs[0], ws[0])),
        ]
        channels = [*widths, c] if not out_conv else list(widths)
        for i in range(steps):
            pad = (hs[i + 1] - (2 * hs[i] - 1), ws[i + 1] - (2 * ws[i] - 1)) if kernel == 3 else (0, 0)
            normed = i < len(channels) - 2 or out_conv
            layers.append(nn.ConvTranspose2d(channels[i], channels[i + 1], kernel, 2, 1, output_padding=pad,
                                             bias=bias or not normed))
            if normed:
                layers += [bn2(channels[i + 1]), nn.ReLU()]
        if out_conv:
            layers.append(nn.Conv2d(widths[-1], c, 3, 1, 1))
        layers.append(out)
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(z)


class DCGANDiscriminator(nn.Module):
    """Image -> stride-2 convolutions (LeakyReLU; BatchNorm after every one but the first, or
    every one) -> linear -> one logit (k + 1 for MAD-GAN).

    Args:
        in_shape: the image ``(C, H, W)`` (``C`` times the pack size for a packed discriminator).
        widths: channels of every convolution.
        norm: ``batch``, ``spectral`` or ``none``.
        slope: the LeakyReLU's negative slope.
        kernel: 4 (DCGAN) or 3 (PacGAN).
        norm_first: BatchNorm after the first convolution too (PacGAN).
        bias_before_norm: as for :class:`DCGANGenerator`.
        outputs: logits per input (MAD-GAN's k + 1; one otherwise).
    """

    def __init__(self, in_shape: Shape, widths: Sequence[int], norm: str, slope: float, kernel: int = 4,
                 norm_first: bool = False, bias_before_norm: bool = True, outputs: int = 1) -> None:
        super().__init__()
        c, h, w = _image_shape(in_shape, "type")
        sn = spectral_norm if norm == "spectral" else (lambda m: m)
        layers: list[nn.Module] = []
        prev = c
        for i, width in enumerate(widths):
            normed = (i > 0 or norm_first) and norm == "batch"
            layers.append(sn(nn.Conv2d(prev, width, kernel, 2, 1, bias=bias_before_norm or not normed)))
            if i > 0 or norm_first:
                layers.append(nn.BatchNorm2d(width) if norm == "batch" else nn.Identity())
            layers.append(nn.LeakyReLU(slope))
            h, w = (h + 2 - kernel) // 2 + 1, (w + 2 - kernel) // 2 + 1
            if h < 1 or w < 1:
                raise ConfigError(f"dcgan: {len(widths)} stride-2 convolutions leave nothing of images of shape "
                                  f"{tuple(in_shape)}", ("widths",))
            prev = width
        layers += [nn.Flatten(), sn(nn.Linear(prev * h * w, outputs))]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def dcgan(
    in_shape: Shape,
    out_shape: Shape,
    role: str,
    out_range: tuple[float, float] | None = None,
    width: Annotated[int, Gt(0)] = 64,
    widths: list[Annotated[int, Gt(0)]] | None = None,
    kernel: Literal[3, 4] = 4,
    out_conv: bool = False,
    norm_first: bool = False,
    norm: Literal["batch", "spectral", "none"] = "batch",
    act_slope: Annotated[float, Ge(0)] = 0.2,
    out_act: OutAct = "auto",
    init: Init = "normal",
    init_std: Annotated[float, Gt(0)] = 0.02,
    init_range: Annotated[float, Gt(0)] = 0.05,
) -> nn.Module:
    """Convolutional generator or discriminator for images.

    Args:
        width: without ``widths``: DCGAN's two layers, ``[2 * width, width]`` for a generator and
            ``[width, 2 * width]`` for a discriminator (kernel 4, sides divisible by 4).
        widths: the channels of every layer: a generator's projection and hidden transposed
            convolutions, widest first (PacGAN: ``[64, 32, 16, 8]``); a discriminator's
            convolutions (PacGAN's D = 1/4 G: ``[2, 4, 8]``). A layer that BatchNorm follows then
            has no bias (the normalisation cancels it); ``width`` keeps DCGAN's two layers as
            they were, biases included.
        kernel: 4 (DCGAN) or 3 (PacGAN: reaches 28 x 28 as 4 -> 7 -> 14 -> 28).
        out_conv: a generator ends with a 3 x 3 stride-1 convolution to the image's channels (PacGAN).
        norm_first: a discriminator has BatchNorm after its first convolution too (PacGAN).
        norm: ``batch`` norm (generator and discriminator), ``spectral`` (discriminator only) or ``none``.
        act_slope: negative slope of the discriminator's leaky ReLUs (PacGAN: 0.3).
        out_act: as for ``mlp``.
        init: as for ``mlp``; DCGAN's N(0, 0.02) by default.
        init_std: standard deviation of the ``normal`` init.
        init_range: half-width of the ``uniform`` init.
    """
    if role == "generator":
        if norm == "spectral":
            raise ConfigError("spectral norm is for discriminators; use 'batch' or 'none'", ("norm",))
        if len(in_shape) != 1:
            raise ConfigError(f"a dcgan generator takes a flat latent vector, got shape {tuple(in_shape)}", ("type",))
        if norm_first:
            raise ConfigError("norm_first is a discriminator's option", ("norm_first",))
        if out_conv and widths is not None and len(widths) < 2:
            raise ConfigError("with out_conv a generator needs at least two widths (the projection and a layer)", ("widths",))
        net: nn.Module = DCGANGenerator(in_shape[0], out_shape, widths or [2 * width, width], norm,
                                        _output_activation(out_act, role, out_range), kernel, out_conv, widths is None)
    else:
        _output_activation(out_act, role, out_range)
        if out_conv:
            raise ConfigError("out_conv is a generator's option", ("out_conv",))
        net = DCGANDiscriminator(in_shape, widths or [width, 2 * width], norm, act_slope, kernel, norm_first, widths is None,
                                 _flat(out_shape))
    init_weights(net, init, init_std, init_range)
    return net


_INJECTED = ("in_shape", "out_shape", "role", "out_range")


def custom_network(spec: str, path: tuple = ()) -> Callable[..., nn.Module]:
    """Resolve ``module:Class`` to a factory, refusing anything that is not an ``nn.Module`` subclass.

    The class is called with the config's other keys, plus any of ``in_shape``, ``out_shape``,
    ``role`` and ``out_range`` that its constructor accepts.
    """
    try:
        obj = load_entry_point(spec)
    except ConfigError as exc:
        raise ConfigError(exc.message, path) from None
    if not (inspect.isclass(obj) and issubclass(obj, nn.Module)):
        raise ConfigError(f"{spec!r} is not a torch.nn.Module subclass; refusing to call it", path)
    accepted = set(inspect.signature(obj.__init__).parameters)

    def factory(in_shape: Shape, out_shape: Shape, role: str, out_range=None, **kwargs) -> nn.Module:
        injected = {k: v for k, v in zip(_INJECTED, (in_shape, out_shape, role, out_range)) if k in accepted}
        kwargs = check_kwargs(obj, kwargs, (), what=spec, injected=injected)
        return obj(**kwargs, **injected)

    return factory


networks: Registry[nn.Module] = Registry("network", key="type", custom=custom_network)
networks.register("mlp", MLP, "fully connected; optional batch/layer/spectral norm and dropout")
networks.register("maxout-mlp", MaxoutMLP, "maxout layers (units x pieces) with per-layer dropout")
networks.register("dcgan", dcgan, "convolutional G or D for images (DCGAN; PacGAN's Stacked MNIST models with widths and kernel 3)")
