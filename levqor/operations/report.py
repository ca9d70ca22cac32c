"""A check report: findings with a status, facts about the setup, and a summary line.

Commands print it as text or JSON; the staff API returns the JSON form.
"""

import enum
from dataclasses import dataclass, field


class Status(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAIL = "fail"


@dataclass
class Finding:
    check: str
    status: Status
    message: str
    hint: str = ""
    details: dict = field(default_factory=dict)

    def as_dict(self):
        return {
            "check": self.check,
            "status": str(self.status),
            "message": self.message,
            "hint": self.hint,
            "details": self.details,
        }


@dataclass
class Report:
    name: str
    title: str
    facts: dict = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    # A one-word result that replaces the counts in the summary (db_check's STABLE).
    verdict: str = ""

    def add(self, check, status, message, *, hint="", **details):
        finding = Finding(check, Status(status), message, hint, details)
        self.findings.append(finding)
        return finding

    def ok(self, check, message, **details):
        return self.add(check, Status.OK, message, **details)

    def warning(self, check, message, *, hint="", **details):
        return self.add(check, Status.WARNING, message, hint=hint, **details)

    def fail(self, check, message, *, hint="", **details):
        return self.add(check, Status.FAIL, message, hint=hint, **details)

    def count(self, status):
        return sum(1 for finding in self.findings if finding.status == status)

    @property
    def failed(self):
        return self.count(Status.FAIL) > 0

    @property
    def summary(self):
        warnings = self.count(Status.WARNING)
        counts = (
            f"{self.count(Status.FAIL)} failed, {warnings} {'warning' if warnings == 1 else 'warnings'}, "
            f"{self.count(Status.OK)} passed"
        )
        return f"{self.name}: {self.verdict} ({counts})" if self.verdict else f"{self.name}: {counts}"

    def as_dict(self):
        return {
            "report": self.name,
            "ok": not self.failed,
            "verdict": self.verdict,
            "summary": self.summary,
            "facts": self.facts,
            "findings": [finding.as_dict() for finding in self.findings],
        }


STATUS_LABELS = {Status.OK: "OK", Status.WARNING: "WARN", Status.FAIL: "FAIL"}
# Wide enough for the longest check name, "price SUBSCRIPTION_BUSINESS_MONTHLY".
CHECK_WIDTH = 36


def render_text(report, verbosity=1):
    """Return the report as lines for a terminal.

    Verbosity 0 keeps failures and warnings, 1 adds facts and passed checks,
    2 adds each finding's details.
    """
    lines = []
    if verbosity >= 1:
        lines.append(report.title)
        lines.extend(f"  {name}: {format_fact(value)}" for name, value in report.facts.items())
        lines.append("")

    for finding in report.findings:
        if finding.status == Status.OK and verbosity < 1:
            continue
        lines.append(f"{STATUS_LABELS[finding.status]:<5} {finding.check:<{CHECK_WIDTH}} {finding.message}")
        indent = " " * (6 + CHECK_WIDTH + 1)
        if finding.hint and finding.status != Status.OK:
            lines.append(f"{indent}fix: {finding.hint}")
        if verbosity >= 2:
            lines.extend(f"{indent}{name}: {format_fact(value)}" for name, value in finding.details.items())

    lines.append(report.summary)
    return lines


def format_fact(value):
    if isinstance(value, dict):
        return "; ".join(f"{name} {format_fact(item)}" for name, item in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value) or "(none)"
    if value is None:
        return "-"
    return str(value)
