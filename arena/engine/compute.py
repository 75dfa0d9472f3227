"""Compute options: mixed precision, ``torch.compile`` and CUDA graphs, each falling back with
one warning where the device or the platform does not support it.

None of them changes what a run computes beyond float rounding, so a run that falls back is
the same run, in fp32 and eagerly.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

import torch

from agents import Agent

if TYPE_CHECKING:  # pragma: no cover
    from arena.config import ComputeConfig

__all__ = ["Compute", "Workload", "CPU_COMPILE_MIN_ROUNDS", "guarded_compile"]

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


CPU_COMPILE_MIN_ROUNDS = 12_000
"""``compile: auto`` compiles the fused round on a CPU for a run of at least this many stacked
pair-rounds: the run's rounds must repay a cold compile of the fused round with what each compiled
round saves over eager, for the default job's fully connected agents and for PacGAN's
convolutional ones alike (the measurements behind the figure: benchmarks/RESULTS.md, "fast by
default" and 2026-12-05 afternoon)."""


@dataclasses.dataclass(frozen=True)
class Workload:
    """What ``auto`` weighs: the pair-rounds a run plays in stacked groups (0 where none stack)."""

    stacked_rounds: int


class Compute:
    """The compute options of one run, resolved for its device (``auto`` decided here, once).

    Args:
        options: the config's ``compute`` section.
        device: the run's device.
        workload: what the run plays, for ``auto`` (None: as if nothing stacked).
    """

    def __init__(self, options: ComputeConfig, device: torch.device, workload: Workload | None = None) -> None:
        self.device = torch.device(device)
        self._warned: set[str] = set()
        self.precision = self._precision(options.precision)
        self.dtype = _DTYPES.get(self.precision)
        self.compile_mode, self.network_mode, self.reason = self._compilation(options, workload or Workload(0))
        if options.cuda_graphs is True and self.device.type == "cuda" and options.execution == "one-by-one":
            self.warn("compute.cuda_graphs replays the stacked matches as CUDA graphs, and compute.execution "
                      "one-by-one stacks none: no graphs are replayed")

    def warn(self, message: str) -> None:
        """Warn once per run for each message."""
        if message not in self._warned:
            self._warned.add(message)
            warnings.warn(message, RuntimeWarning, stacklevel=3)

    def _precision(self, name: str) -> str:
        """The precision the run computes in; on a CUDA device TF32 is switched on or off for
        float32 products (a process-wide setting of torch)."""
        if name == "auto":
            name = "tf32" if self.device.type == "cuda" else "fp32"
        if name != "fp32" and self.device.type != "cuda":
            self.warn(f"compute.precision {name} needs a CUDA device; running in fp32 on {self.device.type}")
            name = "fp32"
        if name == "bf16" and not torch.cuda.is_bf16_supported():
            self.warn("compute.precision bf16 is not supported by this GPU; running in fp32")
            name = "fp32"
        if self.device.type == "cuda":
            tf32 = name != "fp32"
            torch.set_float32_matmul_precision("high" if tf32 else "highest")
            torch.backends.cudnn.allow_tf32 = tf32
        return name

    def _compilation(self, options: ComputeConfig, workload: Workload) -> tuple[str | None | bool, None | bool, str]:
        """The ``torch.compile`` mode of the stacked matches (False: eager; None: the default
        mode; ``reduce-overhead``: CUDA graphs), that of single networks (False or None) and why.

        One network's forward pass is called several times before its backward pass in a round
        (a discriminator on real and on generated samples), and sampling keeps earlier outputs
        while drawing more; CUDA graph replays would overwrite those outputs ("accessing tensor
        output of CUDAGraphs that has been overwritten", seen on an H200). So single networks are
        never replayed as graphs; the stacked update functions, whose outputs are used before
        they run again, are. Compiled alone, a network ran slower than eager on a CPU and on an
        H200 (benchmarks/throughput.py row g), so ``auto`` leaves them eager."""
        cuda = self.device.type == "cuda"
        compile_, graphs = options.compile, options.cuda_graphs
        if graphs is True and not cuda:
            self.warn(f"compute.cuda_graphs needs a CUDA device; ignored on {self.device.type}")
        networks: None | bool = None if compile_ is True else False
        if cuda and (graphs is True or (graphs == "auto" and compile_ is not False)):
            if options.execution == "one-by-one" or self.dtype == torch.float16:
                why = "execution one-by-one" if options.execution == "one-by-one" else "fp16 loss scaling"
                if compile_ is True:
                    return None, None, f"compile: true; no stacked matches to replay as CUDA graphs ({why})"
                return False, False, f"eager: no stacked matches ({why}) to compile"
            return "reduce-overhead", networks, ("cuda_graphs: true" if graphs is True else
                                                 "auto on CUDA: the stacked matches replayed as CUDA graphs")
        if compile_ is True:
            return None, None, "compile: true"
        if compile_ is False:
            return False, False, "compile: false"
        if self.device.type != "cpu":
            return False, False, f"auto on {self.device.type}: eager"
        if options.execution == "one-by-one" or not workload.stacked_rounds:
            return False, False, "auto on a CPU: eager (no stacked pair matches, so no fused round to compile)"
        if workload.stacked_rounds < CPU_COMPILE_MIN_ROUNDS:
            return False, False, (f"auto on a CPU: eager ({workload.stacked_rounds:,} stacked pair-rounds; the fused "
                                  f"round's compile repays itself from {CPU_COMPILE_MIN_ROUNDS:,})")
        return None, False, (f"auto on a CPU: {workload.stacked_rounds:,} stacked pair-rounds "
                             f"repay the fused round's compile (from {CPU_COMPILE_MIN_ROUNDS:,})")

    def describe(self) -> str:
        """One line on the path chosen and why."""
        if self.compile_mode is False:
            path = "eager"
        else:
            path = "fused round compiled" + (" as CUDA graphs" if self.compile_mode == "reduce-overhead" else "")
            path += ", networks compiled" if self.network_mode is not False else ", networks eager"
        return f"{path}, {self.precision} ({self.reason})"

    def record(self) -> dict[str, Any]:
        """The choice as ``run.json`` keeps it."""
        return {"fused_round": self.compile_mode is not False, "cuda_graphs": self.compile_mode == "reduce-overhead",
                "networks_compiled": self.network_mode is not False, "precision": self.precision,
                "reason": self.reason}

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
        """Give every agent a loss scaler (fp16) and, under ``compile: true``, a compiled forward
        pass (never replayed as CUDA graphs, see :meth:`_compilation`)."""
        for agent in agents:
            if self.loss_scaling and agent.scaler is None:
                agent.use_loss_scaling(torch.amp.GradScaler(self.device.type))
            if self.network_mode is not False:
                agent.use_forward(guarded_compile(agent.net, f"{agent.name}'s network", self.network_mode, self.warn))
