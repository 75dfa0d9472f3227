"""Optimizers with learning-rate schedules and the paper's momentum ramp.

An :class:`AgentOptimizer` wraps a ``torch.optim`` optimizer and sets its learning rate (and,
for SGD, its momentum) from the number of steps taken, so the whole schedule is a pure
function of the step count and survives a checkpoint exactly.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterable
from typing import Annotated, Any

import torch

from arena.core.errors import ConfigError
from arena.core.registry import Ge, Gt, Le, Lt, Registry, build, check_value

__all__ = ["AgentOptimizer", "optimizers", "lr_schedules", "LRSchedule"]

Positive = Annotated[float, Gt(0)]
NonNeg = Annotated[float, Ge(0)]
Beta = Annotated[float, Ge(0), Lt(1)]


class LRSchedule(abc.ABC):
    """Multiplies the base learning rate by ``factor(step)``."""

    @abc.abstractmethod
    def factor(self, step: int) -> float:
        """The multiple of the base learning rate after ``step`` optimizer steps."""


class Constant(LRSchedule):
    """The base learning rate throughout."""

    def factor(self, step: int) -> float:
        return 1.0


class Linear(LRSchedule):
    """Constant until step ``start``, then linear from 1 to ``end_factor`` over ``steps`` steps,
    then constant (a decay over the last 40% of 10,000 steps: ``start: 6000, steps: 4000``).

    Args:
        steps: steps over which to decay.
        end_factor: final multiple of the base learning rate.
        start: steps before the decay begins.
    """

    def __init__(self, steps: Annotated[int, Gt(0)], end_factor: NonNeg = 0.0, start: Annotated[int, Ge(0)] = 0) -> None:
        self.steps, self.end_factor, self.start = steps, end_factor, start

    def factor(self, step: int) -> float:
        t = min(max(step - self.start, 0) / self.steps, 1.0)
        return 1.0 + t * (self.end_factor - 1.0)


class Exponential(LRSchedule):
    """``gamma ** step``, never below ``min_factor`` (the paper's code divides by 1.000004 per step).

    Args:
        gamma: multiplier per step.
        min_factor: floor of the multiple.
    """

    def __init__(self, gamma: Annotated[float, Gt(0), Le(1)], min_factor: NonNeg = 0.0) -> None:
        self.gamma, self.min_factor = gamma, min_factor

    def factor(self, step: int) -> float:
        return max(self.gamma**step, self.min_factor)


class Step(LRSchedule):
    """Multiply by ``gamma`` every ``every`` steps.

    Args:
        every: steps between decays.
        gamma: multiplier at each decay.
    """

    def __init__(self, every: Annotated[int, Gt(0)], gamma: Annotated[float, Gt(0), Le(1)] = 0.1) -> None:
        self.every, self.gamma = every, gamma

    def factor(self, step: int) -> float:
        return self.gamma ** (step // self.every)


class Cosine(LRSchedule):
    """Cosine from 1 to ``min_factor`` over ``steps`` steps.

    Args:
        steps: length of the half cosine.
        min_factor: final multiple of the base learning rate.
    """

    def __init__(self, steps: Annotated[int, Gt(0)], min_factor: NonNeg = 0.0) -> None:
        self.steps, self.min_factor = steps, min_factor

    def factor(self, step: int) -> float:
        t = min(step / self.steps, 1.0)
        return self.min_factor + (1 - self.min_factor) * 0.5 * (1 + math.cos(math.pi * t))


lr_schedules: Registry[LRSchedule] = Registry("learning-rate schedule", key="type")
lr_schedules.register("constant", Constant, "the base learning rate throughout")
lr_schedules.register("linear", Linear, "constant until start, then linear to end_factor over steps")
lr_schedules.register("exponential", Exponential, "gamma**step, floored at min_factor")
lr_schedules.register("step", Step, "times gamma every `every` steps")
lr_schedules.register("cosine", Cosine, "cosine to min_factor over steps")


class AgentOptimizer:
    """A torch optimizer whose learning rate and momentum follow the step count.

    Attributes:
        base_lr: the learning rate the schedule multiplies (selection and divergence
            handling change it).
        steps: optimizer steps taken.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: LRSchedule,
        momentum_ramp: tuple[float, float, int] | None = None,
    ) -> None:
        self.optimizer = optimizer
        self.schedule = schedule
        self.momentum_ramp = momentum_ramp
        self.base_lr = float(optimizer.param_groups[0]["lr"])
        self.steps = 0
        self._static = isinstance(schedule, Constant) and momentum_ramp is None
        self._apply()

    @property
    def lr(self) -> float:
        return self.base_lr * self.schedule.factor(self.steps)

    @property
    def momentum(self) -> float | None:
        if self.momentum_ramp is None:
            return self.optimizer.param_groups[0].get("momentum")
        start, end, steps = self.momentum_ramp
        return start + min(self.steps / steps, 1.0) * (end - start)

    def set_base_lr(self, lr: float) -> None:
        self.base_lr = float(lr)
        self._apply(force=True)

    def _apply(self, force: bool = False) -> None:
        if self._static and not force:
            return
        lr, momentum = self.lr, self.momentum
        for group in self.optimizer.param_groups:
            group["lr"] = lr
            if self.momentum_ramp is not None:
                group["momentum"] = momentum

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    def step(self) -> None:
        self.optimizer.step()
        self.advance()

    def advance(self) -> None:
        """Count one step taken (by :meth:`step`, a loss scaler or a batched optimizer) and set
        the learning rate and momentum for the next."""
        self.steps += 1
        self._apply()

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "base_lr": self.base_lr, "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.base_lr = float(state["base_lr"])
        self.steps = int(state["steps"])
        self._apply(force=True)


def _schedule(spec: dict[str, Any] | None) -> LRSchedule:
    if spec is None:
        return Constant()
    return build(spec, lr_schedules, ("schedule",))


def adam(
    params: Iterable[torch.nn.Parameter],
    lr: Positive = 2e-4,
    betas: tuple[Beta, Beta] = (0.5, 0.999),
    eps: Positive = 1e-8,
    weight_decay: NonNeg = 0.0,
    schedule: dict[str, Any] | None = None,
) -> AgentOptimizer:
    """Adam (Kingma and Ba, 2015).

    Args:
        lr: base learning rate.
        betas: decay rates of the first and second moment estimates.
        eps: added to the denominator.
        weight_decay: L2 penalty.
        schedule: a learning-rate schedule ``{type: constant|linear|exponential|step|cosine, ...}``.
    """
    opt = torch.optim.Adam(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
    return AgentOptimizer(opt, _schedule(schedule))


def sgd(
    params: Iterable[torch.nn.Parameter],
    lr: Positive = 0.1,
    momentum: Annotated[float, Ge(0), Lt(1)] = 0.0,
    nesterov: bool = False,
    weight_decay: NonNeg = 0.0,
    momentum_ramp: dict[str, Any] | None = None,
    schedule: dict[str, Any] | None = None,
) -> AgentOptimizer:
    """Stochastic gradient descent with momentum.

    Args:
        lr: base learning rate.
        momentum: momentum at step 0.
        nesterov: Nesterov momentum.
        weight_decay: L2 penalty.
        momentum_ramp: ``{end: 0.7, steps: N}`` raises momentum linearly from ``momentum`` to
            ``end`` over ``N`` steps, as in Goodfellow et al. (2014), where it rises from 0.5 to 0.7.
        schedule: a learning-rate schedule.
    """
    ramp = None
    if momentum_ramp is not None:
        ramp_spec = dict(momentum_ramp)
        end, steps = ramp_spec.pop("end", None), ramp_spec.pop("steps", None)
        if ramp_spec:
            raise ConfigError(f"unknown key {next(iter(ramp_spec))!r} (valid: end, steps)", ("momentum_ramp",))
        end = check_value(end, Annotated[float, Ge(0), Lt(1)], ("momentum_ramp", "end"))
        steps = check_value(steps, Annotated[int, Gt(0)], ("momentum_ramp", "steps"))
        ramp = (momentum, end, steps)
    use_momentum = momentum > 0 or ramp is not None
    opt = torch.optim.SGD(
        params,
        lr=lr,
        momentum=momentum if use_momentum else 0.0,
        nesterov=nesterov,
        weight_decay=weight_decay,
    )
    if ramp is not None and momentum == 0.0:
        # torch keeps no momentum buffer when momentum starts at 0; start just above it.
        ramp = (1e-8, ramp[1], ramp[2])
    return AgentOptimizer(opt, _schedule(schedule), ramp)


def rmsprop(
    params: Iterable[torch.nn.Parameter],
    lr: Positive = 5e-5,
    alpha: Annotated[float, Ge(0), Lt(1)] = 0.99,
    momentum: Annotated[float, Ge(0), Lt(1)] = 0.0,
    eps: Positive = 1e-8,
    weight_decay: NonNeg = 0.0,
    schedule: dict[str, Any] | None = None,
) -> AgentOptimizer:
    """RMSprop, as in WGAN.

    Args:
        lr: base learning rate.
        alpha: smoothing constant of the squared-gradient average.
        momentum: momentum factor.
        eps: added to the denominator.
        weight_decay: L2 penalty.
        schedule: a learning-rate schedule.
    """
    opt = torch.optim.RMSprop(params, lr=lr, alpha=alpha, momentum=momentum, eps=eps, weight_decay=weight_decay)
    return AgentOptimizer(opt, _schedule(schedule))


optimizers: Registry[AgentOptimizer] = Registry("optimizer", key="type")
optimizers.register("adam", adam, "Adam with an optional learning-rate schedule")
optimizers.register("sgd", sgd, "SGD with momentum and an optional momentum ramp")
optimizers.register("rmsprop", rmsprop, "RMSprop")
