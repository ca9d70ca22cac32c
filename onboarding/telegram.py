"""The Telegram Bot API client: one sendMessage call, errors classified for retries."""

import logging

import requests
from django.conf import settings

from .failures import DeliveryError, is_retryable_status, parse_retry_after

logger = logging.getLogger(__name__)


def is_configured():
    return bool(settings.TELEGRAM_BOT_TOKEN and settings.TELEGRAM_CHAT_ID)


def send_message(chat_id, text):
    """Send a text message to a chat; return Telegram's message id as a string.

    Raises DeliveryError. Its messages never contain the request URL, because
    the URL contains the bot token.
    """
    url = f"{settings.TELEGRAM_API_BASE}/bot{settings.TELEGRAM_BOT_TOKEN}/sendMessage"
    try:
        response = requests.post(
            url,
            json={"chat_id": chat_id, "text": text, "disable_web_page_preview": True},
            timeout=settings.TELEGRAM_TIMEOUT,
        )
    except requests.Timeout:
        raise DeliveryError(f"Telegram API timed out after {settings.TELEGRAM_TIMEOUT:g} s") from None
    except requests.RequestException as exc:
        raise DeliveryError(f"Telegram API could not be reached ({type(exc).__name__})") from None

    body = json_body(response)
    if response.status_code == 200 and body.get("ok"):
        return str(body.get("result", {}).get("message_id", ""))

    # The Bot API returns the wait in parameters.retry_after, and some proxies
    # in front of it send a Retry-After header instead.
    parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
    retry_after = parse_retry_after(parameters.get("retry_after") or response.headers.get("Retry-After"))
    description = str(body.get("description") or response.reason or "no description")[:200]
    raise DeliveryError(
        f"Telegram API returned {response.status_code}: {description}",
        permanent=not is_retryable_status(response.status_code),
        retry_after=retry_after,
        status_code=response.status_code,
    )


def json_body(response):
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
