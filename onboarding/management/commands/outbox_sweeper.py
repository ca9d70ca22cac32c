"""Run the outbox sweeper in a loop next to the task workers."""

import logging
import signal
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import Error, close_old_connections

from onboarding.sweeper import sweep

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Recover outbox rows left in 'sending' by a dead worker and enqueue due rows whose task is late. "
        "Runs until stopped; run one next to the db_worker processes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=30, help="Seconds between passes (default 30).")
        parser.add_argument("--once", action="store_true", help="Run one pass and exit.")
        parser.add_argument("--max-passes", type=int, default=None, help="Stop after this many passes.")

    def handle(self, *args, interval, once, max_passes, verbosity, **options):
        self.running = True
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        max_passes = 1 if once else max_passes
        logger.info("Outbox sweeper started with a %s s interval", interval)

        passes = failures = 0
        while self.running and (max_passes is None or passes < max_passes):
            # A persistent connection may have been closed by the server since
            # the last pass; this drops it (CONN_HEALTH_CHECKS), as a request would.
            close_old_connections()
            try:
                result = sweep()
            # Error, not only DatabaseError: a connection the server closed
            # mid-pass can surface as InterfaceError, which must not end the loop.
            except Error:
                failures += 1
                logger.exception("Outbox sweep pass failed; retrying in %s s", interval)
            else:
                if verbosity >= 2 or result.recovered or result.enqueued:
                    self.stdout.write(f"Sweep: {result.recovered} recovered, {result.enqueued} enqueued")
            close_old_connections()
            passes += 1
            if self.running and (max_passes is None or passes < max_passes):
                self.sleep(interval)

        logger.info("Outbox sweeper stopped after %s passes (%s failed)", passes, failures)
        if once and failures:
            raise CommandError("The sweep pass failed: see the log above.")

    def sleep(self, seconds):
        """Sleep in short steps so that SIGTERM stops the loop within a fraction of a second."""
        deadline = time.monotonic() + seconds
        while self.running and time.monotonic() < deadline:
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def stop(self, signum, frame):
        logger.info("Outbox sweeper received %s, stopping after this pass", signal.Signals(signum).name)
        self.running = False
