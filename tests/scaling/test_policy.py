"""The pure decision function: hypothesis properties and the rules of issue 5 §3 one by one."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from experio_platform.scaling.policy import (
    Memory,
    PolicyConfig,
    QueueMetrics,
    QueueSnapshot,
    decide,
)

NOW = 1_000_000.0


def metrics(ready: int = 0, unacked: int = 0, source: str = "management", **kw) -> QueueMetrics:
    return QueueMetrics((QueueSnapshot("q", True, ready, unacked, 1),), source=source, **kw)


configs = st.builds(
    PolicyConfig,
    mode=st.sampled_from(["auto", "keep_alive", "keep_down", "paused"]),
    pinned_replicas=st.integers(1, 6),
    keep_alive_until=st.one_of(st.none(), st.floats(NOW - 1000, NOW + 1000)),
    min_replicas=st.integers(0, 3),
    max_replicas=st.integers(3, 10),
    target_messages_per_replica=st.integers(1, 50),
    activation_threshold=st.integers(0, 10),
    idle_seconds_before_zero=st.floats(0, 900),
    min_warm_seconds=st.floats(0, 900),
    scale_down_window_seconds=st.floats(0, 900),
    max_scale_up_step=st.integers(1, 5),
    max_scale_down_step=st.integers(1, 5),
    scale_down_only_when_idle=st.booleans(),
)
memories = st.builds(
    Memory,
    last_activity_at=st.one_of(st.none(), st.floats(NOW - 2000, NOW)),
    up_since=st.one_of(st.none(), st.floats(NOW - 2000, NOW)),
    last_scale_up_at=st.one_of(st.none(), st.floats(NOW - 2000, NOW)),
    recommendations=st.lists(
        st.tuples(st.floats(NOW - 2000, NOW), st.integers(0, 10)), max_size=5
    ).map(tuple),
)
metric_values = st.one_of(
    st.none(),
    st.builds(
        QueueMetrics,
        queues=st.lists(
            st.builds(
                QueueSnapshot,
                name=st.sampled_from(["a", "b", "c"]),
                exists=st.booleans(),
                ready=st.integers(0, 500),
                unacked=st.integers(0, 50),
                consumers=st.integers(0, 5),
            ),
            min_size=1,
            max_size=3,
        ).map(tuple),
        source=st.sampled_from(["management", "amqp"]),
        error=st.one_of(st.none(), st.just("connection refused")),
    ),
)
observed_values = st.integers(0, 12)


@settings(max_examples=400, deadline=None)
@given(configs, observed_values, metric_values, memories)
def test_decide__bounds_hold_in_auto(config, observed, m, memory) -> None:
    config = replace(config, mode="auto")
    d = decide(config, observed, m, memory, NOW)
    assert config.min_replicas <= d.replicas <= config.max_replicas


@settings(max_examples=200, deadline=None)
@given(configs, observed_values, metric_values, memories)
def test_decide__manual_modes(config, observed, m, memory) -> None:
    d = decide(config, observed, m, memory, NOW)
    if config.mode == "keep_down":
        assert d.replicas == 0
    elif config.mode == "paused":
        assert d.replicas is None  # no action
    elif config.mode == "keep_alive":
        expired = config.keep_alive_until is not None and config.keep_alive_until <= NOW
        assert d.replicas == (0 if expired else config.pinned_replicas)
        assert d.revert_to_keep_down == expired


@settings(max_examples=400, deadline=None)
@given(configs, st.integers(1, 12), metric_values, memories)
def test_decide__never_zero_with_unacked_or_metric_error(config, observed, m, memory) -> None:
    config = replace(config, mode="auto")
    d = decide(config, observed, m, memory, NOW)
    unsafe = m is None or m.error or m.unacked > 0 or m.missing or m.source == "amqp"
    if unsafe:
        assert d.replicas >= 1


@settings(max_examples=400, deadline=None)
@given(configs, observed_values, memories, st.integers(0, 500), st.integers(0, 500))
def test_decide__more_backlog_never_fewer_replicas(config, observed, memory, a, extra) -> None:
    config = replace(config, mode="auto")
    few = decide(config, observed, metrics(ready=a), memory, NOW)
    more = decide(config, observed, metrics(ready=a + extra), memory, NOW)
    assert more.replicas >= few.replicas


def auto(**kw) -> PolicyConfig:
    return PolicyConfig(mode="auto", **kw)


def test_decide__ceil_of_ready_plus_unacked_over_target() -> None:
    d = decide(auto(max_replicas=10), 2, metrics(ready=41, unacked=20), Memory(), NOW)
    assert d.replicas == 4  # ceil(61 / 20)


def test_decide__activation_threshold_from_zero() -> None:
    cfg = auto(activation_threshold=5)
    assert decide(cfg, 0, metrics(ready=5), Memory(), NOW).replicas == 0
    assert decide(cfg, 0, metrics(ready=6), Memory(), NOW).replicas == 1
    # Anything in flight activates, whatever the threshold (KEDA#356: unacked is work).
    assert decide(cfg, 0, metrics(ready=0, unacked=1), Memory(), NOW).replicas == 1


def test_decide__scale_to_zero_only_after_idle_and_warm() -> None:
    cfg = auto(idle_seconds_before_zero=600, min_warm_seconds=300, scale_down_window_seconds=0)
    busy_recently = Memory(last_activity_at=NOW - 100, up_since=NOW - 1000)
    d = decide(cfg, 1, metrics(), busy_recently, NOW)
    assert d.replicas == 1 and any("idle" in r for r in d.reasons)
    fresh = Memory(last_activity_at=NOW - 700, up_since=NOW - 100)
    assert decide(cfg, 1, metrics(), fresh, NOW).replicas == 1
    idle = Memory(last_activity_at=NOW - 700, up_since=NOW - 1000)
    assert decide(cfg, 1, metrics(), idle, NOW).replicas == 0


def test_decide__never_zero_on_missing_queue_error_or_amqp_fallback() -> None:
    cfg = auto(idle_seconds_before_zero=0, min_warm_seconds=0, scale_down_window_seconds=0)
    idle = Memory(last_activity_at=NOW - 10_000, up_since=NOW - 10_000)
    missing = QueueMetrics((QueueSnapshot("typo", exists=False),))
    assert decide(cfg, 1, missing, idle, NOW).replicas == 1
    assert decide(cfg, 3, QueueMetrics(error="refused"), idle, NOW).replicas == 3
    assert decide(cfg, 1, metrics(source="amqp"), idle, NOW).replicas == 1
    assert decide(cfg, 1, metrics(), idle, NOW).replicas == 0


def test_decide__scale_down_window_and_hold_after_scale_up() -> None:
    cfg = auto(max_replicas=10, scale_down_window_seconds=300, max_scale_down_step=10)
    recent_peak = Memory(recommendations=((NOW - 100, 5),), up_since=NOW - 5000)
    assert decide(cfg, 5, metrics(ready=20), recent_peak, NOW).replicas == 5
    old_peak = Memory(recommendations=((NOW - 400, 5),), up_since=NOW - 5000)
    assert decide(cfg, 5, metrics(ready=20), old_peak, NOW).replicas == 1
    just_up = Memory(last_scale_up_at=NOW - 60, up_since=NOW - 5000)
    assert decide(cfg, 5, metrics(ready=20), just_up, NOW).replicas == 5


def test_decide__step_limits() -> None:
    cfg = auto(max_replicas=10, max_scale_up_step=2, scale_down_window_seconds=0)
    assert decide(cfg, 1, metrics(ready=200), Memory(), NOW).replicas == 3
    down = Memory(up_since=NOW - 5000, last_activity_at=NOW)
    assert decide(cfg, 8, metrics(ready=20), down, NOW).replicas == 7


def test_decide__memory_tracks_warm_time_from_scale_up() -> None:
    d = decide(auto(), 0, metrics(ready=3), Memory(), NOW)
    assert d.replicas == 1 and d.memory.up_since == NOW and d.memory.last_scale_up_at == NOW
    assert Memory.from_dict(d.memory.to_dict()) == d.memory


def test_decide__scale_down_waits_for_idle_by_default() -> None:
    cfg = auto(max_replicas=10, scale_down_window_seconds=0, max_scale_down_step=10)
    steady = Memory(up_since=NOW - 5000, last_activity_at=NOW)
    assert decide(cfg, 4, metrics(ready=0, unacked=1), steady, NOW).replicas == 4
    assert decide(cfg, 4, metrics(ready=20, unacked=0), steady, NOW).replicas == 1


def test_decide__never_below_in_flight_work() -> None:
    cfg = auto(
        max_replicas=10,
        scale_down_window_seconds=0,
        max_scale_down_step=10,
        scale_down_only_when_idle=False,
    )
    steady = Memory(up_since=NOW - 5000, last_activity_at=NOW)
    # 3 replicas busy with long jobs, nothing ready: ceil(3/20) = 1, but 3 hold work.
    assert decide(cfg, 4, metrics(ready=0, unacked=3), steady, NOW).replicas == 3
    # The AMQP fallback cannot see that work, so this rule cannot apply (zero is still barred).
    assert decide(cfg, 4, metrics(ready=0, source="amqp"), steady, NOW).replicas == 1


def test_decide__to_zero_after_idle_time_not_idle_plus_window() -> None:
    """The idle time alone damps the last step to zero: the scale-down window (whose
    recommendations of 1 were made while the worker waited out its idle time) must not add its
    length on top (it did: 10 min idle + 5 min window kept an idle worker up for 15 min)."""
    config = PolicyConfig(
        idle_seconds_before_zero=300, min_warm_seconds=0, scale_down_window_seconds=300
    )
    memory = Memory(last_activity_at=NOW, up_since=NOW - 600)
    t = NOW
    while t < NOW + 300:  # passes every 30 s while the idle time runs: stays at 1
        d = decide(config, 1, metrics(), memory, t)
        assert d.replicas == 1, (t - NOW, d.reasons)
        memory, t = d.memory, t + 30
    d = decide(config, 1, metrics(), memory, t)
    assert d.replicas == 0, d.reasons


def test_decide__idle_time_counts_from_the_last_message_waiting() -> None:
    """Like KEDA's cooldownPeriod: a long job (unacked, nothing ready) does not restart the
    idle time, but zero still waits for it; a waiting message restarts it."""
    config = PolicyConfig(
        idle_seconds_before_zero=300, min_warm_seconds=0, scale_down_window_seconds=0
    )
    memory = Memory(up_since=NOW - 600)
    d = decide(config, 1, metrics(ready=1), memory, NOW)  # picked up at the next pass
    memory, t = d.memory, NOW + 30
    assert memory.last_activity_at == NOW
    while t < NOW + 900:  # a 15 min job: held at 1, the clock does not move
        d = decide(config, 1, metrics(unacked=1), memory, t)
        assert d.replicas == 1 and any("unacked" in r for r in d.reasons), d.reasons
        memory, t = d.memory, t + 30
    assert memory.last_activity_at == NOW
    d = decide(config, 1, metrics(), memory, t)  # the job is done, 300 s long since waited
    assert d.replicas == 0, d.reasons
    # Had a message waited meanwhile, the idle time would start again from there.
    waited = decide(config, 1, metrics(ready=1, unacked=1), memory, t - 60).memory
    assert decide(config, 1, metrics(), waited, t).replicas == 1
