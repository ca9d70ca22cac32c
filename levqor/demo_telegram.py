"""A Telegram Bot API stand-in for the demo: an http.server thread on 127.0.0.1 that records sendMessage calls."""

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class DemoTelegram:
    """Start with start(), read the alerts from messages, stop with stop()."""

    def __init__(self, host="127.0.0.1"):
        self.token = f"0:demo-{secrets.token_hex(8)}"
        self.chat_id = "-1000000000001"
        self.messages = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, 0), self.handler_class())
        self.thread = threading.Thread(target=self.server.serve_forever, name="demo-telegram", daemon=True)

    @property
    def api_base(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def environment(self):
        """Return the variables that point the server and worker at this stand-in."""
        return {"TELEGRAM_BOT_TOKEN": self.token, "TELEGRAM_CHAT_ID": self.chat_id, "TELEGRAM_API_BASE": self.api_base}

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def handler_class(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                if self.path != f"/bot{double.token}/sendMessage" or not isinstance(body, dict):
                    self.reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                    return
                with double.lock:
                    double.messages.append(body.get("text", ""))
                    message_id = len(double.messages)
                self.reply(200, {"ok": True, "result": {"message_id": message_id}})

            def reply(self, status, body):
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format, *args):
                # The demo prints the messages itself; request lines would clutter it.
                pass

        return Handler
