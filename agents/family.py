"""Generator families: K generators that share a body, each with its own input layer (MGAN's way).

A family is one network, :class:`FamilyNet`: every member owns its input layer (the first linear
layer and the normalisation after it, MGAN's "linear + BatchNorm"), and every member's output goes
on through one shared body. Why the input layer: it is what turns a latent draw into the body's
first features, so members that differ there can reach different parts of the data, while every
update of any member trains the body that all of them use (the budget is not split K ways). On
PacGAN's Stacked MNIST generator the input layer is most of the parameters (a 256 x 1,024
projection) but not of the computation: each sample goes through one member's input layer only.

The family trains as one generator (:class:`agents.Generator` with a :class:`FamilyNet`): a batch
of ``n`` samples is mixed across the members, member ``k`` making the ``k``-th of ``K`` nearly
equal consecutive slices (:func:`member_ids`), so one round updates the shared body once, from
every member, and every discriminator judges the mixture. Each member is also an agent of its own
to everything that judges (:class:`FamilyMember`): it has a name, a rating, a leaderboard row, a
sample grid and a place in the mixture; it draws through its own input layer and the shared body
(the family's weight average where the family keeps one). It does not train on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from agents.agent import AveragedGenerator
from arena.core.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from agents.agent import Generator

__all__ = ["FamilyNet", "MemberNet", "FamilyMember", "member_ids", "member_sizes"]

_NORMS = (nn.BatchNorm1d, nn.LayerNorm, nn.Identity)


def member_sizes(n: int, members: int) -> list[int]:
    """How many of ``n`` samples each of ``members`` makes: nearly equal consecutive slices, the
    first ``n mod members`` one larger (``torch.tensor_split``'s)."""
    return [n // members + (1 if k < n % members else 0) for k in range(members)]


def member_ids(n: int, members: int, device: torch.device | str | None = None) -> torch.Tensor:
    """The member that made each of a family's ``n`` mixed samples, ``(n,)`` int64."""
    sizes = torch.tensor(member_sizes(n, members), device=device)
    return torch.repeat_interleave(torch.arange(members, device=device), sizes)


def _input_layer(net: nn.Module) -> int:
    """How many leading modules of ``net.body`` are the input layer: its first linear layer (with
    the parameter-free modules before it, a flattening) and the normalisation right after it,
    where there is one."""
    body = getattr(net, "body", None)
    first = next((i for i, m in enumerate(body) if isinstance(m, nn.Linear)), None) if isinstance(body, nn.Sequential) else None
    if first is None or any(any(True for _ in m.parameters()) for m in list(body)[:first]) or not hasattr(net, "out_shape"):
        raise ConfigError(f"a family's members own their network's input layer, and {type(net).__name__} has no "
                          f"linear first layer in a body this can split; use an mlp or dcgan network", ("net",))
    return first + (2 if len(body) > first + 1 and isinstance(body[first + 1], _NORMS) else 1)


class MemberNet(nn.Module):
    """One member's network: its own input layer, then the family's shared body (the same
    modules, not copies)."""

    def __init__(self, head: nn.Module, body: nn.Module, out_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.head, self.body, self.out_shape = head, body, out_shape

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.head(z)).reshape(z.shape[0], *self.out_shape)


class FamilyNet(nn.Module):
    """The network of a family: ``len(nets)`` members' input layers and one shared body.

    Args:
        nets: one network per member, all of one architecture, each built (and initialised) with
            its member's seed: member ``k`` keeps the input layer of ``nets[k]``; the body is
            ``nets[0]``'s.
    """

    def __init__(self, nets: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(nets) < 2:
            raise ConfigError(f"a family needs at least 2 members, got {len(nets)}", ("members",))
        own = _input_layer(nets[0])
        self.heads = nn.ModuleList(nn.Sequential(*list(net.body)[:own]) for net in nets)  # type: ignore[union-attr,call-overload]
        self.body = nn.Sequential(*list(nets[0].body)[own:])  # type: ignore[union-attr,call-overload]
        self.out_shape: tuple[int, ...] = tuple(nets[0].out_shape)  # type: ignore[arg-type]

    @property
    def members(self) -> int:
        return len(self.heads)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """A mixed batch: member ``k`` maps the ``k``-th slice of ``z`` (:func:`member_sizes`)."""
        parts = torch.tensor_split(z, self.members)
        out = self.body(torch.cat([head(part) for head, part in zip(self.heads, parts)]))
        return out.reshape(z.shape[0], *self.out_shape)

    def member(self, k: int) -> MemberNet:
        """Member ``k``'s network, sharing this family's modules."""
        return MemberNet(self.heads[k], self.body, self.out_shape)


class FamilyMember:
    """Member ``index`` of the family ``family``, as everything that judges sees it: a generator
    with its own name that draws through its own input layer and the shared body.

    Args:
        family: the family's generator (its network a :class:`FamilyNet`).
        index: which member.
        name: the member's name (``{family}_{index}``).
    """

    role = "generator"

    def __init__(self, family: Generator, index: int, name: str) -> None:
        self.family, self.index, self.name = family, index, name
        self.device, self.latent = family.device, family.latent
        self.net = family.net.member(index)  # type: ignore[operator]

    def __repr__(self) -> str:
        return f"FamilyMember({self.name!r} of {self.family.name!r})"

    @property
    def rng(self) -> torch.Generator:
        return self.family.rng

    @property
    def frozen(self) -> bool:
        return self.family.frozen

    @property
    def training(self) -> bool:
        return self.family.training

    def train(self, mode: bool = True) -> FamilyMember:
        self.family.train(mode)
        return self

    def eval(self) -> FamilyMember:
        return self.train(False)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` latent vectors (from the family's stream by default) and map them through this member."""
        z = self.latent.sample(n, self.rng if generator is None else generator, self.device)
        return self.net(z)

    def output(self) -> FamilyMember | _AveragedMember:
        """The member as the world sees it: through the family's weight average where it keeps one."""
        if self.family.ema is None:
            return self
        self.family.ema.recompute_batchnorm(self.family.latent)
        return _AveragedMember(self)


class _AveragedMember(AveragedGenerator):
    """A member drawn through its family's weight average (evaluation mode; it does not train)."""

    def __init__(self, member: FamilyMember) -> None:
        super().__init__(member.family)
        self.name = member.name
        self.net = member.family.ema.net.member(member.index)  # type: ignore[union-attr,operator]
