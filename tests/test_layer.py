import pytest
import torch

from s4forecast import S4Encoder, S4Layer, param_groups
from s4forecast.nn.conv import DIRECT_MAX_LEN, conv, direct_conv, fft_conv


def run_steps(module, x):
    """The recurrent view over a (B, L, d) input, one position at a time -> (B, L, d_out)."""
    module.setup_step()
    state, ys = module.default_state(x.shape[0]), []
    for t in range(x.shape[1]):
        y_t, state = module.step(x[:, t], state)
        ys.append(y_t)
    return torch.stack(ys, 1)


def layer(mode="nplr", **kw):
    init = "legs" if mode != "diag" else "diag-lin"
    return S4Layer(6, d_state=8, l_max=40, mode=mode, init=init, **kw).double()


@pytest.mark.parametrize("mode", ["nplr", "diag", "dense"])
def test_recurrent_step_equals_convolution(mode):
    m = layer(mode).eval()
    x = torch.randn(2, 40, 6, dtype=torch.float64)
    torch.testing.assert_close(run_steps(m, x), m(x), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("prenorm", [True, False])
def test_encoder_step_equals_forward(prenorm):
    enc = S4Encoder(3, d_model=8, n_layers=2, d_state=8, l_max=30, prenorm=prenorm, norm="batch").double().eval()
    x = torch.randn(2, 30, 3, dtype=torch.float64)
    torch.testing.assert_close(run_steps(enc, x), enc(x), rtol=1e-8, atol=1e-8)


OPTIMISERS = {
    "sgd": lambda params: torch.optim.SGD(params, lr=0.1),
    "adamw": lambda params: torch.optim.AdamW(params, lr=0.1, foreach=False),
    "adamw fused": lambda params: torch.optim.AdamW(params, lr=0.1, fused=True),  # no version bump
}


@pytest.mark.parametrize("update", ["in place", *OPTIMISERS])
def test_step_after_parameter_update_requires_new_setup(update):
    m = layer().eval()
    m.setup_step()
    if update == "in place":
        with torch.no_grad():
            m.ssm[0].log_dt.add_(0.5)
    else:
        with torch.enable_grad():
            m(torch.randn(1, 10, 6, dtype=torch.float64)).square().sum().backward()
        OPTIMISERS[update](m.parameters()).step()
    with pytest.raises(RuntimeError, match="setup_step"):
        m.step(torch.randn(1, 6, dtype=torch.float64), m.default_state(1))
    x = torch.randn(1, 10, 6, dtype=torch.float64)  # setup_step again: the updated parameters are used
    torch.testing.assert_close(run_steps(m, x), m(x), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("mode", ["nplr", "diag"])
def test_causality(mode):
    m = layer(mode).eval()
    x = torch.randn(1, 40, 6, dtype=torch.float64)
    x2 = x.clone()
    x2[:, 25:] += torch.randn(1, 15, 6, dtype=torch.float64)
    y, y2 = m(x), m(x2)
    torch.testing.assert_close(y[:, :25], y2[:, :25], rtol=0, atol=1e-12)
    assert (y[:, 25:] - y2[:, 25:]).abs().max() > 1e-3


def test_bidirectional_reads_the_future():
    m = layer(bidirectional=True).eval()
    assert m.conv_kernel(40).shape == (2, 6, 40)
    x = torch.randn(1, 40, 6, dtype=torch.float64)
    x2 = x.clone()
    x2[:, 30] += 1.0
    assert (m(x)[:, :30] - m(x2)[:, :30]).abs().max() > 1e-6
    with pytest.raises(RuntimeError, match="bidirectional"):
        m.setup_step()


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_encoder_with_lengths_gives_each_sequence_its_unpadded_output(bidirectional, norm):
    """Right-padding with arbitrary values changes nothing on a sequence's own positions once the
    encoder knows the lengths; the reference is each sequence run alone, unpadded."""
    enc = S4Encoder(3, d_model=8, n_layers=2, d_state=8, l_max=30, bidirectional=bidirectional, norm=norm)
    enc = enc.double().eval()
    lengths = torch.tensor([30, 17, 5])
    x = torch.randn(3, 30, 3, dtype=torch.float64)
    y = enc(x, lengths=lengths)
    for b, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(y[b, :n], enc(x[b : b + 1, :n])[0], rtol=1e-9, atol=1e-9)
    if bidirectional:  # without the lengths the padding leaks backwards
        assert (enc(x)[1, :17] - y[1, :17]).abs().max() > 1e-4
    single = enc.blocks[0].layer  # the layer's own entry point
    h = torch.randn(3, 30, 8, dtype=torch.float64)
    torch.testing.assert_close(single(h, lengths=lengths)[1, :17], single(h[1:2, :17])[0], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    "lengths, match",
    [
        ([3.0, 2.0], "integer"),
        ([3, 2, 1], r"shape \(2,\)"),
        ([0, 2], r"\[1, 4\]"),
        ([5, 2], r"\[1, 4\]"),
    ],
)
def test_encoder_rejects_lengths_that_do_not_fit(lengths, match):
    enc = S4Encoder(3, d_model=8, n_layers=1, d_state=8, bidirectional=True)
    with pytest.raises((TypeError, ValueError), match=match):
        enc(torch.randn(2, 4, 3), lengths=torch.tensor(lengths))
    with pytest.raises(TypeError, match="integer"):
        enc(torch.randn(2, 4, 3), lengths=[4, 2])


@pytest.mark.parametrize("L", [DIRECT_MAX_LEN - 4, DIRECT_MAX_LEN + 8])  # the direct and the FFT path of `conv`
def test_convolution_has_no_circular_wrap(L):
    m = layer().eval()
    x = torch.zeros(1, L, 6, dtype=torch.float64)
    x[:, -1] = 1.0  # an impulse at the last position must not leak to the start
    y = m(x)
    y0 = m(torch.zeros_like(x))
    torch.testing.assert_close(y[:, :-1], y0[:, :-1], rtol=0, atol=1e-12)


def _explicit_sums(u, k):
    """Explicit sums: causal k (H, L), or (2, H, L) with the second kernel reading u[t+1+j]."""
    L = u.shape[-1]
    k_causal, k_future = (k[0], k[1]) if k.dim() == 3 else (k, None)
    out = []
    for t in range(L):
        y = sum(k_causal[:, j] * u[..., t - j] for j in range(t + 1))
        if k_future is not None:
            y = y + sum(k_future[:, j] * u[..., t + 1 + j] for j in range(L - 1 - t))
        out.append(y)
    return torch.stack(out, -1)


@pytest.mark.parametrize("L", [17, DIRECT_MAX_LEN + 5])
@pytest.mark.parametrize("convolve", [fft_conv, direct_conv, conv])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_conv_values_and_gradients_match_explicit_sums(bidirectional, convolve, L):
    torch.manual_seed(0)
    u = torch.randn(3, 4, L, dtype=torch.float64, requires_grad=True)
    k = torch.randn(*(2, 4, L) if bidirectional else (4, L), dtype=torch.float64, requires_grad=True)
    grad_y = torch.randn(3, 4, L, dtype=torch.float64)
    y = convolve(u, k)
    expected = _explicit_sums(u, k)
    torch.testing.assert_close(y, expected, rtol=1e-10, atol=1e-10)
    for got, want in zip(torch.autograd.grad(y, (u, k), grad_y), torch.autograd.grad(expected, (u, k), grad_y)):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_layer_matches_direct_convolution():
    m = layer(postact="linear", activation="identity").eval()
    x = torch.randn(1, 40, 6, dtype=torch.float64)
    k = m.conv_kernel(40)
    direct = torch.stack([sum(k[:, j] * x[0, t - j] for j in range(t + 1)) for t in range(40)])
    expected = m.output(direct + x[0] * m.D)
    torch.testing.assert_close(m(x)[0], expected, rtol=1e-9, atol=1e-9)


def test_gradients_reach_ssm_parameters_and_are_finite():
    m = S4Layer(4, d_state=8, l_max=64)
    m(torch.randn(2, 64, 4)).square().mean().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_param_groups_give_ssm_params_their_own_lr_and_no_decay():
    enc = S4Encoder(3, d_model=8, n_layers=2, d_state=8, l_max=16)
    groups = param_groups(enc, lr=1e-2, weight_decay=0.1, ssm_lr=1e-3)
    assert [g["lr"] for g in groups] == [1e-2, 1e-3] and groups[1]["weight_decay"] == 0.0
    ssm_params = {id(p) for b in enc.blocks for s in b.layer.ssm for p in s.parameters()}
    assert {id(p) for p in groups[1]["params"]} == ssm_params
    assert sum(len(g["params"]) for g in groups) == len(list(enc.parameters()))
    torch.optim.AdamW(groups)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(mode="fancy"), "unknown `mode` 'fancy'"),
        (dict(init="legx"), "unknown `init` 'legx'"),
        (dict(backend="gpu"), "unknown `backend` 'gpu' \\(Cauchy kernel\\)"),
        (dict(d_state=7), "even"),
        (dict(discretization="euler"), "unknown `discretization`"),
        (dict(activation="swish"), "unknown `activation`"),
        (dict(postact="mlp"), "unknown `postact`"),
        (dict(dt_min=0.1, dt_max=0.01), "dt_min"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, match):
    args = dict(d_model=4, d_state=8, l_max=16) | kwargs
    with pytest.raises(ValueError, match=match):
        S4Layer(**args)(torch.randn(1, 16, 4))


def test_bad_input_raises_clear_errors():
    m = S4Layer(4, d_state=8, l_max=16)
    x = torch.randn(1, 16, 4)
    x[0, 3, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        m(x)
    with pytest.raises(ValueError, match=r"shape \(batch, length, 4\)"):
        m(torch.randn(16, 4))


def test_float32_layer_close_to_float64():
    m = S4Layer(4, d_state=16, l_max=128)
    x = torch.randn(2, 128, 4)
    y32 = m(x)
    y64 = m.double()(x.double())
    torch.testing.assert_close(y32.double(), y64, rtol=1e-3, atol=1e-4)


def test_bfloat16_autocast_keeps_the_convolution_in_float32():
    """Under CPU bf16 autocast only the output matmuls run in bfloat16: the result stays close to the
    float32 layer's (a bf16 FFT would not even run; a bf16 kernel would be ~1e-2 off)."""
    torch.manual_seed(0)
    m = S4Layer(8, d_state=16, l_max=64)
    x = torch.randn(2, 64, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = m(x)
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y.float(), m(x), rtol=5e-2, atol=5e-2)


@pytest.mark.parametrize("convolution", ["fft", "direct"])
def test_layer_convolution_option_gives_the_same_output(convolution):
    """Every convolution method of S4Layer (and so S4Model / S4Classifier) gives the auto one's output
    and gradients, on both sides of DIRECT_MAX_LEN."""
    torch.manual_seed(0)
    for L in (DIRECT_MAX_LEN - 5, DIRECT_MAX_LEN + 8):
        auto, other = (layer(convolution=c) for c in ("auto", convolution))
        other.load_state_dict(auto.state_dict())
        x = torch.randn(2, L, 6, dtype=torch.float64)
        y_auto, y_other = auto(x), other(x)
        torch.testing.assert_close(y_other, y_auto, rtol=1e-10, atol=1e-10)
        y_auto.square().sum().backward()
        y_other.square().sum().backward()
        for (name, a), b in zip(auto.named_parameters(), other.parameters()):
            torch.testing.assert_close(b.grad, a.grad, rtol=1e-8, atol=1e-10, msg=name)


@pytest.mark.parametrize("L", [DIRECT_MAX_LEN, 64])
def test_conv_ignores_bfloat16_autocast(L):
    torch.manual_seed(0)
    u, k = torch.randn(2, 8, L), torch.randn(8, L)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = conv(u, k)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, conv(u, k), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("optimiser", OPTIMISERS)
@pytest.mark.parametrize("rate", [1.0, 0.25])
def test_prediction_reuses_the_kernel_until_the_parameters_change(rate, optimiser):
    """Without autograd the kernel is computed once per (L, rate, parameters); a changed parameter (an
    optimiser step of any implementation, load_state_dict) gives the kernel a fresh computation with
    autograd would give."""
    layer = S4Layer(8, d_state=8, l_max=32)
    with torch.no_grad():
        shorter = layer.conv_kernel(16, rate)
        first = layer.conv_kernel(32, rate)
        assert first is not shorter and first.shape[-1] == 32  # another length
        assert layer.conv_kernel(32, rate) is first  # kept: the step below must replace it
    loss = layer.conv_kernel(32, rate).square().sum()  # with autograd: never cached
    loss.backward()
    OPTIMISERS[optimiser](layer.parameters()).step()
    with torch.no_grad():
        after_step = layer.conv_kernel(32, rate)
    torch.testing.assert_close(after_step, layer.conv_kernel(32, rate).detach())
    assert not torch.allclose(after_step, first)
    other = S4Layer(8, d_state=8, l_max=32, seed=1)
    layer.load_state_dict(other.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(layer.conv_kernel(32, rate), other.conv_kernel(32, rate))
