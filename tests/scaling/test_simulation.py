"""The simulation behind docs/BENCHMARKS.md ("Scaling") keeps its promises on a short run.

bench/scaling.py drives the production ``decide()`` and a model of KEDA+HPA over the same
seeded arrivals; these tests pin what the published figures rest on, so a change to either
that breaks them fails here rather than silently changing the table.
"""

from __future__ import annotations

from bench.scaling import GRACE, START_DELAY, KedaHpaModel, Msg, Ours, simulate, workload


def test_seeded_defaults_lose_no_in_flight_work_at_a_30s_grace_period() -> None:
    arrivals = workload(1, seed=3)
    ours = simulate(Ours(), arrivals, 1, 3, GRACE)
    model = simulate(KedaHpaModel(), arrivals, 1, 3, GRACE)
    assert ours.interrupted == 0
    assert len(ours.waits) == len(arrivals)  # every message completed
    assert model.interrupted > 0  # the model scales down busy replicas (kedacore/keda#356)


class _Recorder:
    """Wraps a controller and records every change it decides: (time, replicas)."""

    def __init__(self, inner: KedaHpaModel) -> None:
        self.inner, self.name, self.interval = inner, inner.name, inner.interval
        self.events: list[tuple[float, int]] = []

    def desired(self, now: float, current: int, ready: int, unacked: int) -> int:
        want = self.inner.desired(now, current, ready, unacked)
        if want != current:
            self.events.append((now, want))
        return want


def test_model_cooldown_is_the_knob_it_says() -> None:
    # One 20 s job at t=1000: the model activates at its next 30 s poll and goes back to
    # zero one cooldown after the last poll that saw the message ready.
    for cooldown in (180.0, 300.0, 600.0):
        recorder = _Recorder(KedaHpaModel(cooldown=cooldown))
        simulate(recorder, [Msg(1000.0, 20.0)], 1, 1)  # type: ignore[arg-type]
        (up_at, one), (down_at, zero) = recorder.events
        assert (one, zero) == (1, 0)
        # The message stays ready while the replica starts, so the last poll seeing it is
        # up to START_DELAY after the activation.
        assert cooldown <= down_at - up_at < cooldown + START_DELAY + 30.0
