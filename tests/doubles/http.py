"""Loopback HTTP doubles of outside APIs, with a request log and fault injection."""

import json
import threading
import time

from pytest_httpserver import HTTPServer
from werkzeug import Response

# A fault is one of: (status, json body[, headers]), ("slow", seconds),
# ("refuse",) or ("ok",), which returns the normal response and lets a test
# aim the next fault at a later request. Each queued fault answers one request, in order. A "slow"
# fault delays the request and then answers it normally.


class RecordingServer(HTTPServer):
    """A loopback HTTP server that keeps a log of every request and can inject faults."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.faults = []
        # The doubles serve requests on several threads (threaded=True).
        self.lock = threading.Lock()

    def requests(self):
        return [request for request, _ in self.log]

    def reset(self):
        self.clear_log()
        self.faults.clear()

    def next_fault(self):
        """Apply the next queued fault; return a Response for it, or None to respond normally."""
        with self.lock:
            if not self.faults:
                return None
            fault = self.faults.pop(0)

        if fault[0] == "ok":
            return None
        if fault[0] == "slow":
            time.sleep(fault[1])
            return None
        if fault[0] == "refuse":
            # An abrupt close: the client sees the connection reset.
            raise ConnectionResetError("fault injected: connection refused")
        status, body = fault[0], fault[1]
        headers = fault[2] if len(fault) > 2 else {}
        return json_response(body, status, headers)


def json_response(body, status=200, headers=None):
    return Response(json.dumps(body), status=status, content_type="application/json", headers=headers or {})
