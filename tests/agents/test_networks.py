"""agents/: every network for both roles passes check_agent; reference architectures match."""

from __future__ import annotations

import re
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents import AgentSpec, build_agent, check_agent
from arena.core.errors import ConfigError

POINTS = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
IMAGES = {s: gym.spaces.Box(0.0, 1.0, s, np.float32) for s in [(1, 8, 8), (1, 28, 28), (3, 32, 32)]}
SYMMETRIC = gym.spaces.Box(-1.0, 1.0, (1, 28, 28), np.float32)

NETS = {
    "mlp": {"type": "mlp", "hidden": [16, 16]},
    "mlp-batch": {"type": "mlp", "hidden": [16], "norm": "batch", "dropout": 0.2},
    "mlp-layer": {"type": "mlp", "hidden": [16], "norm": "layer", "act": "leaky_relu"},
    "mlp-spectral": {"type": "mlp", "hidden": [16], "norm": "spectral", "input_dropout": 0.1},
    "maxout": {"type": "maxout-mlp", "units": [8, 8], "pieces": 3, "dropout": [0.2, 0.5, 0.5]},
}


def make(role, net, space, latent=None, seed=0, pack=1):
    if role == "generator":
        latent = latent or {"dist": "normal", "dim": 4}
    spec = AgentSpec(name="a", role=role, net=net, latent=latent, pack=pack)
    return build_agent(spec, "a", space, seed=seed)


@pytest.mark.parametrize("role", ["generator", "discriminator"])
@pytest.mark.parametrize("net", list(NETS))
@pytest.mark.parametrize("space", ["points", "image"])
def test_mlp_networks_pass_check_agent(role, net, space):
    agent = make(role, NETS[net], POINTS if space == "points" else IMAGES[(1, 8, 8)])
    check_agent(agent)


@pytest.mark.parametrize("role", ["generator", "discriminator"])
@pytest.mark.parametrize("shape", list(IMAGES))
def test_dcgan_passes_check_agent_on_every_image_size(role, shape):
    agent = make(role, {"type": "dcgan", "width": 4}, IMAGES[shape])
    check_agent(agent)
    assert agent.action_space.shape == (shape if role == "generator" else (1,))


def test_dcgan_rejects_sizes_its_kernel_cannot_reach():
    with pytest.raises(ConfigError, match=re.escape("net.kernel: dcgan with kernel 4 doubles the side 2 times, so the "
                                                    "image side must be divisible by 4; got 10 (kernel 3 reaches any side)")):
        make("generator", {"type": "dcgan"}, gym.spaces.Box(0, 1, (1, 10, 10), np.float32))
    with pytest.raises(ConfigError, match=re.escape("net.type: dcgan needs images of shape (channels, height, width)")):
        make("discriminator", {"type": "dcgan"}, gym.spaces.Box(0, 1, (10, 10), np.float32))
    g = make("generator", {"type": "dcgan", "widths": [8, 4], "kernel": 3}, gym.spaces.Box(0, 1, (1, 10, 10), np.float32))
    assert g.net(torch.zeros(2, g.observation_space.shape[0])).shape == (2, 1, 10, 10)


STACKED = gym.spaces.Box(-1, 1, (3, 28, 28), np.float32)
PACGAN_G = {"type": "dcgan", "widths": [64, 32, 16, 8], "kernel": 3, "out_conv": True}


def test_pacgans_stacked_mnist_generator():
    """z 256 -> linear 4x4x64 -> 3x3 transposed convolutions to 32, 16, 8 channels (7, 14, 28
    pixels; BatchNorm, ReLU) -> 3x3 convolution to 3 channels -> tanh: 288,715 parameters, those of
    PacGAN's TensorFlow code (about 288k) less the biases that BatchNorm cancels."""
    g = make("generator", PACGAN_G, STACKED, latent={"dist": "normal", "dim": 256})
    x = g.net(torch.randn(4, 256))
    assert x.shape == (4, 3, 28, 28) and x.abs().max() <= 1
    convs = [m for m in g.net.modules() if isinstance(m, (torch.nn.ConvTranspose2d, torch.nn.Conv2d))]
    assert [(m.in_channels, m.out_channels, m.kernel_size) for m in convs] == [
        (64, 32, (3, 3)), (32, 16, (3, 3)), (16, 8, (3, 3)), (8, 3, (3, 3))]
    assert sum(p.numel() for p in g.net.parameters()) == 288_715
    assert isinstance(g.net.body[-1], torch.nn.Tanh)


@pytest.mark.parametrize("widths", [[2, 4, 8], [4, 8, 16]])
def test_pacgans_stacked_mnist_discriminators(widths):
    """3x3 stride-2 convolutions (28 -> 14 -> 7 -> 4), BatchNorm after every one, LeakyReLU 0.3,
    linear: D = 1/4 G (widths 2-4-8) and D = 1/2 G (4-8-16); packed, it sees 3 x pack channels."""
    spec = {"type": "dcgan", "widths": widths, "kernel": 3, "norm_first": True, "act_slope": 0.3}
    d = make("discriminator", spec, STACKED)
    assert d.net(torch.zeros(5, 3, 28, 28)).shape == (5, 1)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in d.net.modules()) == 3
    linear = d.net.body[-1]
    assert linear.in_features == widths[-1] * 4 * 4
    packed = make("discriminator", spec, STACKED, pack=4)
    assert packed.net.body[0].in_channels == 12 and packed(torch.zeros(8, 3, 28, 28)).shape == (2, 1)


def test_a_first_layer_batchnorm_hides_a_whole_batchs_contrast_and_the_packed_config_has_none():
    """Real and generated batches go through a discriminator apart. With BatchNorm on its first
    convolution (a linear map, then normalised over the batch) it gives the same outputs for a
    batch ``x`` and the faint copy ``0.2 x`` (up to BatchNorm's epsilon; a shift of the whole batch
    it sees only through the zero padding at the border), so a generator that draws faint digits
    on grey passes it: PacGAN-4 on Stacked MNIST sat at chance that way. The shipped PacGAN-4
    config's discriminator normalises from its second layer on, and tells them apart."""
    from arena.config import load_config
    from tests.conftest import ROOT

    torch.manual_seed(0)
    x = torch.rand(16, 3, 28, 28) * 2 - 1
    faint = 0.2 * x
    blind = make("discriminator", {"type": "dcgan", "widths": [2, 4, 8], "kernel": 3, "norm_first": True}, STACKED, pack=4)
    with torch.no_grad():
        same = blind(x) - blind(faint)
    # BatchNorm divides by sqrt(var + 1e-5); the faint batch's first-layer variance is 0.04 of
    # the other's (about 0.04 x 0.3 here), so the outputs move by a relative 1e-3 at most
    assert same.abs().max() < 1e-3 * blind(x).abs().max().clamp_min(1.0)
    spec = next(a for a in load_config(ROOT / "configs" / "stacked_mnist_pacgan4.yaml").agents if a.role == "discriminator")
    assert spec.net["norm_first"] is False and spec.pack == 4
    seeing = make("discriminator", spec.net, STACKED, pack=4)
    with torch.no_grad():
        apart = seeing(x) - seeing(faint)
    assert apart.abs().max() > 1e-2 * seeing(x).abs().max()  # ten times the blind one's bound


def test_generator_output_activation_follows_the_data_range():
    g = make("generator", {"type": "mlp", "hidden": [8]}, IMAGES[(1, 8, 8)])
    assert isinstance(g.net.body[-1], torch.nn.Sigmoid)
    g = make("generator", {"type": "mlp", "hidden": [8]}, SYMMETRIC)
    assert isinstance(g.net.body[-1], torch.nn.Tanh)
    g = make("generator", {"type": "mlp", "hidden": [8]}, POINTS)
    assert isinstance(g.net.body[-1], torch.nn.Identity)


def test_discriminators_output_logits_only():
    with pytest.raises(ConfigError, match=re.escape("out_act: discriminators output logits")):
        make("discriminator", {"type": "mlp", "out_act": "sigmoid"}, POINTS)


def test_spaces_declared_by_role():
    g = make("generator", NETS["mlp"], IMAGES[(1, 28, 28)], latent={"dist": "uniform", "dim": 5, "low": -2, "high": 3})
    assert g.observation_space == gym.spaces.Box(-2.0, 3.0, (5,), np.float32)
    assert g.action_space == IMAGES[(1, 28, 28)]
    d = make("discriminator", NETS["mlp"], IMAGES[(1, 28, 28)])
    assert d.observation_space == IMAGES[(1, 28, 28)]
    assert d.action_space.shape == (1,)


def test_pytorch_gan_reference_parameter_counts():
    """REFERENCE.md: the PyTorch-GAN generator has 1,510,032 parameters and its discriminator 533,505."""
    g = make(
        "generator",
        {"type": "mlp", "hidden": [128, 256, 512, 1024], "act": "leaky_relu", "act_slope": 0.2,
         "norm": "batch", "norm_eps": 0.8, "norm_first_layer": False, "out_act": "tanh"},
        SYMMETRIC,
        latent={"dist": "normal", "dim": 100},
    )
    d = make("discriminator", {"type": "mlp", "hidden": [512, 256], "act": "leaky_relu"}, SYMMETRIC)
    assert g.num_parameters() == 1_510_032
    assert d.num_parameters() == 533_505
    bns = [m for m in g.net.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert len(bns) == 3 and all(m.eps == 0.8 for m in bns)


def test_paper_maxout_discriminator():
    d = make("discriminator", {"type": "maxout-mlp", "units": [240, 240], "pieces": 5, "dropout": [0.2, 0.5, 0.5]},
             IMAGES[(1, 28, 28)])
    drops = [m.p for m in d.net.modules() if isinstance(m, torch.nn.Dropout)]
    assert drops == [0.2, 0.5, 0.5]
    assert d.num_parameters() == (784 * 1200 + 1200) + (240 * 1200 + 1200) + (240 + 1)


def test_maxout_takes_the_max_over_pieces():
    from agents import Maxout

    m = Maxout(2, units=1, pieces=3)
    with torch.no_grad():
        m.linear.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]))
        m.linear.bias.zero_()
    out = m(torch.tensor([[2.0, 5.0], [-3.0, -4.0]]))
    assert out.flatten().tolist() == [5.0, 7.0]


def test_maxout_dropout_list_length_is_checked():
    with pytest.raises(ConfigError, match=re.escape("net.dropout: expected 3 dropout rates")):
        make("discriminator", {"type": "maxout-mlp", "units": [4, 4], "dropout": [0.1]}, POINTS)


def test_initial_weights_depend_only_on_the_seed():
    a = make("generator", NETS["mlp-batch"], POINTS, seed=11)
    torch.randn(100)  # global RNG use in between must not matter
    b = make("generator", NETS["mlp-batch"], POINTS, seed=11)
    c = make("generator", NETS["mlp-batch"], POINTS, seed=12)
    pa, pb, pc = (torch.cat([p.flatten() for p in x.net.parameters()]) for x in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_normal_init_has_the_requested_std():
    d = make("discriminator", {"type": "mlp", "hidden": [400, 400], "init": "normal", "init_std": 0.02}, POINTS)
    w = d.net.body[3].weight
    assert w.std().item() == pytest.approx(0.02, rel=0.05)


def test_unknown_network_key_names_the_path_and_the_closest():
    with pytest.raises(ConfigError, match=re.escape("net.hiden: unknown key 'hiden' for network 'mlp'; did you mean 'hidden'?")):
        make("generator", {"type": "mlp", "hiden": [3]}, POINTS)


def test_custom_module_class(tmp_path, monkeypatch):
    (tmp_path / "my_nets.py").write_text(textwrap.dedent("""
        import math
        import torch
        from torch import nn

        class Tiny(nn.Module):
            def __init__(self, in_shape, out_shape, width=8):
                super().__init__()
                self.out_shape = tuple(out_shape)
                self.body = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(in_shape), width), nn.ReLU(),
                                          nn.Linear(width, math.prod(out_shape)))

            def forward(self, x):
                return self.body(x).view(x.shape[0], *self.out_shape)

        def not_a_module(**kw):
            raise RuntimeError("must never be called")

        class NotModule:
            pass
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("my_nets", None)
    g = make("generator", {"type": "my_nets:Tiny", "width": 5}, POINTS)
    check_agent(g)
    assert g.net.body[1].out_features == 5
    d = make("discriminator", {"type": "my_nets:Tiny"}, POINTS)
    check_agent(d)
    for bad in ("my_nets:not_a_module", "my_nets:NotModule"):
        with pytest.raises(ConfigError, match=re.escape(f"net.type: '{bad}' is not a torch.nn.Module subclass")):
            make("generator", {"type": bad}, POINTS)
    with pytest.raises(ConfigError, match=re.escape("net.widht: unknown key 'widht' for my_nets:Tiny; did you mean 'width'?")):
        make("generator", {"type": "my_nets:Tiny", "widht": 3}, POINTS)
    with pytest.raises(ConfigError, match=re.escape("cannot import module 'no_such_module_x'")):
        make("generator", {"type": "no_such_module_x:Net"}, POINTS)


def test_check_agent_catches_outputs_outside_the_space():
    g = make("generator", {"type": "mlp", "hidden": [8], "out_act": "none"}, IMAGES[(1, 8, 8)])
    with torch.no_grad():
        g.net.body[-2].bias.fill_(5.0)
    with pytest.raises(AssertionError, match="leave the action space"):
        check_agent(g)
