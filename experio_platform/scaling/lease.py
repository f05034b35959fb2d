"""Leader election for the run_scaler replicas: one database lease row with an epoch.

Only the holder of an unexpired lease acts. Taking over an expired lease increments ``epoch``
(the fencing token): every decision is recorded with it, and the leader re-checks right before
each platform call that the lease is still its own at the same epoch, so a leader that stalled
past its TTL (GC pause, SIGSTOP, network partition) finds out before it writes. Times come from
the database (``Now()``), so replicas' clock skew does not matter.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Now

from experio_platform.scaling.models import ScalerLease

logger = logging.getLogger(__name__)


class LeaderLease:
    """A lease held by ``holder`` for ``ttl`` seconds; ``epoch`` is set while leading."""

    def __init__(self, name: str, holder: str, ttl: float) -> None:
        self.name = name
        self.holder = holder
        self.ttl = timedelta(seconds=ttl)
        self.epoch: int | None = None

    def _ensure_row(self) -> None:
        if not ScalerLease.objects.filter(name=self.name).exists():
            try:
                with transaction.atomic():
                    ScalerLease.objects.create(name=self.name)
            except IntegrityError:
                pass  # another replica created it first

    def acquire_or_renew(self) -> bool:
        """Renew our lease, or take it over when it is free or expired. True when leading."""
        qs = ScalerLease.objects.filter(name=self.name)
        if self.epoch is not None:
            renewed = qs.filter(holder=self.holder, epoch=self.epoch, expires_at__gt=Now()).update(
                renewed_at=Now(), expires_at=Now() + self.ttl
            )
            if renewed:
                return True
            logger.warning("run_scaler %s lost the lease (epoch %s)", self.holder, self.epoch)
            self.epoch = None
        self._ensure_row()
        with transaction.atomic():
            taken = qs.filter(Q(expires_at__isnull=True) | Q(expires_at__lte=Now())).update(
                holder=self.holder,
                epoch=F("epoch") + 1,
                acquired_at=Now(),
                renewed_at=Now(),
                expires_at=Now() + self.ttl,
            )
            if taken:
                # Our UPDATE holds the row lock until commit: nobody can change it in between.
                self.epoch = qs.values_list("epoch", flat=True).get()
                logger.info("run_scaler %s is leader (epoch %s)", self.holder, self.epoch)
                return True
        return False

    def still_leader(self) -> bool:
        """Return True when the lease is still ours, at our epoch, and unexpired (fencing)."""
        if self.epoch is None:
            return False
        return ScalerLease.objects.filter(
            name=self.name, holder=self.holder, epoch=self.epoch, expires_at__gt=Now()
        ).exists()

    def release(self) -> None:
        """Expire our lease now so a successor need not wait for the TTL (graceful exit)."""
        if self.epoch is not None:
            ScalerLease.objects.filter(name=self.name, holder=self.holder, epoch=self.epoch).update(
                expires_at=Now()
            )
            self.epoch = None
