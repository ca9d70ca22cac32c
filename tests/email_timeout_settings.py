"""The production settings with a one-second Resend timeout, for worker processes in the timeout test.

Anymail 15 waits 30 s for the provider by default, and levqor.settings does
not change that.
"""

from levqor.settings import *  # noqa: F403

ANYMAIL = {**ANYMAIL, "REQUESTS_TIMEOUT": 1}  # noqa: F405
