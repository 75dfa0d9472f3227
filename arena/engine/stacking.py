"""Stacked agents: the weights, buffers and optimizer states of K agents of one signature, each
kind in one ``(K, P)`` tensor, and the optimizer step that updates them all at once with per-agent
hyper-parameters (Adam, SGD, RMSprop, as torch's single-tensor implementations compute them).
:mod:`arena.engine.batched` plays matches on them."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.func import stack_module_state

from agents import Agent, Generator

__all__ = ["StackedAgents", "optimizer_key", "layout", "unflatten", "leaves", "flat_grad", "update"]


def optimizer_key(agent: Agent) -> tuple | None:
    groups, opt = agent.optimizer_groups, agent.optimizer_type
    if len(groups) != 1:
        return None
    group = groups[0]
    if group.get("maximize") or group.get("differentiable") or group.get("fused") or group.get("capturable"):
        return None
    if issubclass(opt, torch.optim.Adam) and not issubclass(opt, torch.optim.AdamW):
        if group["amsgrad"] or group.get("decoupled_weight_decay"):
            return None
        return ("adam",)
    if issubclass(opt, torch.optim.SGD):
        if group["dampening"]:
            return None
        return ("sgd", group["momentum"] > 0 or agent.optimizer.momentum_ramp is not None, group["nesterov"])
    if issubclass(opt, torch.optim.RMSprop) and not group["centered"]:
        return ("rmsprop", group["momentum"] > 0)
    return None


class StackedAgents:
    """K agents of one signature, their weights, buffers and optimizer states stacked along a
    new first dimension for the duration of a match; :meth:`write_back` returns them.

    All parameters of an agent live in one row of a ``(K, P)`` leaf tensor, so an optimizer
    step is a handful of tensor operations with per-agent ``(K, 1)`` hyper-parameters, however
    many parameter tensors the network has.

    Args:
        agents: the agents (equal :func:`signature`).
    """

    def __init__(self, agents: Sequence[Agent]) -> None:
        self.agents = list(agents)
        first = self.agents[0]
        self.kind, *flags = optimizer_key(first)
        self.momentum = bool(flags and flags[0])
        self.nesterov = bool(self.kind == "sgd" and flags[1])
        params, self.buffers = stack_module_state([a.net for a in self.agents])
        k = len(self.agents)
        self.layout = [(name, p.shape[1:], p[0].numel()) for name, p in params.items()]
        self.flat = torch.cat([p.detach().reshape(k, -1) for p in params.values()], 1)
        self.groups = [a.optimizer_groups[0] for a in self.agents]
        owned = [list(a.net.parameters()) for a in self.agents]
        states = [[a.optimizer_state(p) for p in own] for a, own in zip(self.agents, owned)]
        keys = {"adam": ("exp_avg", "exp_avg_sq"), "sgd": ("momentum_buffer",), "rmsprop": ("square_avg", "momentum_buffer")}
        self.state = {key: self._flat_state(states, key) for key in keys[self.kind]}
        steps = [float(s[0].get("step", 0.0)) if s else 0.0 for s in states]  # every parameter steps together
        self.started = torch.tensor([bool(s and s[0]) for s in states], device=first.device).unsqueeze(1)
        self.step_count = torch.tensor(steps, dtype=torch.float64)
        self.device = first.device
        self.hyper = {key: self._column([g[key] for g in self.groups])
                      for key in ("weight_decay", "eps", "alpha", "momentum") if key in self.groups[0]}
        if self.kind == "adam":
            self.hyper["beta1"] = self._column([g["betas"][0] for g in self.groups])
            self.hyper["beta2"] = self._column([g["betas"][1] for g in self.groups])
            # 1 - beta in double precision, as torch's Adam takes it (1 - float32(0.999) is off by 1.3e-5)
            self.hyper["1-beta1"] = self._column([1 - g["betas"][0] for g in self.groups])
            self.hyper["1-beta2"] = self._column([1 - g["betas"][1] for g in self.groups])
        self.decay = any(g["weight_decay"] for g in self.groups)
        self.ema = None
        """The agents' weight averages, stacked like their weights (generators with EMA on)."""
        if isinstance(first, Generator) and first.ema is not None:
            self.ema = torch.stack([torch.cat([p.detach().reshape(-1) for p in a.ema.net.parameters()]) for a in self.agents])
            self.ema_decay = self._column([a.ema.spec.decay for a in self.agents])
            self.ema_start = self._column([float(a.ema.spec.start) for a in self.agents])

    def _flat_state(self, states: list[list[dict]], key: str) -> torch.Tensor:
        rows = [
            torch.cat([(s[key].detach().reshape(-1) if s.get(key) is not None else torch.zeros(n, device=self.flat.device))
                       for s, (_, _, n) in zip(agent, self.layout)])
            for agent in states
        ]
        return torch.stack(rows).to(self.flat.dtype)

    def _column(self, values: list[float]) -> torch.Tensor:
        """Per-agent values as a ``(K, 1)`` column of the weights' dtype."""
        return torch.tensor(values, dtype=self.flat.dtype, device=self.flat.device).unsqueeze(1)

    # ------------------------------------------------------------------ optimizer
    def host_step(self) -> dict[str, list[float]]:
        """Count one optimizer step for every agent and return what the step needs from the host,
        a value per agent under each name: Adam's ``step_size`` (``-lr / (1 - beta1**t)``) and
        ``bc2_sqrt``; the ``lr`` of SGD and RMSprop; SGD's ``momentum`` (which may ramp); the step
        numbers the weight averages weigh (``ema_steps``). The agents' step counts advance."""
        self.step_count += 1
        lrs = [a.optimizer.lr for a in self.agents]
        out: dict[str, list[float]] = {}
        if self.kind == "adam":
            steps = self.step_count.tolist()
            out["step_size"] = [-lr / (1 - g["betas"][0] ** s) for lr, g, s in zip(lrs, self.groups, steps)]
            out["bc2_sqrt"] = [math.sqrt(1 - g["betas"][1] ** s) for g, s in zip(self.groups, steps)]
        else:
            out["lr"] = lrs
        if self.kind == "sgd" and self.momentum:
            out["momentum"] = [a.optimizer.momentum or 0.0 for a in self.agents]
        for a in self.agents:
            a.optimizer.advance()
        if self.ema is not None:
            out["ema_steps"] = [float(a.optimizer.steps) for a in self.agents]
        return out

    @property
    def rule(self) -> tuple:
        """What :func:`update` needs to know of the optimizer: its kind and flags."""
        return (self.kind, self.momentum, self.nesterov, self.decay, self.ema is not None)

    def tensors(self) -> dict[str, object]:
        """The stacked tensors an optimizer step reads and writes, for :func:`update`."""
        out = {"p": self.flat, "state": self.state, "hyper": self.hyper, "started": self.started}
        if self.ema is not None:
            out.update(ema=self.ema, ema_decay=self.ema_decay, ema_start=self.ema_start)
        return out

    def adopt(self, t: dict, buffers: dict[str, torch.Tensor]) -> None:
        """Hold the tensors ``t`` (shaped as :meth:`tensors`) and ``buffers`` from now on, in
        place of this object's own (which they equal): the fused round's persistent storage."""
        self.flat, self.state, self.hyper, self.started, self.buffers = t["p"], t["state"], t["hyper"], t["started"], buffers
        if self.ema is not None:
            self.ema, self.ema_decay, self.ema_start = t["ema"], t["ema_decay"], t["ema_start"]

    # ------------------------------------------------------------------ back to the agents
    def write_back(self) -> None:
        """Copy the stacked weights, buffers and optimizer states back into every agent: a
        multi-tensor copy for each agent's weights, and its optimizer state in one copy per
        kind of state (the state of each parameter a view of it), not one per parameter."""
        with torch.no_grad():
            for k, agent in enumerate(self.agents):
                params = list(agent.net.parameters())
                torch._foreach_copy_(params, list(unflatten(self.flat[k], self.layout).values()))
                rows = {key: unflatten(t[k].clone(), self.layout) for key, t in self.state.items()
                        if self.momentum or key != "momentum_buffer"}
                step = float(self.step_count[k])
                for p, (name, _, _) in zip(params, self.layout):
                    entry = {key: views[name] for key, views in rows.items()}
                    if self.kind != "sgd":
                        entry["step"] = torch.tensor(step, dtype=_step_dtype())
                    if self.kind == "sgd" and not self.started[k]:
                        entry = {}
                    agent.set_optimizer_state(p, entry)  # empty for plain SGD, which torch keeps no state for
                for name, b in agent.net.named_buffers():
                    b.copy_(self.buffers[name][k])
                if self.ema is not None:
                    torch._foreach_copy_(list(agent.ema.net.parameters()), list(unflatten(self.ema[k], self.layout).values()))
                    agent.ema.stale = agent.ema.has_batchnorm


def _step_dtype() -> torch.dtype:
    """The dtype torch's optimizers keep a step count in: float64 under a float64 default, else float32."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def layout(net: nn.Module) -> list[tuple[str, torch.Size, int]]:
    """Each parameter's name, shape and size, in the order of a :class:`StackedAgents` row."""
    return [(name, p.shape, p.numel()) for name, p in net.named_parameters()]


def unflatten(flat: torch.Tensor, parts: list[tuple[str, torch.Size, int]]) -> dict[str, torch.Tensor]:
    """Each parameter as a view of a :class:`StackedAgents` tensor: of one agent's row ``(P,)``,
    or stacked, of the ``(K, P)`` tensor."""
    out, offset = {}, 0
    for name, shape, n in parts:
        out[name] = flat[..., offset : offset + n].view(*flat.shape[:-1], *shape)
        offset += n
    return out


def leaves(flat: torch.Tensor, parts: list[tuple[str, torch.Size, int]], grad: bool = True) -> dict[str, torch.Tensor]:
    """Each parameter of stacked agents as a view of their ``(K, P)`` tensor: a leaf that
    requires its gradient (``grad``) or a detached view."""
    return {name: view.detach().requires_grad_(grad) for name, view in unflatten(flat, parts).items()}


def flat_grad(loss: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
    """The ``(K, P)`` gradient of ``loss`` (the sum of the agents' losses) for the leaves ``params``."""
    grads = torch.autograd.grad(loss, list(params.values()))
    return torch.cat([g.reshape(g.shape[0], -1) for g in grads], 1)


def update(rule: tuple, t: dict, grad: torch.Tensor, cols: dict[str, torch.Tensor]) -> None:
    """One optimizer step of stacked agents, in place: ``rule`` and ``t`` are
    :attr:`StackedAgents.rule` and :meth:`StackedAgents.tensors`, ``grad`` the ``(K, P)``
    gradient, ``cols`` the ``(K, 1)`` columns of :meth:`StackedAgents.host_step`."""
    kind, momentum, nesterov, decay, ema = rule
    h = t["hyper"]
    with torch.no_grad():
        p = t["p"]
        if decay:
            grad = grad + h["weight_decay"] * p
        if kind == "adam":
            m, v = t["state"]["exp_avg"], t["state"]["exp_avg_sq"]
            m.lerp_(grad, h["1-beta1"])
            v.mul_(h["beta2"]).addcmul_(grad * h["1-beta2"], grad)
            p.add_((m * cols["step_size"]) / (v.sqrt() / cols["bc2_sqrt"]).add_(h["eps"]))
        elif kind == "sgd":
            if momentum:
                buf = t["state"]["momentum_buffer"]
                buf.copy_(torch.where(t["started"], buf * cols["momentum"] + grad, grad))
                grad = grad + cols["momentum"] * buf if nesterov else buf
            p.add_(grad * -cols["lr"])
        else:
            sq = t["state"]["square_avg"]
            sq.mul_(h["alpha"]).add_((1 - h["alpha"]) * grad * grad)
            avg = sq.sqrt().add_(h["eps"])
            if momentum:
                buf = t["state"]["momentum_buffer"]
                buf.mul_(h["momentum"]).add_(grad / avg)
                p.add_(buf * -cols["lr"])
            else:
                p.add_((-cols["lr"] * grad) / avg)
        t["started"].fill_(True)
        if ema:  # Agent.after_step, for every agent at once
            steps = cols["ema_steps"]
            t["ema"].lerp_(p, torch.where(steps <= t["ema_start"], torch.ones_like(steps), 1 - t["ema_decay"]))
