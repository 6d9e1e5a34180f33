"""Models: reference parameter counts, the scrambled ViT unpatchify, shift/D4 structure,
dtypes and sizes, reference initialisation, checkpoints and errors (docs/algorithms.md §2)."""

from __future__ import annotations

import math

import pytest
import torch

from symaudit import groups
from symaudit.cli import main
from symaudit.datasets import channels_for
from symaudit.models import (
    PRESETS,
    build,
    count_parameters,
    load_checkpoint,
    save_checkpoint,
    twirled,
    unpatchify,
)
from symaudit.models._layers import InstanceNormSwish, SpatialRMSNorm, TokenRMSNorm
from symaudit.testing import assert_equivariant

CE = channels_for("CE")
NS = channels_for("NS")


pytestmark = pytest.mark.usefixtures("one_thread")


def _seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _fields(n: int, c: int, size: int, dtype=torch.float64, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, c, size, size, generator=_seeded(seed), dtype=torch.float64).to(dtype)


# --- parameter counts (oracle: the docs/algorithms.md §2.1/§2.2 layouts, counted by hand) ----


@pytest.mark.parametrize(
    "model, dataset, expected",
    [
        ("unet", "CE", 13875081),
        ("unet", "NS", 13869175),
        ("vit", "CE", 4504913),
        ("vit", "NS", 4483889),
    ],
)
def test_paper_parameter_counts_via_cli(model, dataset, expected, capsys):
    assert main(["model-info", model, "--preset", "paper", "--dataset", dataset]) == 0
    assert capsys.readouterr().out.strip() == f"parameters: {expected}"


def test_twirled_model_shares_the_base_parameters():
    base = count_parameters(build("unet", "tiny", 4))
    assert count_parameters(build("twirled-unet", "tiny", 4, CE)) == base


def test_tiny_presets_are_cpu_sized():
    unet = count_parameters(build("unet", "tiny", 4, resolution=32))
    vit = count_parameters(build("vit", "tiny", 4, resolution=32))
    assert 1e4 <= unet <= 1e5 and 1e4 <= vit <= 1e5


def test_vit_parameter_count_formula_at_32():
    # patch conv + pos embedding (64 tokens) + depth x block + head; c = 32, F = 2, depth 2
    c, f, tokens, depth = 32, 2, 64, 2
    block = 2 + 4 * c * c + (c * 2 * c + 2 * c) + (2 * c * c + c)
    expected = (25 * f * c + c) + tokens * c + depth * block + (1 + c * 16 * f + 16 * f)
    assert count_parameters(build("vit", "tiny", f, resolution=32)) == expected


# --- ViT unpatchify: the reference's scrambled mapping, checked index by index --------------


@pytest.mark.parametrize("n, per_row", [(128, 8), (32, 2)])
def test_unpatchify_index_mapping(n, per_row):
    channels, tokens = 3, (n // 4) ** 2
    # value encodes (p, f, a) uniquely: feature a + 16 f of token p
    p = torch.arange(tokens)[:, None, None]
    f = torch.arange(channels)[None, :, None]
    a = torch.arange(16)[None, None, :]
    code = (p * 1000 + f * 100 + a).to(torch.float64)  # (L, F, 16)
    y = code.reshape(1, tokens, channels * 16)  # feature index a + 16 f (a fastest)
    out = unpatchify(y, channels, n)
    assert out.shape == (1, channels, n, n)
    for pp in (0, 1, per_row - 1, per_row, tokens // 2 + 3, tokens - 1):
        for ff in range(channels):
            for aa in (0, 5, 15):
                # the spec's formula: W = 16 (p mod per_row) + a, H = floor(p / per_row)
                h, w = pp // per_row, 16 * (pp % per_row) + aa
                assert out[0, ff, h, w] == pp * 1000 + ff * 100 + aa
    # token p's 16 values per channel form ONE horizontal 1 x 16 strip, not a 4 x 4 patch
    rows, cols = torch.nonzero((out[0, 0] // 1000) == 1, as_tuple=True)
    assert set(rows.tolist()) == {0} and cols.tolist() == list(range(16, 32))


def test_vit_output_is_unpatchified_head_output():
    model = build("vit", "tiny", 2, resolution=32, dtype=torch.float64)
    captured = {}
    model.head.register_forward_hook(lambda mod, inp, out: captured.setdefault("y", out))
    out = model(_fields(2, 2, 32))
    assert torch.equal(out, unpatchify(captured["y"], 2, 32))
    y = captured["y"]  # (batch, 64 tokens, 32 features); token 3 writes row 1, x = 16..31
    assert torch.equal(out[1, 1, 1, 16:32], y[1, 3, 16:32])


# --- structure: shifts, D4 -----------------------------------------------------------------


def test_unet_commutes_with_shifts_by_multiples_of_16():
    model = build("unet", "tiny", 4, resolution=128, generator=_seeded(1), dtype=torch.float64)
    x = _fields(1, 4, 128)
    with torch.no_grad():
        y = model(x)
        for dx, dy in [(16, 0), (0, 32), (48, 112)]:
            shifted = model(torch.roll(x, shifts=(dy, dx), dims=(-2, -1)))
            expected = torch.roll(y, shifts=(dy, dx), dims=(-2, -1))
            assert (shifted - expected).abs().max() < 1e-10 * y.abs().max()
        # not a multiple of the total stride: genuinely different (the check has teeth)
        off = model(torch.roll(x, shifts=(0, 8), dims=(-2, -1)))
        assert (off - torch.roll(y, shifts=(0, 8), dims=(-2, -1))).abs().max() > 1e-4


@pytest.mark.parametrize("name, channels", [("unet", CE), ("vit", NS)])
def test_twirled_model_is_d4_equivariant_and_base_is_not(name, channels):
    f = len(channels)
    base = build(name, "tiny", f, resolution=32, generator=_seeded(2), dtype=torch.float64)
    x = _fields(1, f, 32)  # float64 convolutions are slow on CPU: one example suffices
    deviations = assert_equivariant(twirled(base, channels), groups.D4, x, channels, atol=1e-5)
    assert max(deviations.values()) < 1e-10
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(base, groups.D4, x, channels, atol=1e-5)


def test_build_twirled_by_name_matches_wrapping():
    a = build("twirled-unet", "tiny", 4, CE, resolution=32, generator=_seeded(3))
    b = twirled(build("unet", "tiny", 4, resolution=32, generator=_seeded(3)), CE)
    x = _fields(2, 4, 32, torch.float32)
    with torch.no_grad():
        assert torch.equal(a(x), b(x))


# --- dtypes and sizes ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["unet", "vit"])
@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_and_dtypes(name, size, dtype):
    model = build(name, "tiny", 4, resolution=size, dtype=dtype)
    x = _fields(1, 4, size, dtype)
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape and y.dtype == dtype and torch.isfinite(y).all()


def test_examples_are_independent():
    # per-sample normalisations only: a batch of 3 equals three batches of 1
    model = build("unet", "tiny", 2, resolution=32, dtype=torch.float64)
    x = _fields(3, 2, 32)
    with torch.no_grad():
        joint = model(x)
        alone = torch.cat([model(x[i : i + 1]) for i in range(3)])
    assert (joint - alone).abs().max() < 1e-12


# --- layers: the reference's (non-standard) semantics ---------------------------------------


def test_normalisation_layers_match_formulas():
    x = _fields(2, 3, 8) * 3 + 1
    rms = SpatialRMSNorm().double()
    with torch.no_grad():
        rms.weight.fill_(2.0)
        expected = x / torch.sqrt((x**2).mean(dim=(-2, -1), keepdim=True) + 1e-5) * 2.0
        assert torch.allclose(rms(x), expected, rtol=1e-12, atol=0)
        tokens = x.flatten(2).transpose(1, 2)  # (batch, token, feature = 3)
        expected = tokens / torch.sqrt((tokens**2).mean(dim=-1, keepdim=True) + 1e-5)
        assert torch.allclose(TokenRMSNorm().double()(tokens), expected, rtol=1e-12, atol=0)
        norm = InstanceNormSwish(3).double()
        norm.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
        norm.bias.copy_(torch.tensor([0.0, -1.0, 0.3]))
        mu = x.mean(dim=(-2, -1), keepdim=True)
        var = x.var(dim=(-2, -1), keepdim=True, unbiased=False)
        gamma, beta = norm.weight[:, None, None], norm.bias[:, None, None]
        z = (x - mu) / torch.sqrt(var + 1e-5) * gamma + beta
        assert torch.allclose(norm(x), z * torch.sigmoid(z), rtol=1e-12, atol=1e-15)
    assert rms.weight.numel() == 1  # ONE scalar gain, not one per channel


def test_pooling_is_a_fixed_buffer():
    model = build("unet", "tiny", 4)
    names = {n for n, _ in model.named_parameters()}
    assert not any("pool" in n for n in names)
    pool = dict(model.named_buffers())["down_1.pool"]
    assert pool.shape == (4, 1, 9, 9) and torch.all(pool == 1 / 81)


def test_reference_initialisation():
    unet = build("unet", "paper", 4, generator=_seeded(0))
    w = unet.down_4.conv1.weight  # kaiming-normal N(0, 2/fan_in), fan_in = 3*3*192
    assert abs(w.std().item() / math.sqrt(2 / (9 * 192)) - 1) < 0.02
    assert abs(w.mean().item()) < 0.05 * w.std().item()
    b = unet.down_4.conv1.bias
    assert b.abs().max() <= 1 / math.sqrt(9 * 192)
    q = unet.across_attn.attn.q.weight  # Lux uniform U(+-sqrt(3/fan_in)), fan_in = 768
    bound = math.sqrt(3 / 768)
    assert q.abs().max() <= bound and q.abs().max() > 0.99 * bound
    assert abs(q.std().item() / (bound / math.sqrt(3)) - 1) < 0.02
    assert unet.across_attn.attn.q.bias is None  # bias-free attention (docs/algorithms.md §2.3)
    vit = build("vit", "paper", 4, generator=_seeded(0))
    assert abs(vit.pos_embed.std().item() - 1) < 0.01  # N(0, 1), unscaled
    m = vit.blocks[0].mlp_in.weight
    assert m.abs().max() <= math.sqrt(3 / 256) and m.abs().max() > 0.99 * math.sqrt(3 / 256)
    assert len(vit.blocks) == 8 and vit.blocks[0].attn.heads == 8


def test_initialisation_is_seeded():
    a = build("vit", "tiny", 2, resolution=32, generator=_seeded(5)).state_dict()
    b = build("vit", "tiny", 2, resolution=32, generator=_seeded(5)).state_dict()
    c = build("vit", "tiny", 2, resolution=32, generator=_seeded(6)).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["pos_embed"], c["pos_embed"])


# --- checkpoints ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, channels, dtype",
    [("unet", None, torch.float32), ("twirled-vit", NS, torch.float64)],
)
def test_checkpoint_round_trip_weights_only(tmp_path, name, channels, dtype):
    model = build(name, "tiny", 2, channels, resolution=32, generator=_seeded(7), dtype=dtype)
    meta = {"epoch": 3, "note": "x", "losses": [0.5, 0.25], "nested": {"ok": True, "none": None}}
    path = save_checkpoint(tmp_path / "m.pt", model, meta, optimizer={"lr": 5e-4, "step": 3})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]  # no temporary left over
    raw = torch.load(path, weights_only=True)  # plain types only: loads without pickled code
    assert raw["state"]["optimizer"] == {"lr": 5e-4, "step": 3}
    loaded, got = load_checkpoint(path)
    assert got["epoch"] == 3 and got["nested"] == {"ok": True, "none": None}
    assert got["model"]["name"] == name and got["model"]["dtype"] == str(dtype)[6:]
    reference = model.state_dict()
    assert all(torch.equal(reference[k], v) for k, v in loaded.state_dict().items())
    x = _fields(2, 2, 32, dtype)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def test_checkpoint_refuses_unpicklable_meta(tmp_path):
    model = build("unet", "tiny", 2, resolution=32)
    with pytest.raises(TypeError, match="meta.where.*PosixPath"):
        save_checkpoint(tmp_path / "m.pt", model, {"where": tmp_path})
    assert not list(tmp_path.iterdir())


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt"):
        load_checkpoint(tmp_path / "bad.pt")


def test_checkpoint_version_and_foreign_weights_are_refused_in_one_line(tmp_path):
    unet = save_checkpoint(tmp_path / "u.pt", build("unet", "tiny", 2, resolution=32), {})
    vit = save_checkpoint(tmp_path / "v.pt", build("vit", "tiny", 2, resolution=32), {})
    payload = torch.load(unet, weights_only=True)
    payload["version"] = 99
    torch.save(payload, tmp_path / "v99.pt")
    with pytest.raises(ValueError, match=r"v99.pt: format version 99, .* reads version 1; .*newer"):
        load_checkpoint(tmp_path / "v99.pt")
    payload["version"], payload["state_dict"] = 1, torch.load(vit, weights_only=True)["state_dict"]
    torch.save(payload, tmp_path / "mixed.pt")  # metadata: UNet; weights: a ViT's
    with pytest.raises(ValueError, match=r"mixed.pt: its weights do not fit the 'unet' model") as e:
        load_checkpoint(tmp_path / "mixed.pt")
    assert "weights missing" in str(e.value) and "\n" not in str(e.value)


# --- errors --------------------------------------------------------------------------------


def test_unknown_model_and_preset():
    with pytest.raises(ValueError, match="unknown model 'resnet'; known: unet, vit, twirled-unet"):
        build("resnet", "tiny", 4)
    with pytest.raises(ValueError, match="unknown preset 'huge'; known: " + ", ".join(PRESETS)):
        build("unet", "huge", 4)
    with pytest.raises(ValueError, match="needs the store's channel list"):
        build("twirled-vit", "tiny", 4)


def test_bad_input_sizes():
    unet = build("unet", "tiny", 4, resolution=32)
    with pytest.raises(ValueError, match=r"UNet input shape \(1, 4, 40, 40\).*divisible by 16"):
        unet(torch.zeros(1, 4, 40, 40))
    vit = build("vit", "tiny", 4, resolution=32)
    with pytest.raises(ValueError, match=r"ViT input shape \(1, 4, 64, 64\).*patch grid"):
        vit(torch.zeros(1, 4, 64, 64))
    with pytest.raises(ValueError, match="ViT resolution 30"):
        build("vit", "tiny", 4, resolution=30)
    with pytest.raises(ValueError, match="UNet resolution 40"):
        build("unet", "tiny", 4, resolution=40)


def test_model_info_cli_errors(capsys):
    assert main(["model-info", "resnet", "--preset", "tiny", "--dataset", "CE"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown model 'resnet'" in err and "\n" not in err
    assert main(["model-info", "unet", "--preset", "tiny", "--dataset", "XX"]) == 2
    assert "unknown dataset 'XX'" in capsys.readouterr().err
