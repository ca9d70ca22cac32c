"""gunicorn settings, read from the environment; gunicorn loads this file from the working directory.

Command-line options win over these, so `gunicorn levqor.wsgi --bind ...` in
the demo and the tests still chooses its own address.
"""

import multiprocessing
import os


def env_int(name, default):
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


# Platforms (Heroku, Render, Fly.io and others) set PORT and expect the server on every interface.
bind = [f"{os.environ.get('BIND_HOST', '0.0.0.0')}:{env_int('PORT', 8000)}"]

# Sync workers: each handles one request at a time and keeps one database
# connection. Two per core plus one is gunicorn's documented starting point.
# The cap keeps a large machine from opening more connections than a small
# managed PostgreSQL accepts. WEB_CONCURRENCY overrides it.
workers = env_int("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8))

# A webhook is acknowledged in well under a second; 30 s leaves room for the
# admin's exports. A worker silent for longer is killed and replaced.
timeout = env_int("GUNICORN_TIMEOUT", 30)
graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = env_int("GUNICORN_KEEPALIVE", 5)

# Restart workers now and then, spread out, so a slow leak cannot grow for good.
max_requests = env_int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = env_int("GUNICORN_MAX_REQUESTS_JITTER", 100)

# The access log and gunicorn's own log go to stdout and stderr for the platform to collect.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Remote address, request line, status, bytes, duration in microseconds, user agent.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(D)sus "%(a)s"'

# Heartbeat files on a RAM disk, where containers have one, so a slow disk cannot stall workers.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

