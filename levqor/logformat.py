"""Log formatters: plain lines for people, JSON lines for log collectors (LOG_FORMAT=json).

Both mask anything shaped like a Stripe or Resend secret, as a last guard: log
calls pass ids, never keys, but an exception message from a library might
still carry one.
"""

import json
import logging
import re
from datetime import UTC, datetime

SECRET_PATTERN = re.compile(r"\b((?:sk|rk)_(?:live|test)_|whsec_|re_)[A-Za-z0-9]{8,}")

# Attributes every LogRecord has; anything else came from a call's extra={...}.
STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def mask_secrets(text):
    return SECRET_PATTERN.sub(lambda match: f"{match[1]}****", text)


class PlainFormatter(logging.Formatter):
    def format(self, record):
        return mask_secrets(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the call's extra fields, and any exception."""

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in STANDARD_ATTRIBUTES and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return mask_secrets(json.dumps(entry, default=str))
