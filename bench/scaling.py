"""Seeded simulation: the real decision function vs a model of KEDA (AMQP mode) + HPA.

    .venv/bin/python -m bench.scaling [--days 3] [--seed 7] [--no-write]

No services needed: both controllers drive the same simulated RabbitMQ queue and worker pool
(second by second, 5 s steps). ``ours`` is ``experio_platform.scaling.policy.decide`` with the
seeded worker defaults, fed the management API's ready + unacked counts every 30 s pass. The
baseline is a MODEL of KEDA + HPA built from their documented defaults, not the real software:

- KEDA RabbitMQ scaler in AMQP mode (``queueLength`` 20): the metric is the *ready* count only
  (unacknowledged messages are invisible to a passive declare, kedacore/keda#356/#638/#6719);
  every ``pollingInterval`` (30 s) a queue with ready > ``activationValue`` (0) is active; at 0
  replicas an active queue scales to 1; with no activity for ``cooldownPeriod`` (300 s) it
  scales to 0.
- HPA (sync every 15 s, between 1 and max): ``desired = ceil(ready / 20)``, skipped when the
  usage ratio is within ``tolerance`` 0.1 of 1; scale-down takes the highest recommendation of
  the last 300 s (``stabilizationWindowSeconds``); scale-up up to max(4 pods, 100 %) per step.

Workload (seeded): working hours 08-20 with bursts (Poisson, about one an hour, 10-80
messages within a minute) and a trickle of single messages (one per 20 min by day, one per 90 min
at night). 90 % of jobs take ~20 s (exponential), 10 % are long (5-15 min). A worker handles one
message at a time (prefetch 1, acks late) and needs 45 s to start. Removal is the same for both
controllers (the platform picks a random replica): SIGTERM, Celery's warm shutdown finishes the
message it holds (the replica still costs time while it drains), and a job still running when the
termination grace period ends is killed and its message requeued (interrupted work). Two grace
periods are simulated for both: 30 s (Kubernetes' default ``terminationGracePeriodSeconds``,
shorter than the long jobs) and 1200 s (longer than any job, as docs/scaling.md asks for).

Reports per policy: scale operations/hour, 0<->1 flips/hour, p95 message wait (arrival to the
start of the attempt that completed), replica-minutes, interrupted jobs; writes the table to
the "## Scaling" section of docs/BENCHMARKS.md and the plot to docs/scaling-simulation.png.
"""

from __future__ import annotations

import argparse
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import write_section
from experio_platform.scaling.defaults import ECONOMY_WORKER_PROFILE, WORKER_DEFAULTS
from experio_platform.scaling.policy import (
    Memory,
    PolicyConfig,
    QueueMetrics,
    QueueSnapshot,
    decide,
)

ROOT = Path(__file__).resolve().parent.parent
DT = 5.0  # seconds per step
START_DELAY = 45.0  # seconds from scale-up to a ready worker (image pull, Django start)
GRACE = 30.0  # Kubernetes' default terminationGracePeriodSeconds
LONG_GRACE = 1200.0  # a grace period longer than the longest job (15 min)
MAX = WORKER_DEFAULTS["max_replicas"]
# The workload (see the module docstring).
BURST_EVERY = 3600.0  # mean seconds between bursts in working hours
BURST_SIZE = (10, 80)  # messages per burst
TRICKLE_DAY, TRICKLE_NIGHT = 1200.0, 5400.0  # mean seconds between single messages
LONG_SHARE = 0.10  # share of long jobs (5-15 min); the rest take ~20 s
LONGEST_JOB = 900.0
TARGET = WORKER_DEFAULTS["target_messages_per_replica"]


@dataclass
class Msg:
    arrived: float
    duration: float
    started: float | None = None


@dataclass
class Replica:
    ready_at: float
    job: Msg | None = None
    job_done_at: float = 0.0


@dataclass(frozen=True)
class Shape:
    """How the arrivals look: the default is the workload of the module docstring."""

    name: str = "hourly bursts, trickle every 20 min, 10 % long jobs"
    burst_every: float = BURST_EVERY
    trickle_day: float = TRICKLE_DAY
    trickle_night: float = TRICKLE_NIGHT
    long_share: float = LONG_SHARE


# Other shapes the economy profile is checked on (it was chosen on the default one).
OTHER_SHAPES = (
    Shape("trickle every 5 min by day, 30 min at night", trickle_day=300.0, trickle_night=1800.0),
    Shape("bursts every 30 min", burst_every=1800.0),
    Shape("no long jobs", long_share=0.0),
    Shape("30 % long jobs", long_share=0.30),
)


def workload(days: int, seed: int, shape: Shape = Shape()) -> list[Msg]:
    """Return all arrivals, sorted, for ``days`` days."""
    rng = random.Random(seed)

    def duration() -> float:
        if rng.random() < shape.long_share:
            return rng.uniform(300, LONGEST_JOB)
        return max(2.0, rng.expovariate(1 / 20))

    msgs: list[Msg] = []
    horizon = days * 86400.0
    # Bursts in working hours.
    t = 0.0
    while t < horizon:
        t += rng.expovariate(1 / shape.burst_every)
        if 8 <= (t % 86400) / 3600 < 20:
            for _ in range(rng.randint(*BURST_SIZE)):
                msgs.append(Msg(t + rng.uniform(0, 60), duration()))
    # Trickle: single messages, rarer at night.
    t = 0.0
    while t < horizon:
        day = 8 <= (t % 86400) / 3600 < 20
        t += rng.expovariate(1 / (shape.trickle_day if day else shape.trickle_night))
        msgs.append(Msg(t, duration()))
    return sorted((m for m in msgs if m.arrived < horizon), key=lambda m: m.arrived)


class Controller:
    interval = 30.0

    def desired(self, now: float, current: int, ready: int, unacked: int) -> int:
        raise NotImplementedError


class Ours(Controller):
    """The production decision function with the seeded worker defaults (plus ``overrides``)."""

    def __init__(self, label: str = "", **overrides: Any) -> None:
        d = {**WORKER_DEFAULTS, **overrides}
        self.name = "experio run_scaler" + (f" ({label})" if label else "")
        self.config = PolicyConfig(
            mode="auto",
            min_replicas=d["min_replicas"],
            max_replicas=d["max_replicas"],
            target_messages_per_replica=d["target_messages_per_replica"],
            activation_threshold=d["activation_threshold"],
            idle_seconds_before_zero=d["idle_seconds_before_zero"],
            min_warm_seconds=d["min_warm_seconds"],
            scale_down_window_seconds=d["scale_down_window_seconds"],
            max_scale_up_step=d["max_scale_up_step"],
            max_scale_down_step=d["max_scale_down_step"],
            scale_down_only_when_idle=d["scale_down_only_when_idle"],
        )
        self.memory = Memory()

    def desired(self, now: float, current: int, ready: int, unacked: int) -> int:
        metrics = QueueMetrics((QueueSnapshot("q", True, ready, unacked, current),))
        decision = decide(self.config, current, metrics, self.memory, now)
        self.memory = decision.memory
        return current if decision.replicas is None else decision.replicas


class KedaHpaModel(Controller):
    """A model of KEDA (AMQP mode, documented defaults) + HPA v2 (documented defaults)."""

    name = "KEDA+HPA model"
    interval = 15.0  # HPA sync period; KEDA's activation runs every 2nd tick (30 s)

    def __init__(self, cooldown: float = 300.0) -> None:
        self.cooldown = cooldown  # KEDA's cooldownPeriod (documented default 300 s)
        if cooldown != 300.0:
            self.name = f"KEDA+HPA model (cooldown {cooldown / 60:.0f} min)"
        self.tick = 0
        self.last_active: float | None = None
        self.recs: deque[tuple[float, int]] = deque()

    def desired(self, now: float, current: int, ready: int, unacked: int) -> int:
        self.tick += 1
        if self.tick % 2 == 1:  # KEDA pollingInterval 30 s: activation / deactivation
            if ready > 0:  # activationValue 0; AMQP mode sees ready messages only
                self.last_active = now
                if current == 0:
                    return 1
            elif current > 0 and (
                self.last_active is None or now - self.last_active >= self.cooldown
            ):
                self.recs.clear()
                return 0
        if current == 0:
            return 0
        # HPA: AverageValue target 20 on the external metric (ready messages).
        ratio = (ready / current) / TARGET
        rec = current if abs(ratio - 1) <= 0.1 else math.ceil(ready / TARGET)
        rec = min(max(rec, 1), MAX)
        self.recs.append((now, rec))
        while self.recs and now - self.recs[0][0] > 300:
            self.recs.popleft()
        if rec < current:
            rec = min(current, max(r for _, r in self.recs))  # scale-down stabilisation
        elif rec > current:
            rec = min(rec, current + max(4, current))  # default scale-up policy
        return rec


@dataclass
class Result:
    name: str
    hours: float
    ops: int = 0
    flips: int = 0
    replica_seconds: float = 0.0
    interrupted: int = 0
    wasted_seconds: float = 0.0
    idle_empty_seconds: float = 0.0  # running, no job, queue empty (waiting out the idle time)
    idle_beside_busy_seconds: float = 0.0  # running, no job, nothing ready, another one busy
    waits: list[float] = field(default_factory=list)
    series: list[tuple[float, int, int]] = field(default_factory=list)  # t, depth, replicas

    def row(self) -> dict[str, Any]:
        waits = sorted(self.waits)
        p95 = waits[int(0.95 * (len(waits) - 1))] if waits else float("nan")
        return {
            "policy": self.name,
            "scale ops/h": self.ops / self.hours,
            "0<->1 flips/h": self.flips / self.hours,
            "p95 wait s": p95,
            "replica-minutes": self.replica_seconds / 60,
            "interrupted jobs": self.interrupted,
            "wasted job-minutes": self.wasted_seconds / 60,
            "idle min, queue empty": self.idle_empty_seconds / 60,
            "idle min beside a busy one": self.idle_beside_busy_seconds / 60,
            "completed": len(self.waits),
        }


def simulate(
    controller: Controller, arrivals: list[Msg], days: int, seed: int, grace: float = GRACE
) -> Result:
    """Run one controller over the arrivals; ``grace`` is the termination grace period.

    A removed replica gets SIGTERM and drains (Celery warm shutdown: it takes no new message and
    finishes the one it holds); it still costs replica time while draining. A job still running
    ``grace`` seconds after SIGTERM is killed (SIGKILL) and its message requeued: interrupted
    work. The same rule applies to both controllers; the platform picks the replica to remove.
    """
    rng = random.Random(seed + 1)
    msgs = [Msg(m.arrived, m.duration) for m in arrivals]
    horizon = days * 86400.0
    res = Result(controller.name, days * 24.0)
    ready: deque[Msg] = deque()
    replicas: list[Replica] = []
    draining: list[tuple[Replica, float]] = []  # (replica, killed at)
    i, next_control, now = 0, 0.0, 0.0
    while now < horizon:
        while i < len(msgs) and msgs[i].arrived <= now:
            ready.append(msgs[i])
            i += 1
        for r in replicas + [d for d, _ in draining]:
            if r.job and r.job_done_at <= now:
                assert r.job.started is not None
                res.waits.append(r.job.started - r.job.arrived)
                r.job = None
        still = []
        for r, kill_at in draining:
            if r.job and kill_at <= now:
                # SIGKILL after the grace period: the unacknowledged message is requeued.
                assert r.job.started is not None
                res.interrupted += 1
                res.wasted_seconds += now - r.job.started
                r.job.started = None
                ready.appendleft(r.job)
                r.job = None
            if r.job:
                still.append((r, kill_at))
        draining = still
        for r in replicas:
            if r.job is None and r.ready_at <= now and ready:
                msg = ready.popleft()
                msg.started = now
                r.job, r.job_done_at = msg, now + msg.duration
        unacked = sum(1 for r in replicas + [d for d, _ in draining] if r.job)
        if now >= next_control:
            next_control += controller.interval
            current = len(replicas)
            want = controller.desired(now, current, len(ready), unacked)
            if want != current:
                res.ops += 1
                if (current == 0) != (want == 0):
                    res.flips += 1
            while len(replicas) < want:
                replicas.append(Replica(now + START_DELAY))
            while len(replicas) > want:
                victim = replicas.pop(rng.randrange(len(replicas)))
                if victim.job:
                    draining.append((victim, now + grace))
        res.replica_seconds += (len(replicas) + len(draining)) * DT
        for r in replicas:  # where the replica-minutes go (started, not busy)
            if r.ready_at <= now and r.job is None:
                if unacked == 0 and not ready:
                    res.idle_empty_seconds += DT
                elif not ready:
                    res.idle_beside_busy_seconds += DT
        if int(now) % 60 == 0:
            res.series.append((now, len(ready) + unacked, len(replicas) + len(draining)))
        now += DT
    return res


def plot(results: list[Result], path: Path, start_h: float, end_h: float) -> None:
    """Queue depth of both policies on top, each policy's replicas below, one day."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = ["#1565c0", "#c62828", "#2e7d32"]
    fig, axes = plt.subplots(
        1 + len(results),
        1,
        figsize=(13, 3.0 + 1.5 * len(results)),
        sharex=True,
        height_ratios=[2] + [1] * len(results),
        constrained_layout=True,
    )
    for i, (res, colour) in enumerate(zip(results, colours, strict=False)):
        pts = [p for p in res.series if start_h * 3600 <= p[0] <= end_h * 3600]
        t = [p[0] / 3600 for p in pts]
        axes[0].plot(t, [p[1] for p in pts], color=colour, lw=1.0, label=res.name)
        ax = axes[1 + i]
        ax.fill_between(t, [p[2] for p in pts], step="post", color=colour, alpha=0.35, lw=0)
        ax.step(t, [p[2] for p in pts], where="post", color=colour, lw=1.0)
        flips = res.flips / res.hours
        ax.set_ylabel("replicas\n" + res.name.replace("experio run_scaler ", "").strip("()"))
        ax.text(
            0.005,
            0.93,
            f"{res.name}: {flips:.2f} flips 0<->1 per hour, "
            f"{res.interrupted} interrupted jobs (whole run)",
            transform=ax.transAxes,
            va="top",
            fontsize=9,
        )
        ax.set_ylim(0, MAX + 0.6)
        ax.set_yticks(range(MAX + 1))
    axes[0].set_ylabel("messages in queue\n(ready + unacked)")
    axes[0].set_title(
        "One simulated day, termination grace 30 s: experio run_scaler vs a MODEL of "
        "KEDA (AMQP mode) + HPA, same seeded arrivals"
    )
    axes[0].legend(loc="upper left")
    axes[-1].set_xlabel("hour of the simulation (shaded: night, 20:00-08:00)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.set_xlim(start_h, end_h)
        for day in range(int(end_h // 24) + 1):
            ax.axvspan(day * 24 - 4, day * 24 + 8, color="#000", alpha=0.05, lw=0)
    fig.savefig(path, dpi=110)


def table(rows: list[dict[str, Any]]) -> str:
    head = list(rows[0])
    out = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for r in rows:
        cells = [r["policy"]] + [
            f"{v:.2f}" if isinstance(v, float) else str(v) for k, v in r.items() if k != "policy"
        ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


SECTION = """## Scaling

Command: `.venv/bin/python -m bench.scaling --days {days} --seed {seed}` (pure simulation, no
services; about {secs:.0f} s on this machine). **The baseline is a model of KEDA + HPA built
from their documented defaults, not the real KEDA/HPA** (and not tuned here): KEDA's RabbitMQ
scaler in AMQP mode (metric = ready messages only, `pollingInterval` 30 s, `cooldownPeriod`
300 s, activation at ready > 0) and HPA (sync 15 s, `tolerance` 0.1, scale-down stabilisation
300 s, scale-up max(4 pods, 100 %), min 1). Ours is the production `decide()` on ready + unacked
from the management API, a pass every 30 s, with the seeded worker defaults (min 0, max 4, 20
messages/replica, 10 min idle before zero, 5 min warm, 5 min scale-down window, -1 per pass,
scale down only when nothing is unacknowledged; the idle time counts from the last message
waiting, as KEDA's cooldown does), two variants (5 min idle = KEDA's cooldown; and that with
`scale_down_only_when_idle` off) and the economy profile ({econ}; `scale_down_only_when_idle`
off only where the grace period covers the longest job, as docs/scaling.md says).

Identical assumptions for every policy: the same seeded arrivals (bursts of 10-80 messages about
hourly in working hours, single messages every ~20 min by day and ~90 min by night, 10 % long
jobs of 5-15 min, the rest ~20 s), workers with prefetch 1 and a 45 s start-up, the platform
picks a random replica to remove, SIGTERM lets Celery's warm shutdown finish the message in hand
(the draining replica still counts in replica-minutes) and a job still running when the
termination grace period ends is killed and requeued ("interrupted"). Two grace periods:
**30 s** (Kubernetes' default, shorter than the long jobs) and **1200 s** (longer than any job).
"p95 wait" runs from arrival to the start of the attempt that completed; the two "idle min"
columns are replica-minutes of started replicas holding no job, with the queue empty or beside
a replica that is busy while nothing is ready. {days} simulated days;
the plot shows the second day with the 30 s grace period.

{tables}

![queue depth and replicas, both policies](scaling-simulation.png)

Reading: {reading}

Other seeds (other arrivals and job lengths, the same workload shape), each policy against the
model on the same seed. The economy profile ({econ}) was chosen on seeds {tuning} (a grid of
messages per replica, idle time, warm time and scale-down window; the choice wins there on every
seed) and is shown as well on seeds {holdout}, which were not looked at while choosing it.
"goal met" = fewer flips/h, no interrupted job and no more replica-minutes than the model;
ranges are min..max over the seeds:

{robust}

The economy profile on workload shapes it was not chosen on (seeds {tuning}, everything else as
above). It mostly holds: its misses with a frequent trickle or twice as many bursts are seeds where
it flips a little more (at most +0.22/h) while spending fewer replica-minutes. Where long jobs are
common (30 %) and the grace period covers them, the model's draining of busy replicas costs it
nothing and the two come out even (within +1 % replica-minutes), so the goal is missed there:

{other}

The idle time before zero (ours) and `cooldownPeriod` (the model) are the same knob, and on
this workload (a Poisson trickle between bursts: memoryless gaps) it is a pure trade: a longer
one flips less and costs more replica-minutes. Both swept over the same values, ours at the
seeded 20 messages per replica (the economy profile's 45 is what moves ours off this curve; seed
{seed};
"beaten" = a setting of ours with fewer flips/h, no more replica-minutes and no interrupted
job):

{sweep_table}

{sweep_verdict}.
"""


def econ_text() -> str:
    p = ECONOMY_WORKER_PROFILE
    return (
        f"{p['target_messages_per_replica']} messages per replica, "
        f"{p['idle_seconds_before_zero'] / 60:g} min idle before zero"
    )


def reading(short: list[dict[str, Any]], long: list[dict[str, Any]]) -> str:
    """Say plainly what the figures show for the seeded defaults (row 1) vs the model (row 0)."""

    def rel(ours: dict[str, Any], keda: dict[str, Any]) -> str:
        return f"{ours['replica-minutes'] / keda['replica-minutes'] - 1:+.0%}"

    def idle(row: dict[str, Any]) -> float:
        return float(row["idle min, queue empty"] + row["idle min beside a busy one"])

    k30, o30, i30, n30 = short[:4]
    k1200, o1200, i1200, n1200 = long[:4]
    e30, e1200 = short[4], long[4]
    return (
        f"with the 30 s grace period the model interrupts {k30['interrupted jobs']} jobs "
        f"(it scales down and to zero while long jobs hold unacknowledged messages; each "
        "requeued message reactivates the queue: the loop of kedacore/keda#356) and flips 0<->1 "
        f"{k30['0<->1 flips/h']:.2f}/h; the seeded defaults interrupt "
        f"{o30['interrupted jobs']} and flip {o30['0<->1 flips/h']:.2f}/h at {rel(o30, k30)} "
        f"replica-minutes; 5 min idle: {i30['0<->1 flips/h']:.2f} flips/h at {rel(i30, k30)}, "
        f"{i30['interrupted jobs']} interrupted; scale-down while busy (switch off) interrupts "
        f"{n30['interrupted jobs']}: a grace period shorter than the jobs makes any scale-down "
        "of a busy replica lose work, whoever decides it. With the 1200 s grace period nobody "
        f"loses work (model {k1200['interrupted jobs']}, ours {o1200['interrupted jobs']}); "
        f"the model flips {k1200['0<->1 flips/h']:.2f}/h, the seeded defaults "
        f"{o1200['0<->1 flips/h']:.2f}/h at {rel(o1200, k1200)} replica-minutes, 5 min idle "
        f"{i1200['0<->1 flips/h']:.2f}/h at {rel(i1200, k1200)}, 5 min idle with the switch off "
        f"{n1200['0<->1 flips/h']:.2f}/h at {rel(n1200, k1200)}. The seeded defaults **do not "
        "meet the goal** (fewer flips and no lost work at "
        "equal or lower replica-minutes): they lose no work and flip less than the model in "
        "both scenarios, but spend more replica-minutes, because they are tuned for message wait "
        f"(p95 {o1200['p95 wait s']:.0f} s vs the model's {k1200['p95 wait s']:.0f} s at 1200 s "
        "grace: ours sizes by ready + unacked and keeps replicas warm). Where the extra "
        f"replica-minutes go (1200 s grace): the seeded defaults keep "
        f"{o1200['idle min, queue empty']:.0f} idle replica-minutes with an empty queue (the model "
        f"{k1200['idle min, queue empty']:.0f}: both count the idle time from the last message "
        "waiting, but the seeded 10 min are twice its cooldown) and "
        f"{o1200['idle min beside a busy one']:.0f} idle beside a replica busy with a long job "
        f"(the model {k1200['idle min beside a busy one']:.0f}: it scales down and lets the busy "
        "one drain; ours waits until nothing is unacknowledged): idle minutes "
        f"{idle(o1200) - idle(k1200):+.0f} against a total difference of "
        f"{o1200['replica-minutes'] - k1200['replica-minutes']:+.0f}. "
        f"**The economy profile ({econ_text()}) meets the goal in both scenarios**: at 30 s "
        f"grace {e30['0<->1 flips/h']:.2f} vs {k30['0<->1 flips/h']:.2f} flips/h, "
        f"{e30['interrupted jobs']} vs {k30['interrupted jobs']} interrupted jobs, "
        f"{rel(e30, k30)} replica-minutes; at 1200 s grace (with `scale_down_only_when_idle` "
        "off, as docs/scaling.md says to do when the grace period covers the longest job) "
        f"{e1200['0<->1 flips/h']:.2f} vs {k1200['0<->1 flips/h']:.2f} flips/h, "
        f"{e1200['interrupted jobs']} vs {k1200['interrupted jobs']} interrupted, "
        f"{rel(e1200, k1200)} replica-minutes. Its price is message wait: p95 "
        f"{e30['p95 wait s']:.0f} s vs {k30['p95 wait s']:.0f} s (30 s grace) and "
        f"{e1200['p95 wait s']:.0f} s vs {k1200['p95 wait s']:.0f} s (1200 s grace): it works a "
        "backlog off with fewer replicas, so one warm period covers more arrivals (the same "
        "thing the model does when HPA shrinks to ceil(ready / 20) mid-backlog)."
    )


SWEEP_MINUTES = (3, 5, 7, 10, 15)


def sweep(arrivals: list[Msg], days: int, seed: int) -> tuple[str, str]:
    """The idle time before zero is a trade: a longer one flips less and costs more minutes.

    Runs ours over ``idle_seconds_before_zero`` and the model over ``cooldownPeriod`` (the same
    knob), both grace periods, and says for each of the model's points whether a point of
    ours dominates it (flips/h and replica-minutes no higher, no interrupted job).
    """
    lines = [
        "| grace | idle / cooldown (min) | ours flips/h | ours replica-min | ours interrupted "
        "| model flips/h | model replica-min | model interrupted |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    verdicts = []
    for grace in (GRACE, LONG_GRACE):
        ours, model = [], []
        for minutes in SWEEP_MINUTES:
            o = simulate(
                Ours(f"idle {minutes} min", idle_seconds_before_zero=minutes * 60.0),
                arrivals,
                days,
                seed,
                grace,
            ).row()
            k = simulate(KedaHpaModel(cooldown=minutes * 60.0), arrivals, days, seed, grace).row()
            ours.append((minutes, o))
            model.append((minutes, k))
            lines.append(
                f"| {grace:.0f} s | {minutes} | {o['0<->1 flips/h']:.2f} | "
                f"{o['replica-minutes']:.0f} | {o['interrupted jobs']} | "
                f"{k['0<->1 flips/h']:.2f} | {k['replica-minutes']:.0f} | "
                f"{k['interrupted jobs']} |"
            )
        beaten = []
        for minutes, k in model:
            wins = [m for m, o in ours if meets_goal(o, k)]
            beaten.append(
                f"cooldown {minutes} min: "
                + (f"beaten by idle {', '.join(map(str, wins))} min" if wins else "not beaten")
            )
        verdicts.append(f"grace {grace:.0f} s: " + "; ".join(beaten))
    return "\n".join(lines), ". ".join(verdicts)


def economy(grace: float) -> Ours:
    """The economy worker profile, with the switch set as docs/scaling.md says: scale-down
    waits for idle replicas unless the grace period covers the longest job."""
    if grace >= LONGEST_JOB:
        return Ours(
            "economy profile, scale-down while busy: the grace period covers the jobs",
            **ECONOMY_WORKER_PROFILE,
            scale_down_only_when_idle=False,
        )
    return Ours("economy profile", **ECONOMY_WORKER_PROFILE)


TUNING_SEEDS = tuple(range(7, 19))
HOLDOUT_SEEDS = tuple(range(19, 43))


def meets_goal(ours: dict[str, Any], model: dict[str, Any]) -> bool:
    """The issue's goal: fewer flips, no lost work, no more replica-minutes than the model."""
    return (
        ours["interrupted jobs"] == 0
        and ours["0<->1 flips/h"] < model["0<->1 flips/h"]
        and ours["replica-minutes"] <= model["replica-minutes"]
    )


def versus_model(
    policies: list[Callable[[float], Controller]],
    days: int,
    seeds: tuple[int, ...],
    grace: float,
    shape: Shape = Shape(),
) -> list[str]:
    """Run the model once per seed and each ``policies`` entry (grace -> controller) beside it;
    return per policy the summary cells: goal met, replica-minutes, flips, interrupted, wait."""
    runs: list[list[tuple[dict[str, Any], dict[str, Any]]]] = [[] for _ in policies]
    for seed in seeds:
        arr = workload(days, seed, shape)
        k = simulate(KedaHpaModel(), arr, days, seed, grace).row()
        for i, make in enumerate(policies):
            runs[i].append((simulate(make(grace), arr, days, seed, grace).row(), k))
    cells = []
    for pairs in runs:
        rms = [o["replica-minutes"] / k["replica-minutes"] - 1 for o, k in pairs]
        flips = [o["0<->1 flips/h"] - k["0<->1 flips/h"] for o, k in pairs]
        waits = [o["p95 wait s"] / k["p95 wait s"] for o, k in pairs]
        cells.append(
            f"{sum(meets_goal(o, k) for o, k in pairs)}/{len(pairs)} | "
            f"{min(rms):+.1%}..{max(rms):+.1%} | {min(flips):+.2f}..{max(flips):+.2f} | "
            f"{sum(o['interrupted jobs'] for o, _ in pairs)} / "
            f"{sum(k['interrupted jobs'] for _, k in pairs)} | "
            f"{min(waits):.2f}..{max(waits):.2f} |"
        )
    return cells


SUMMARY_HEAD = (
    "goal met | replica-minutes vs model | flips/h minus model | interrupted (ours / model) "
    "| p95 wait / model's |"
)


def robustness(days: int, tuning: tuple[int, ...], holdout: tuple[int, ...]) -> str:
    """The seeded defaults and the economy profile against the model on many seeds."""
    lines = [f"| seeds | grace | policy | {SUMMARY_HEAD}", "|---|---|---|---:|---:|---:|---:|---:|"]
    names = ("seeded defaults", "economy profile")
    for label, seeds in (("chosen on", tuning), ("held out", holdout)):
        for grace in (GRACE, LONG_GRACE):
            cells = versus_model([lambda _grace: Ours(), economy], days, seeds, grace)
            for name, cell in zip(names, cells, strict=True):
                lines.append(f"| {label} {seeds[0]}-{seeds[-1]} | {grace:.0f} s | {name} | {cell}")
    return "\n".join(lines)


def shapes(days: int, seeds: tuple[int, ...]) -> str:
    """The economy profile against the model on workloads it was not chosen on."""
    lines = [f"| workload | grace | {SUMMARY_HEAD}", "|---|---|---:|---:|---:|---:|---:|"]
    for shape in OTHER_SHAPES:
        for grace in (GRACE, LONG_GRACE):
            (cell,) = versus_model([economy], days, seeds, grace, shape)
            lines.append(f"| {shape.name} | {grace:.0f} s | {cell}")
    return "\n".join(lines)


def scenario(arrivals: list[Msg], days: int, seed: int, grace: float) -> list[Result]:
    """The model, the seeded defaults, two variants of ours and the economy profile, all with
    one grace period."""
    return [
        simulate(KedaHpaModel(), arrivals, days, seed, grace),
        simulate(Ours("seeded defaults"), arrivals, days, seed, grace),
        simulate(Ours("idle 5 min", idle_seconds_before_zero=300), arrivals, days, seed, grace),
        simulate(
            Ours(
                "idle 5 min, scale down while busy",
                idle_seconds_before_zero=300,
                scale_down_only_when_idle=False,
            ),
            arrivals,
            days,
            seed,
            grace,
        ),
        simulate(economy(grace), arrivals, days, seed, grace),
    ]


def main(argv: list[str] | None = None) -> int:
    import time

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="Print only; leave docs alone.")
    args = parser.parse_args(argv)
    started = time.monotonic()
    arrivals = workload(args.days, args.seed)
    short = scenario(arrivals, args.days, args.seed, GRACE)
    long = scenario(arrivals, args.days, args.seed, LONG_GRACE)
    rows_short, rows_long = [r.row() for r in short], [r.row() for r in long]
    tables = (
        f"Termination grace period {GRACE:.0f} s:\n\n{table(rows_short)}\n\n"
        f"Termination grace period {LONG_GRACE:.0f} s:\n\n{table(rows_long)}"
    )
    sweep_table, sweep_verdict = sweep(arrivals, args.days, args.seed)
    print(sweep_table)
    print(sweep_verdict)
    robust = robustness(args.days, TUNING_SEEDS, HOLDOUT_SEEDS)
    print(robust)
    other = shapes(args.days, TUNING_SEEDS)
    print(other)
    print(f"{len(arrivals)} messages over {args.days} days (seed {args.seed})")
    print(tables)
    if not args.no_write:
        day = 1 if args.days > 1 else 0  # the second day: a full day after a quiet start
        png = ROOT / "docs" / "scaling-simulation.png"
        plot(short[:2] + short[4:], png, day * 24, day * 24 + 24)
        write_section(
            "Scaling",
            SECTION.format(
                days=args.days,
                seed=args.seed,
                secs=time.monotonic() - started,
                tables=tables,
                reading=reading(rows_short, rows_long),
                robust=robust,
                other=other,
                tuning=f"{TUNING_SEEDS[0]}-{TUNING_SEEDS[-1]}",
                holdout=f"{HOLDOUT_SEEDS[0]}-{HOLDOUT_SEEDS[-1]}",
                econ=econ_text(),
                sweep_table=sweep_table,
                sweep_verdict=sweep_verdict,
            ),
        )
        print("wrote docs/BENCHMARKS.md (## Scaling) and docs/scaling-simulation.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
