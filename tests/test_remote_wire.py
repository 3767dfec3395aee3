"""The network live view's messages: framing, model snapshots and deltas, the viewer's state;
round trips, and refusals of truncated, oversized and garbage input in both directions."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from viewer.camera import Camera
from viewer.protocol import LiveOptions, ModelUpdate
from viewer.remote.address import is_loopback, parse_address
from viewer.remote.codec import (
    decode_controls,
    decode_hello,
    decode_model,
    decode_options,
    decode_state,
    encode_hello,
    encode_model,
    encode_options,
    encode_state,
    pack,
)
from viewer.remote.frames import (
    HEADER,
    MAX_PAYLOAD,
    TO_TRAINER,
    TO_VIEWER,
    FrameError,
    FrameReader,
    Kind,
    frame,
)
from viewer.settings import LiveControls

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def model(n: int = 50, coefficients: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "means": rng.normal(size=(n, 3)).astype(np.float32) * 10,
        "scales": rng.normal(size=(n, 3)).astype(np.float32) - 3,
        "quats": rng.normal(size=(n, 4)).astype(np.float32),
        "opacities": rng.normal(size=n).astype(np.float32),
        "sh": rng.normal(size=(n, coefficients, 3)).astype(np.float32),
    }


def close_to(tensors: dict[str, np.ndarray], sent: dict[str, np.ndarray]) -> None:
    """Centres exact (float32), the rest within float16's rounding."""
    assert np.array_equal(tensors["means"], sent["means"])
    for ours, theirs in (("scales", "scales"), ("rotations", "quats"), ("opacities", "opacities"),
                         ("sh", "sh")):  # fmt: skip
        np.testing.assert_allclose(tensors[ours], sent[theirs], rtol=2**-10, atol=2**-14)


@FUZZ
@given(
    messages=st.lists(st.tuples(st.sampled_from(sorted(TO_TRAINER)), st.binary(max_size=300))),
    cuts=st.lists(st.integers(1, 64), min_size=1),
)
def test_frames_round_trip_in_any_chunking(messages, cuts):
    stream = b"".join(frame(kind, payload) for kind, payload in messages)
    reader = FrameReader(TO_TRAINER)
    out, at, i = [], 0, 0
    while at < len(stream):
        step = cuts[i % len(cuts)]
        out += reader.feed(stream[at : at + step])
        at, i = at + step, i + 1
    assert out == list(messages)


def test_lengths_over_the_bound_and_unexpected_types_are_refused_before_reading():
    reader = FrameReader(TO_TRAINER)
    with pytest.raises(FrameError, match="over the bound"):
        reader.feed(HEADER.pack(Kind.STATE, MAX_PAYLOAD[Kind.STATE] + 1))
    with pytest.raises(FrameError, match="unexpected"):
        FrameReader(TO_TRAINER).feed(HEADER.pack(Kind.MODEL, 10))  # trainer -> viewer only
    with pytest.raises(FrameError, match="unexpected"):
        FrameReader(TO_VIEWER).feed(HEADER.pack(99, 0))
    with pytest.raises(FrameError, match="over the bound"):
        frame(Kind.HELLO, bytes(MAX_PAYLOAD[Kind.HELLO] + 1))


@FUZZ
@given(data=st.binary(max_size=2000))
def test_garbage_streams_give_frames_or_frame_errors(data):
    for accepts in (TO_TRAINER, TO_VIEWER):
        with contextlib.suppress(FrameError):
            FrameReader(accepts).feed(data)


def test_a_snapshot_then_a_delta_of_the_changed_rows():
    sent = model()
    update = ModelUpdate(1, 10, None, True, {"loss": 0.5, "psnr": float("inf")}, 1.0, "hi")
    first = pack(sent)
    message = decode_model(encode_model(update, first, None))
    assert message.rows is None and message.update.stats == {"loss": 0.5}  # inf: not sent
    held = message.applied(None)
    close_to(held.tensors(), sent)
    sent["means"][[3, 7]] += 1.0
    sent["sh"][11] *= 2.0
    payload = encode_model(ModelUpdate(2, 11, None), pack(sent), first)
    delta = decode_model(payload)
    assert delta.rows is not None and sorted(delta.rows.tolist()) == [3, 7, 11]
    assert len(payload) < 400  # three rows and a head, not fifty rows
    close_to(delta.applied(held).tensors(), sent)


def test_a_delta_of_most_rows_is_sent_as_a_snapshot():
    sent = model()
    first = pack(sent)
    sent["means"] += 1.0
    assert decode_model(encode_model(ModelUpdate(2, 1, None), pack(sent), first)).rows is None


def test_float16_overflow_is_clamped_not_infinite():
    sent = model()
    sent["opacities"][0] = 1e9
    tensors = decode_model(encode_model(ModelUpdate(1, 1, None), pack(sent), None)).applied(None)
    assert np.isfinite(tensors.tensors()["opacities"]).all()


def test_torch_tensors_pack_as_numpy_arrays():
    torch = pytest.importorskip("torch")
    sent = model()
    as_torch = {name: torch.from_numpy(value.copy()) for name, value in sent.items()}
    assert np.array_equal(pack(as_torch).rest, pack(sent).rest)


@FUZZ
@given(cut=st.integers(0, 10_000), flips=st.lists(st.integers(0, 10_000), max_size=4))
def test_truncated_or_flipped_models_decode_or_raise_value_error(cut, flips):
    payload = bytearray(encode_model(ModelUpdate(1, 1, None), pack(model(20)), None))
    for at in flips:
        payload[at % len(payload)] ^= 0xFF
    try:
        message = decode_model(bytes(payload[: cut % (len(payload) + 1)]))
    except ValueError:
        return
    message.applied(None)  # what decodes has the shapes it says


@FUZZ
@given(head=st.dictionaries(st.sampled_from(
    ["serial", "step", "count", "coefficients", "rows", "raw", "delta", "sent_at", "note", "stats"]
), st.one_of(st.integers(-5, 10**20), st.booleans(), st.text(max_size=5), st.none(),
             st.floats(allow_nan=True))), body=st.binary(max_size=200))  # fmt: skip
def test_model_heads_of_any_values_decode_or_raise_value_error(head, body):
    text = json.dumps(head).encode()
    try:
        message = decode_model(len(text).to_bytes(4, "big") + text + body)
    except ValueError:
        return
    assert message.rows is None or message.rows.max(initial=0) < message.count


def test_options_and_state_round_trip():
    camera = Camera(64, 48, 50.0, 50.0, 32.0, 24.0, np.eye(4), "cam 1")
    options = LiveOptions("run", 800, 600, (camera,), (0.1, 0.2, 0.3), 0.01, "-Y",
                          LiveControls(lr_scale=0.5))  # fmt: skip
    back = decode_options(encode_options(options))
    assert back.title == "run" and back.controls == options.controls and back.up == "-Y"
    assert back.cameras[0].name == "cam 1" and np.array_equal(back.cameras[0].world_to_camera,
                                                              np.eye(4))  # fmt: skip
    controls = LiveControls(paused=True, sh_degree=1, update_rate=2.0)
    assert decode_state(encode_state(7, controls, 3)) == (7, controls, 3)
    assert decode_hello(encode_hello("secret")) == (1, "secret")


@pytest.mark.parametrize(
    "change",
    [{"lr_scale": 1e9}, {"sh_degree": 7}, {"paused": 1}, {"update_rate": float("nan")},
     {"densify": None}, {"lr_scale": "1"}],
)  # fmt: skip
def test_controls_out_of_range_or_of_the_wrong_type_are_refused(change):
    body = {"paused": False, "lr_scale": 1.0, "sh_degree": 3, "densify": True,
            "update_rate": 10.0} | change  # fmt: skip
    with pytest.raises(ValueError):
        decode_controls(body)


@FUZZ
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_garbage_states_hellos_and_welcomes_raise_value_error(data):
    for decode in (decode_state, decode_hello, decode_options):
        with contextlib.suppress(ValueError):
            decode(data)


def test_addresses():
    assert parse_address("tcp://10.0.0.2:7007") == ("10.0.0.2", 7007)
    assert parse_address("7007") == ("127.0.0.1", 7007)
    assert parse_address("[::1]:80") == ("::1", 80)
    for bad in ("tcp://host", "host:99999", "a/b:1", ""):
        with pytest.raises(ValueError, match="no HOST:PORT"):
            parse_address(bad)
    assert is_loopback("127.0.0.1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
