"""Settings for the test run: the production settings, read under a test environment.

The variables are set here, before levqor.settings reads them, and are passed
on to the servers and workers that tests start.
"""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ["LEVQOR_ENV"] = "test"
if "LEVQOR_VAR_DIR" not in os.environ:
    os.environ["LEVQOR_VAR_DIR"] = tempfile.mkdtemp(prefix="levqor-test-var-")
    atexit.register(shutil.rmtree, os.environ["LEVQOR_VAR_DIR"], ignore_errors=True)
# A file, not memory, so servers and workers started by tests share the database.
os.environ.setdefault("LEVQOR_TEST_DATABASE", os.path.join(os.environ["LEVQOR_VAR_DIR"], "test.sqlite3"))
# Svix secrets are "whsec_" plus base64; tests sign tracking events with this one.
os.environ.setdefault("RESEND_SIGNING_SECRET", "whsec_dGVzdC1vbmx5LXJlc2VuZC1zaWduaW5nLXNlY3JldA==")
os.environ.setdefault("STRIPE_MIRROR_SYNC", "1")
# Production paces Resend requests at 2 per second. At that pace the suite
# would wait about half a second per email. tests/test_resend_pacing.py sets
# its own rates.
os.environ.setdefault("RESEND_RATE_LIMIT_PER_SECOND", "50")
for name in ("DEBUG", "RESEND_API_KEY", "STRIPE_TEST_SECRET_KEY", "STRIPE_LIVE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET",
             "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "STAFF_ALERT_EMAILS"):
    os.environ.pop(name, None)

from levqor.settings import *  # noqa: E402,F403

# Every admin_client test creates a user, and the production hasher spends
# about half a second on each password. Tests need no strong hashes.
# A server started by a test reads the production settings, which do not
# accept MD5, so a user who logs in there needs a PBKDF2 hash (tests.staff).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
