"""A Resend API double: POST /emails answers with a message id, or with a queued fault."""

import collections
import json
import uuid
from email.utils import parseaddr

from .http import RecordingServer, json_response


class ResendDouble(RecordingServer):
    def answer(self, request):
        fault = self.next_fault()
        if fault is not None:
            return fault
        return json_response({"id": str(uuid.uuid4())})

    def sent(self):
        """Return the JSON bodies of the POST /emails requests, in order."""
        return [json.loads(request.get_data()) for request in self.requests() if request.path == "/emails"]

    def sent_per_address(self):
        """Return how many POST /emails requests each recipient address got, without the display name."""
        return collections.Counter(parseaddr(message["to"][0])[1] for message in self.sent())
