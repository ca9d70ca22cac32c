"""db_check: query latency and errors on fresh and reused database connections.

Each round runs one query the way a request would, after close_old_connections(),
which Django calls at the start and end of every request. A connection that the
server dropped is then replaced by the health check (counted as a reconnect).
Without health checks it fails the query (counted as an error), and the next
round's close_old_connections() replaces it.
"""

import math
import statistics
import time
from dataclasses import dataclass

from django.db import DatabaseError, close_old_connections, connections

from .report import Report

STABLE = "STABLE"
DEGRADED = "DEGRADED"
UNSTABLE = "UNSTABLE"


@dataclass(frozen=True)
class Thresholds:
    degraded_p95_ms: float = 100.0
    unstable_p95_ms: float = 1000.0
    unstable_error_rate: float = 0.01

    def describe(self):
        return {
            UNSTABLE: f"when the error rate is above {self.unstable_error_rate:.0%}, the last query failed, "
            f"or p95 is above {self.unstable_p95_ms:g} ms",
            DEGRADED: f"when any query failed, the health check replaced a dropped connection, "
            f"or p95 is above {self.degraded_p95_ms:g} ms",
            STABLE: "otherwise",
        }


@dataclass(frozen=True)
class Sample:
    # "fresh": the round opened a new connection; "reused": it ran on a kept one.
    connection: str
    milliseconds: float
    error: str = ""
    # A kept connection was found dead and replaced by CONN_HEALTH_CHECKS.
    reconnected: bool = False


def run_queries(count, *, fresh_every=5, interval=0.0, using="default", progress=None):
    """Run count rounds of SELECT 1; return one Sample per round.

    Every fresh_every-th round closes the connection first, to measure connecting.
    """
    connection = connections[using]
    samples = []
    for index in range(count):
        if index:
            close_old_connections()
            if interval:
                time.sleep(interval)
        if fresh_every and index % fresh_every == 0:
            connection.close()
        samples.append(run_round(connection))
        if progress:
            progress(index + 1, samples)
    close_old_connections()
    return samples


def run_round(connection):
    before = connection.connection
    kind = "fresh" if before is None else "reused"
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        elapsed = (time.perf_counter() - started) * 1000
        message = " ".join(str(exc).split())[:200]
        return Sample(kind, elapsed, error=f"{type(exc).__name__}: {message}")

    elapsed = (time.perf_counter() - started) * 1000
    reconnected = before is not None and connection.connection is not before
    return Sample(kind, elapsed, reconnected=reconnected)


def latency_summary(milliseconds):
    if not milliseconds:
        return {"count": 0}
    ordered = sorted(milliseconds)
    return {
        "count": len(ordered),
        "min": round(ordered[0], 2),
        "median": round(statistics.median(ordered), 2),
        # Nearest-rank percentile: the smallest value with 95% of samples at or below it.
        "p95": round(ordered[math.ceil(0.95 * len(ordered)) - 1], 2),
        "max": round(ordered[-1], 2),
    }


def classify(samples, thresholds):
    """Return (verdict, reasons) for a run."""
    errors = [sample for sample in samples if sample.error]
    reconnects = sum(sample.reconnected for sample in samples)
    successful = [sample.milliseconds for sample in samples if not sample.error]
    p95 = latency_summary(successful).get("p95")
    error_rate = len(errors) / len(samples) if samples else 1.0

    unstable = []
    if not successful:
        unstable.append("every query failed")
    if error_rate > thresholds.unstable_error_rate:
        unstable.append(f"error rate {error_rate:.1%} is above {thresholds.unstable_error_rate:.0%}")
    if samples and samples[-1].error:
        unstable.append("the last query failed, so the connection did not recover")
    if p95 is not None and p95 > thresholds.unstable_p95_ms:
        unstable.append(f"p95 {p95} ms is above {thresholds.unstable_p95_ms:g} ms")
    if unstable:
        return UNSTABLE, unstable

    degraded = []
    if errors:
        degraded.append(f"{len(errors)} queries failed and the connection recovered")
    if reconnects:
        degraded.append(f"{reconnects} dropped connections were replaced by the health check")
    if p95 is not None and p95 > thresholds.degraded_p95_ms:
        degraded.append(f"p95 {p95} ms is above {thresholds.degraded_p95_ms:g} ms")
    if degraded:
        return DEGRADED, degraded
    return STABLE, ["no errors, no dropped connections, latency within the thresholds"]


def connection_facts(using="default"):
    settings_dict = connections[using].settings_dict
    return {
        "vendor": connections[using].vendor,
        "database": str(settings_dict["NAME"]),
        "host": settings_dict.get("HOST") or "-",
        # None keeps connections open for good; 0 closes them after each request.
        "CONN_MAX_AGE": settings_dict.get("CONN_MAX_AGE"),
        "CONN_HEALTH_CHECKS": settings_dict.get("CONN_HEALTH_CHECKS"),
    }


def build_db_report(samples, thresholds, using="default"):
    verdict, reasons = classify(samples, thresholds)
    errors = [sample for sample in samples if sample.error]
    report = Report("db_check", "Database check", verdict=verdict)
    report.facts.update(connection_facts(using))
    report.facts.update(
        {
            "queries": len(samples),
            "fresh_connections": sum(sample.connection == "fresh" for sample in samples),
            "reused_connections": sum(sample.connection == "reused" for sample in samples),
            "latency_ms": latency_summary([sample.milliseconds for sample in samples if not sample.error]),
            "fresh_latency_ms": latency_summary(
                [sample.milliseconds for sample in samples if sample.connection == "fresh" and not sample.error]
            ),
            "reused_latency_ms": latency_summary(
                [sample.milliseconds for sample in samples if sample.connection == "reused" and not sample.error]
            ),
            "errors": len(errors),
            "reconnects": sum(sample.reconnected for sample in samples),
            "thresholds": thresholds.describe(),
        }
    )

    status = {STABLE: "ok", DEGRADED: "warning", UNSTABLE: "fail"}[verdict]
    report.add("stability", status, f"{verdict}: {'; '.join(reasons)}.", hint=stability_hint(verdict, report.facts))
    if errors:
        report.add(
            "errors",
            "fail" if verdict == UNSTABLE else "warning",
            f"{len(errors)} of {len(samples)} queries failed; first: {errors[0].error}",
            errors=[sample.error for sample in errors[:10]],
        )
    check_settings(report)
    return report


def stability_hint(verdict, facts):
    if verdict == STABLE:
        return ""
    if facts["errors"] and not facts["CONN_HEALTH_CHECKS"] and facts["CONN_MAX_AGE"] != 0:
        return "Set CONN_HEALTH_CHECKS=1 so a dropped connection is replaced before a request uses it."
    return "Check the database server's load and logs, and the network between this host and the database."


def check_settings(report):
    facts = report.facts
    if facts["vendor"] == "postgresql" and facts["CONN_MAX_AGE"] != 0 and not facts["CONN_HEALTH_CHECKS"]:
        report.warning(
            "health_checks",
            "Persistent connections without CONN_HEALTH_CHECKS: the first request after a dropped connection fails.",
            hint="Set CONN_HEALTH_CHECKS=1 (the default).",
        )
    else:
        report.ok(
            "connection_settings",
            f"CONN_MAX_AGE={facts['CONN_MAX_AGE']}, CONN_HEALTH_CHECKS={facts['CONN_HEALTH_CHECKS']}.",
        )
