"""Typed readers for environment variables, used by the settings module."""

import os

from django.core.exceptions import ImproperlyConfigured

TRUE_VALUES = {"1", "true", "yes", "on"}
FALSE_VALUES = {"0", "false", "no", "off", ""}


def env_str(name, default=""):
    return os.environ.get(name, default).strip()


def env_bool(name, default=False):
    raw = os.environ.get(name)
    if raw is None:
        return default

    value = raw.strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise ImproperlyConfigured(
        f"Invalid boolean {raw!r} in {name}: use one of 1, true, yes, on, 0, false, no, off."
    )


def env_int(name, default):
    return env_number(name, default, int, "integer")


def env_float(name, default):
    return env_number(name, default, float, "number")


def env_number(name, default, parse, description):
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default

    try:
        return parse(raw)
    except ValueError:
        raise ImproperlyConfigured(f"Invalid {description} {raw!r} in {name}.") from None


def env_list(name, default=()):
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]
