"""A Resend API double: POST /emails answers with a message id, or with a queued fault.

Like Resend, it honours the Idempotency-Key header: a repeated key gets the
first response and no second message.
"""

import collections
import json
import uuid
from email.utils import parseaddr

from .http import RecordingServer, json_response


class ResendDouble(RecordingServer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.accepted = []
        self.responses_by_key = {}

    def reset(self):
        super().reset()
        with self.lock:
            self.accepted.clear()
            self.responses_by_key.clear()

    def answer(self, request):
        fault = self.next_fault()
        if fault is not None:
            return fault

        key = request.headers.get("Idempotency-Key")
        with self.lock:
            if key and key in self.responses_by_key:
                return json_response(self.responses_by_key[key])
            body = {"id": str(uuid.uuid4())}
            self.accepted.append({**json.loads(request.get_data()), "id": body["id"], "idempotency_key": key})
            if key:
                self.responses_by_key[key] = body
        return json_response(body)

    def sent(self):
        """Return the JSON bodies of every POST /emails request, answered or not, in order."""
        return [json.loads(request.get_data()) for request in self.requests() if request.path == "/emails"]

    def delivered(self):
        """Return the messages accepted for delivery: one per idempotency key, with their ids."""
        with self.lock:
            return list(self.accepted)

    def sent_per_address(self):
        """Return how many messages each recipient address got, one per idempotency key, without the display name."""
        return collections.Counter(parseaddr(message["to"][0])[1] for message in self.delivered())
