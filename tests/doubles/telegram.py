"""A Telegram Bot API double: POST /bot<token>/sendMessage, with the Bot API's error shapes."""

import json
import re

from .http import RecordingServer, json_response

TOKEN = "123456:telegram-double-token"
CHAT_ID = "-1001234567890"
PATH = re.compile(r"^/bot(?P<token>[^/]+)/sendMessage$")


def telegram_error(status, description, **parameters):
    body = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return json_response(body, status)


def rate_limited(retry_after=1):
    """Return a fault: the Bot API's 429 response, which gives the wait in parameters.retry_after."""
    return (429, {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {retry_after}",
                  "parameters": {"retry_after": retry_after}})


class TelegramDouble(RecordingServer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.messages = []

    def reset(self):
        super().reset()
        with self.lock:
            self.messages.clear()

    def answer(self, request):
        fault = self.next_fault()
        if fault is not None:
            return fault

        match = PATH.match(request.path)
        if request.method != "POST" or match is None:
            return telegram_error(404, "Not Found")
        if match["token"] != TOKEN:
            return telegram_error(401, "Unauthorized")
        body = json.loads(request.get_data() or b"{}")
        if str(body.get("chat_id")) != CHAT_ID:
            return telegram_error(400, "Bad Request: chat not found")

        with self.lock:
            self.messages.append(body)
            message_id = len(self.messages)
        return json_response({"ok": True, "result": {"message_id": message_id, "chat": {"id": CHAT_ID}, "text": body.get("text")}})

    def texts(self):
        with self.lock:
            return [message["text"] for message in self.messages]
