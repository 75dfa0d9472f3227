"""Compute options: mixed precision, ``torch.compile`` and CUDA graphs, each falling back with
one warning where the device or the platform does not support it.

None of them changes what a run computes beyond float rounding, so a run that falls back is
the same run, in fp32 and eagerly.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

import torch

from agents import Agent

if TYPE_CHECKING:  # pragma: no cover
    from arena.config import ComputeConfig

__all__ = ["Compute", "guarded_compile"]

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class _Guarded:
    """A compiled function that turns into the eager one, for good and with one warning, the
    first time compiling or running the compiled version fails."""

    def __init__(self, eager: Callable, compiled: Callable, what: str, warn: Callable[[str], None]) -> None:
        self.eager, self.compiled, self.what, self.warn = eager, compiled, what, warn
        self.failed = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.failed:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as exc:
                self.failed = True
                self.warn(f"torch.compile failed for {self.what} ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
                          f"running it eagerly")
        return self.eager(*args, **kwargs)


def guarded_compile(fn: Callable, what: str, mode: str | None, warn: Callable[[str], None],
                    dynamic: bool | None = None, eager: Callable | None = None) -> Callable:
    """``torch.compile(fn, mode=mode, dynamic=dynamic)``, falling back (one warning) to ``eager``
    (by default ``fn`` itself: another function computing the same) if compiling fails."""
    eager = fn if eager is None else eager
    try:
        compiled = torch.compile(fn, mode=mode, dynamic=dynamic)
    except Exception as exc:
        warn(f"torch.compile is not available here ({type(exc).__name__}: {exc}); running {what} eagerly")
        return eager
    return _Guarded(eager, compiled, what, warn)


class Compute:
    """The compute options of one run, resolved for its device.

    Args:
        options: the config's ``compute`` section.
        device: the run's device.
    """

    def __init__(self, options: ComputeConfig, device: torch.device) -> None:
        self.device = torch.device(device)
        self._warned: set[str] = set()
        self.dtype = self._precision(options.precision)
        self.compile_mode = self._compile_mode(options)
        # One network's forward pass is called several times before its backward pass in a round
        # (a discriminator on real and on generated samples), and sampling keeps earlier
        # outputs while drawing more; CUDA graph replays would overwrite those outputs ("accessing
        # tensor output of CUDAGraphs that has been overwritten", seen on an H200). So single
        # networks are compiled without CUDA graphs; the stacked update functions, whose outputs
        # are used before they run again, are replayed as graphs.
        self.network_mode = None if self.compile_mode == "reduce-overhead" else self.compile_mode
        if options.cuda_graphs and self.device.type == "cuda" and options.execution == "one-by-one":
            self.warn("compute.cuda_graphs replays the stacked matches; with compute.execution one-by-one the "
                      "networks are compiled without CUDA graphs")

    def warn(self, message: str) -> None:
        """Warn once per run for each message."""
        if message not in self._warned:
            self._warned.add(message)
            warnings.warn(message, RuntimeWarning, stacklevel=3)

    def _precision(self, name: str) -> torch.dtype | None:
        if name == "fp32":
            return None
        if self.device.type != "cuda":
            self.warn(f"compute.precision {name} needs a CUDA device; running in fp32 on {self.device.type}")
            return None
        if name == "bf16" and not torch.cuda.is_bf16_supported():
            self.warn("compute.precision bf16 is not supported by this GPU; running in fp32")
            return None
        return _DTYPES[name]

    def _compile_mode(self, options: ComputeConfig) -> str | None | bool:
        """False: no compilation; otherwise the ``torch.compile`` mode (None: the default)."""
        if options.cuda_graphs and self.device.type != "cuda":
            self.warn(f"compute.cuda_graphs needs a CUDA device; ignored on {self.device.type}")
        if options.cuda_graphs and self.device.type == "cuda":
            return "reduce-overhead"
        return None if options.compile else False

    @property
    def loss_scaling(self) -> bool:
        return self.dtype == torch.float16

    def autocast(self) -> AbstractContextManager:
        """The context every forward pass of a match runs in."""
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def compiled(self, fn: Callable, what: str, eager: Callable | None = None) -> Callable:
        """``fn`` (a stacked update function) compiled as the options say, unchanged when they do
        not; ``eager``, where given, is what runs if compiling fails. Compiled for static shapes:
        a group of another size compiles anew rather than with symbolic sizes, under which
        BatchNorm's backward pass inside ``vmap`` fails to trace ("Cannot call sizes() on tensor
        with symbolic sizes", torch 2.13)."""
        if self.compile_mode is False:
            return fn
        return guarded_compile(fn, what, self.compile_mode, self.warn, dynamic=False, eager=eager)

    def prepare(self, agents: Iterable[Agent]) -> None:
        """Give every agent a loss scaler (fp16) and a compiled forward pass (compile, CUDA graphs;
        without the graphs themselves, see :attr:`network_mode`)."""
        for agent in agents:
            if self.loss_scaling and agent.scaler is None:
                agent.use_loss_scaling(torch.amp.GradScaler(self.device.type))
            if self.network_mode is not False:
                agent.use_forward(guarded_compile(agent.net, f"{agent.name}'s network", self.network_mode, self.warn))
