"""A real `gateway serve` under callers that hold calls open: health keeps answering,
idle streams and connections are closed, one connection cannot take every slot."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from evidence_gateway.v1 import evidence_service_pb2 as ev
from evidence_gateway.v1 import evidence_service_pb2_grpc, log_service_pb2_grpc
from evidence_gateway.v1 import log_service_pb2 as lg
from tests.support.gateway_proc import GatewayProcess, make_pki, write_config
from tests.support.grpc_client import rich_status, submission

SERVING = health_pb2.HealthCheckResponse.SERVING


class IdleStream:
    """A SubmitEvidenceStream that sends nothing until closed."""

    def __init__(self, channel: grpc.Channel, first: ev.SubmitEvidenceStreamRequest | None = None):
        self._stop = threading.Event()

        def requests() -> Iterator[ev.SubmitEvidenceStreamRequest]:
            if first is not None:
                yield first
            self._stop.wait(120)

        stub = evidence_service_pb2_grpc.EvidenceServiceStub(channel)
        self.call = stub.SubmitEvidenceStream(requests(), timeout=120)

    def close(self) -> None:
        self.call.cancel()
        self._stop.set()


def _checkpoint(channel: grpc.Channel, timeout: float = 10) -> lg.GetCheckpointResponse:
    stub = log_service_pb2_grpc.LogServiceStub(channel)
    return stub.GetCheckpoint(lg.GetCheckpointRequest(), timeout=timeout)


def _health(channel: grpc.Channel, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return int(stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status)


def _start(folder_factory: pytest.TempPathFactory, name: str, **config: object) -> GatewayProcess:
    folder = folder_factory.mktemp(name)
    make_pki(folder / "data" / "pki")
    top = {k: v for k, v in config.items() if not isinstance(v, dict)}
    sections = {k: v for k, v in config.items() if isinstance(v, dict)}
    proc = GatewayProcess(write_config(folder, top=top, sections=sections), folder)  # type: ignore[arg-type]
    proc.start()
    return proc


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """At most 4 API calls at once, 2 per connection; idle streams are left alone. The
    one (development) institution calling may take all 4 (the cap per institution is
    tested in test_call_limits_mtls.py)."""
    proc = _start(
        tmp_path_factory,
        "capped",
        max_concurrent_rpcs=4,
        max_calls_per_institution=4,
        grpc={"max_concurrent_streams": 2},
        stream={"idle_seconds": 0, "buffer_bytes": 1 << 20},
    )
    try:
        yield proc
    finally:
        assert proc.stop() == 0, proc.log_path.read_text()


def test_streams_that_fill_the_cap_leave_health_serving(capped: GatewayProcess) -> None:
    channels = [capped.channel(own_connection=True) for _ in range(3)]
    streams = [IdleStream(channels[n // 2]) for n in range(4)]  # 2 per connection
    try:
        # Once the 4 streams are in, every other API call is refused at once ...
        deadline = time.monotonic() + 20
        while True:
            # A stream that came while another call still held its slot (its handler
            # releases the slot just after its answer left) was refused: open it again.
            for n, stream in enumerate(streams):
                if stream.call.done() and stream.call.code() is grpc.StatusCode.RESOURCE_EXHAUSTED:
                    streams[n] = IdleStream(channels[n // 2])
            try:
                _checkpoint(channels[2])
            except grpc.RpcError as error:
                assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED, error
                assert "maximum of 4 calls at once" in (error.details() or "")
                assert rich_status(error).details  # RetryInfo
                break
            assert time.monotonic() < deadline, "the idle streams never filled the cap"
            time.sleep(0.05)
        # ... and health still answers SERVING, quickly, again and again.
        took = []
        for _ in range(20):
            start = time.perf_counter()
            assert _health(channels[2]) == SERVING
            took.append(time.perf_counter() - start)
        with capped.channel(own_connection=True) as fresh:
            assert _health(fresh) == SERVING
            assert _health(fresh, "evidence_gateway.v1.EvidenceService") == SERVING
        print(f"health under a full cap: median {sorted(took)[10] * 1e3:.1f} ms")
    finally:
        for stream in streams:
            stream.close()
    # The slots come back when the streams end.
    deadline = time.monotonic() + 10
    while True:
        try:
            assert _checkpoint(channels[2]).checkpoint.signed_note
            break
        except grpc.RpcError as error:
            assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            assert time.monotonic() < deadline
            time.sleep(0.05)
    for channel in channels:
        channel.close()


def test_one_connection_is_held_to_its_stream_cap(capped: GatewayProcess) -> None:
    with (
        capped.channel(own_connection=True) as crowded,
        capped.channel(own_connection=True) as other,
    ):
        streams = [IdleStream(crowded) for _ in range(2)]
        try:
            # The third call on that connection waits for a free stream ...
            time.sleep(0.5)
            with pytest.raises(grpc.RpcError) as held:
                _checkpoint(crowded, timeout=1.5)
            assert held.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
            # ... while another connection is served.
            assert _checkpoint(other).checkpoint.signed_note
            waiting = log_service_pb2_grpc.LogServiceStub(crowded).GetCheckpoint.future(
                lg.GetCheckpointRequest(), timeout=20
            )
            time.sleep(0.5)
            assert not waiting.done()
            streams[0].close()  # a stream of that connection ends: the waiting call goes
            assert waiting.result().checkpoint.signed_note
        finally:
            for stream in streams:
                stream.close()


def test_a_client_that_pings_too_often_is_sent_away(capped: GatewayProcess) -> None:
    """Pings more often than grpc.min_client_ping_interval_seconds (10 s): GOAWAY."""
    pings = [
        ("grpc.keepalive_time_ms", 100),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.http2.min_time_between_pings_ms", 10),
    ]
    with capped.channel(own_connection=True, options=pings) as channel:
        stream = IdleStream(channel)
        try:
            with pytest.raises(grpc.RpcError) as ended:
                next(stream.call)
        finally:
            stream.close()
    assert ended.value.code() is grpc.StatusCode.UNAVAILABLE
    assert "too many pings" in (ended.value.details() or "").lower()


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """Streams idle for 1 s and connections idle for 1 s are closed."""
    proc = _start(
        tmp_path_factory,
        "strict",
        grpc={"max_connection_idle_seconds": 1},
        stream={"idle_seconds": 1},
    )
    try:
        yield proc
    finally:
        assert proc.stop() == 0, proc.log_path.read_text()


def test_a_stream_that_sends_nothing_is_closed_after_its_limit(strict: GatewayProcess) -> None:
    with strict.channel(own_connection=True) as channel:
        first = ev.SubmitEvidenceStreamRequest(submission=submission("loan-idle"))
        stream = IdleStream(channel, first)
        start = time.monotonic()
        try:
            answer = next(stream.call)  # the submission it sent is answered first
            assert answer.request_id == first.submission.request_id
            assert answer.HasField("receipt")
            with pytest.raises(grpc.RpcError) as closed:
                next(stream.call)
        finally:
            stream.close()
        took = time.monotonic() - start
    assert closed.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    assert "sent nothing for 1 s" in (closed.value.details() or "")
    assert 0.9 <= took < 15, took


def test_an_idle_connection_is_closed(strict: GatewayProcess) -> None:
    states: list[grpc.ChannelConnectivity] = []
    with strict.channel(own_connection=True) as channel:
        # The first state reported is the channel's initial IDLE, and reports come on
        # another thread, late: wait for an IDLE that follows a READY.
        channel.subscribe(states.append, try_to_connect=False)
        assert _checkpoint(channel).checkpoint.signed_note
        deadline = time.monotonic() + 15
        while not _idle_after_ready(states) and time.monotonic() < deadline:
            time.sleep(0.05)
        channel.unsubscribe(states.append)
    assert grpc.ChannelConnectivity.READY in states, states
    assert _idle_after_ready(states), states  # the server's GOAWAY
    assert states[-1] is grpc.ChannelConnectivity.IDLE, states


def _idle_after_ready(states: list[grpc.ChannelConnectivity]) -> bool:
    ready = grpc.ChannelConnectivity.READY
    return ready in states and grpc.ChannelConnectivity.IDLE in states[states.index(ready) :]


def test_a_connection_is_closed_at_its_age_limit(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    proc = _start(
        tmp_path_factory,
        "aged",
        grpc={"max_connection_age_seconds": 1, "max_connection_age_grace_seconds": 1},
        stream={"idle_seconds": 0},
    )
    try:
        with proc.channel(own_connection=True) as channel:
            stream = IdleStream(channel)
            start = time.monotonic()
            try:
                with pytest.raises(grpc.RpcError) as ended:
                    next(stream.call)
            finally:
                stream.close()
            took = time.monotonic() - start
            assert _checkpoint(channel).checkpoint.signed_note  # a new connection is made
    finally:
        assert proc.stop() == 0
    assert ended.value.code() is grpc.StatusCode.UNAVAILABLE
    assert 1.5 <= took < 15, took  # age (1 s, +-10 %) and grace (1 s)
