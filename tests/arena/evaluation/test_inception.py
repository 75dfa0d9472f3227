"""arena/evaluation/inception.py: Inception FID and KID on request. The plumbing runs with a small
stand-in extractor (nothing here downloads anything); the statistics are checked against scipy and
against the definitions on known answers; the real torch-fidelity extractor is tested only where it
and its weights are installed."""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F

from arena.core.errors import ArenaError
from arena.core.files import cache_dir
from arena.evaluation import inception
from arena.evaluation.features import frechet_distance
from arena.evaluation.protocol import describe, protocol, same_protocol
from tests.conftest import run_cli, tiny_raw


def _with_moments(n: int, mean: torch.Tensor, cov: torch.Tensor, seed: int) -> torch.Tensor:
    """``n`` points whose sample mean and (unbiased) covariance are exactly ``mean`` and ``cov``."""
    x = torch.randn(n, mean.shape[0], generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x = x - x.mean(0)
    white = x @ torch.linalg.inv(torch.linalg.cholesky(torch.cov(x.T))).T
    return white @ torch.linalg.cholesky(cov).T + mean


def test_the_frechet_distance_of_known_gaussians():
    """Diagonal covariances: |mu_a - mu_b|^2 + sum (sqrt(a_i) - sqrt(b_i))^2, exactly."""
    mean_a, mean_b = torch.zeros(4, dtype=torch.float64), torch.tensor([1.0, 0.0, -2.0, 0.5], dtype=torch.float64)
    var_a, var_b = torch.tensor([1.0, 4.0, 9.0, 0.25], dtype=torch.float64), torch.tensor([4.0, 4.0, 1.0, 1.0], dtype=torch.float64)
    a = _with_moments(500, mean_a, torch.diag(var_a), 0)
    b = _with_moments(700, mean_b, torch.diag(var_b), 1)
    expected = float((mean_a - mean_b).square().sum() + (var_a.sqrt() - var_b.sqrt()).square().sum())
    assert expected == pytest.approx(5.25 + 1 + 0 + 4 + 0.25)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-9)


def test_the_frechet_distance_agrees_with_scipy_on_correlated_gaussians():
    """The formula as pytorch-fid and torch-fidelity compute it (scipy's sqrtm of S_a S_b)."""
    g = torch.Generator().manual_seed(3)
    m_a, m_b = torch.randn(6, 6, generator=g, dtype=torch.float64), torch.randn(6, 6, generator=g, dtype=torch.float64)
    a = _with_moments(300, torch.randn(6, generator=g, dtype=torch.float64), m_a @ m_a.T + 0.1 * torch.eye(6, dtype=torch.float64), 4)
    b = _with_moments(400, torch.randn(6, generator=g, dtype=torch.float64), m_b @ m_b.T + 0.1 * torch.eye(6, dtype=torch.float64), 5)
    mu_a, mu_b, s_a, s_b = a.mean(0).numpy(), b.mean(0).numpy(), np.cov(a.numpy(), rowvar=False), np.cov(b.numpy(), rowvar=False)
    root = scipy.linalg.sqrtm(s_a @ s_b).real
    expected = float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(root))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)


def _mmd2_by_loops(x: np.ndarray, y: np.ndarray) -> float:
    m, d = x.shape

    def k(a, b):
        return (a @ b / d + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_is_the_unbiased_mmd_with_a_cubic_kernel():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(12, 5, generator=g, dtype=torch.float64), torch.randn(12, 5, generator=g, dtype=torch.float64) + 0.5
    expected = _mmd2_by_loops(x.numpy(), y.numpy())
    assert inception.kernel_distance_subset(x, y) == pytest.approx(expected, rel=1e-10)
    # one subset holding every sample is the whole sets in another order: the same number, s.d. 0
    mean, std = inception.kernel_distance(x, y, subsets=1, subset_size=1000)
    assert (mean, std) == (pytest.approx(expected, rel=1e-10), 0.0)


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    g = torch.Generator().manual_seed(1)
    real = torch.randn(1000, 16, generator=g, dtype=torch.float64)
    same = torch.randn(1000, 16, generator=g, dtype=torch.float64)
    mean, std = inception.kernel_distance(real, same, subsets=10, subset_size=300)
    assert abs(mean) < 3 * std and std > 0  # unbiased: zero within its spread
    shifted, _ = inception.kernel_distance(real, same + 0.5, subsets=10, subset_size=300)
    assert shifted > 10 * std


def test_images_become_eight_bit_rgb():
    symmetric = torch.tensor([-1.0, 0.0, 1.0, 0.5]).reshape(1, 1, 2, 2)
    out = inception.to_uint8_rgb(symmetric, (1, 2, 2), -1.0, 1.0)
    assert out.dtype == torch.uint8 and out.shape == (1, 3, 2, 2)
    assert out[0, 0].flatten().tolist() == [0, 128, 255, 191] and torch.equal(out[0, 0], out[0, 2])
    unit = torch.tensor([0.0, 0.5, 1.0, 2.0, 0.1, 0.2]).repeat(2).reshape(1, 3, 2, 2)  # flat rows, clamped
    assert inception.to_uint8_rgb(unit.flatten(1), (3, 2, 2), 0.0, 1.0)[0].flatten().tolist() == \
        [0, 128, 255, 255, 26, 51, 0, 128, 255, 255, 26, 51]
    with pytest.raises(ArenaError, match="1 or 3 channels"):
        inception.to_uint8_rgb(torch.zeros(1, 2), (2,), 0.0, 1.0)


# ----------------------------------------------------------------------------- the weights


@pytest.fixture
def weights(tmp_path, monkeypatch):
    """A stand-in weights file, the cache in tmp_path, and the published checksum's prefix set to its own."""
    monkeypatch.setenv("GAN_ARENA_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    path = tmp_path / "weights.pth"
    torch.save({"w": torch.arange(6.0)}, path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setattr(inception, "HASH_PREFIX", sha[:8])
    return path, sha


def _stand_in(path, sha):
    """Mean over the channels, pooled to 4 x 4: 16 features of the 8-bit images."""

    def features(images: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(images.float().mean(1, keepdim=True), 4).flatten(1)

    return inception.Extractor(features, 16, f"stand-in pool 4x4, weights sha256:{sha}")


def test_without_weights_nothing_is_fetched_and_one_line_says_how(weights, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("nothing may be downloaded unless asked")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(ArenaError) as info:
        inception.weights_path()
    message = str(info.value)
    assert "\n" not in message and "--download" in message and inception.WEIGHTS_ENV in message
    assert inception.WEIGHTS_URL in message and "review.inception_weights" in message


def test_weights_named_by_the_environment_or_the_config(weights, monkeypatch, tmp_path):
    path, sha = weights
    assert inception.weights_path(str(path)) == path
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(path))
    assert inception.weights_path() == path
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(tmp_path / "missing.pth"))
    with pytest.raises(ArenaError, match=f"\\${inception.WEIGHTS_ENV} names .*missing.pth, which is not a file"):
        inception.weights_path()


def test_download_only_when_asked_into_the_cache_with_the_checksum_checked(weights, monkeypatch):
    path, sha = weights
    calls = []

    def fetch(url, dst, hash_prefix=None, progress=True):
        calls.append((url, hash_prefix))
        with open(dst, "wb") as out:
            out.write(path.read_bytes())

    monkeypatch.setattr(torch.hub, "download_url_to_file", fetch)
    got = inception.weights_path(download=True)
    assert calls == [(inception.WEIGHTS_URL, sha[:8])]
    assert got.name == inception.WEIGHTS_FILE and got.parent.name == "inception" and got.read_bytes() == path.read_bytes()
    assert inception.weights_path(download=True) == got and len(calls) == 1  # cached: fetched once


def test_a_failed_download_leaves_nothing_and_says_so_in_one_line(weights, monkeypatch):
    def offline(url, dst, hash_prefix=None, progress=True):
        with open(dst, "wb") as out:
            out.write(b"partial")
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(ArenaError) as info:
        inception.weights_path(download=True)
    assert "\n" not in str(info.value) and "download of" in str(info.value) and inception.WEIGHTS_ENV in str(info.value)
    assert not any(cache_dir("inception").iterdir())


def test_weights_that_are_not_the_published_ones_or_not_plain_tensors_are_refused(weights, monkeypatch, tmp_path):
    path, sha = weights
    monkeypatch.setattr(inception, "_build", _stand_in)
    assert inception.extractor(str(path)).name.endswith(sha)
    other = tmp_path / "other.pth"
    torch.save({"w": torch.ones(3)}, other)
    with pytest.raises(ArenaError, match="not the published Inception weights"):
        inception.extractor(str(other))
    hostile = tmp_path / "hostile.pth"
    torch.save({"w": torch.ones(1), "call": os.getcwd}, hostile)  # a pickled function: not weights
    monkeypatch.setattr(inception, "HASH_PREFIX", hashlib.sha256(hostile.read_bytes()).hexdigest()[:8])
    with pytest.raises(ArenaError, match="not a plain file of tensors"):
        inception.extractor(str(hostile))


def test_without_torch_fidelity_the_error_says_how_to_install_it(weights, monkeypatch):
    import sys

    path, _ = weights
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)  # import fails as if not installed
    with pytest.raises(ArenaError, match=r"pip install 'gan-arena\[fid\]'"):
        inception.extractor(str(path))


# ----------------------------------------------------------------------------- arena eval


@pytest.fixture(scope="module")
def trained_digits(tmp_path_factory):
    """One short run on 8x8 digits (300 held out), trained once for the module."""
    import yaml

    raw = tiny_raw(schedule={"matchings": 2, "steps_per_match": 5}, log={"report": False})
    raw["data"] = {"source": "digits", "test_size": 300}
    raw["agents"][0]["latent"] = {"dist": "normal", "dim": 8}
    root = tmp_path_factory.mktemp("digits")
    (root / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    assert run_cli("run", root / "config.yaml", "--out", root / "run", "--quiet") == 0
    return root / "run"


@pytest.fixture
def digits_run(trained_digits, tmp_path):
    """A copy of that run for one test (each writes its own eval.json)."""
    import shutil

    return Path(shutil.copytree(trained_digits, tmp_path / "digits"))


def test_eval_measures_fid_and_kid_on_request_and_stamps_the_extractor(digits_run, weights, monkeypatch, tmp_path, capsys):
    path, sha = weights
    monkeypatch.setattr(inception, "_build", _stand_in)
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(path))
    assert run_cli("eval", digits_run, "-n", 400, "--metrics", "fid-inception,kid_inception") == 0
    out = capsys.readouterr().out
    assert "fid_inception" in out and f"weights sha256:{sha}" in out and "test (300) real images" in out
    result = json.loads((digits_run / "eval.json").read_text())["g"]
    assert result["protocol"]["extractor"] == f"stand-in pool 4x4, weights sha256:{sha}"
    assert result["protocol"]["reference"] == "test (300)" and result["samples"] == 400

    # the same numbers from the samples and the held-out images directly
    from arena.api import load

    run = load(digits_run)
    data = run.arena.data
    fake = _stand_in(path, sha)(inception.to_uint8_rgb(run.sample(400, "g", 0), data.shape, data.low, data.high))
    real = _stand_in(path, sha)(inception.to_uint8_rgb(data.test, data.shape, data.low, data.high))
    assert result["fid_inception"] == pytest.approx(frechet_distance(real.double(), fake.double()), rel=1e-6)
    kid, kid_std = inception.kernel_distance(real.double(), fake.double())
    assert (result["kid_inception"], result["kid_inception_std"]) == (pytest.approx(kid, rel=1e-6), pytest.approx(kid_std, rel=1e-6))

    cached = list((tmp_path / "cache" / "inception").glob("reference-*.pt"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    assert run_cli("eval", digits_run, "-n", 400, "--metrics", "fid_inception") == 0
    assert cached[0].stat().st_mtime_ns == stamp, "the real images' features come from the cache"
    assert json.loads((digits_run / "eval.json").read_text())["g"]["fid_inception"] == pytest.approx(result["fid_inception"])


def test_eval_refuses_fid_without_weights_or_with_too_few_samples(digits_run, weights, monkeypatch, capsys):
    path, _ = weights
    assert run_cli("eval", digits_run, "--metrics", "fid_inception", "-n", 400) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--download" in err and inception.WEIGHTS_ENV in err
    monkeypatch.setattr(inception, "_build", _stand_in)
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(path))
    assert run_cli("eval", digits_run, "--metrics", "fid_inception", "-n", 16) == 2
    assert "more samples than its 16 features" in capsys.readouterr().err


def test_inception_metrics_are_measured_only_on_request_and_only_on_images():
    from arena.core.errors import ConfigError
    from arena.core.registry import build
    from arena.data import sources
    from arena.evaluation.measure import applicable_metrics, measure

    digits = build({"source": "digits"}, sources, ("data",), seed=0)
    assert "fid_inception" not in applicable_metrics(digits)  # the default arena eval needs no weights
    assert digits.kind.requested_metrics(digits) == ["fid_inception", "kid_inception"]
    ring = build({"source": "ring8", "train_size": 100, "test_size": 100}, sources, ("data",), seed=0)
    with pytest.raises(ConfigError, match="'fid_inception' does not apply to ring8 data"):
        measure(ring, None, ["fid-inception"])


def test_numbers_of_different_extractors_are_not_compared():
    from arena.report.compare import Group, compare

    a = protocol(10_000, 0, extractor="torch-fidelity 0.4.0 inception-v3-compat pool3 2048, weights sha256:aa", reference="test (10,000)")
    b = {**a, "extractor": a["extractor"].replace("aa", "bb")}
    assert same_protocol(a, dict(a)) and not same_protocol(a, b)
    assert "weights sha256:aa against test (10,000) real images" in describe(a)
    groups = [Group(name, {"seed 0": {"metrics": {"fid_inception": 1.0}, "protocol": p, "source": "eval"}})
              for name, p in (("A", a), ("B", b))]
    with pytest.raises(ArenaError, match="another protocol .*sha256:bb"):
        compare(groups)
    assert compare(groups, any_protocol=True).metrics == ["fid_inception"]


# ----------------------------------------------------------------------------- the real extractor


def _real_extractor():
    try:
        return inception.extractor()
    except ArenaError as exc:
        pytest.skip(f"the real Inception extractor is not available here: {exc}")


def test_the_real_inception_extractor_reads_mnist_digits():
    """Where torch-fidelity and the published weights are installed: 2,048 features, deterministic,
    and real digits nearer real digits than noise."""
    from arena.core.registry import build
    from arena.data import sources

    model = _real_extractor()
    data = build({"source": "mnist5k", "range": "symmetric"}, sources, ("data",), seed=0)
    images = inception.to_uint8_rgb(data.test[:96], data.shape, data.low, data.high)
    first = inception.extract(model, images)
    assert first.shape == (96, 2048) and torch.isfinite(first).all()
    assert torch.equal(first, inception.extract(model, images))
    noise = inception.extract(model, torch.randint(0, 256, (48, 3, 28, 28), dtype=torch.uint8))
    assert inception.kernel_distance(first[:48], first[48:], 10, 48)[0] < inception.kernel_distance(first[:48], noise, 10, 48)[0]


def test_eval_download_fetches_the_weights_over_http_once(digits_run, weights, monkeypatch, tmp_path):
    """`arena eval --download` through torch.hub's real download code, from a server on localhost
    standing in for the release page; a file whose checksum does not match its name is refused."""
    import functools
    import http.server
    import threading

    path, sha = weights
    served = tmp_path / "served"
    served.mkdir()
    (served / inception.WEIGHTS_FILE).write_bytes(path.read_bytes())
    (served / "tampered.pth").write_bytes(path.read_bytes() + b"x")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        monkeypatch.setattr(inception, "_build", _stand_in)
        monkeypatch.setattr(inception, "WEIGHTS_URL", base + "tampered.pth")
        with pytest.raises(ArenaError, match="download of .*tampered.pth failed"):
            inception.weights_path(download=True)
        assert not (cache_dir("inception") / inception.WEIGHTS_FILE).exists()
        monkeypatch.setattr(inception, "WEIGHTS_URL", base + inception.WEIGHTS_FILE)
        assert run_cli("eval", digits_run, "-n", 300, "--metrics", "fid_inception", "--download") == 0
    finally:
        server.shutdown()
    cached = cache_dir("inception") / inception.WEIGHTS_FILE
    assert cached.read_bytes() == path.read_bytes()
    assert json.loads((digits_run / "eval.json").read_text())["g"]["protocol"]["extractor"].endswith(sha)
