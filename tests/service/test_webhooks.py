"""Standard Webhooks signing and verification, cross-checked against the reference package."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks

from grader.service import webhooks
from grader.service.errors import WebhookRejected
from grader.service.webhooks import host_allowed, sign, signed_headers, verify

BODY = json.dumps({"question": "q", "student": "s"}).encode()
TOLERANCE = 300


def test_new_secret_is_a_whsec_of_24_bytes():
    secret = webhooks.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
    assert secret != webhooks.new_secret()


def test_reference_package_verifies_our_signature():
    secret = webhooks.new_secret()
    headers = signed_headers(secret, "msg_1", BODY, time.time())
    assert standardwebhooks.Webhook(secret).verify(BODY, headers) == json.loads(BODY)


def test_we_verify_the_reference_packages_signature():
    secret = webhooks.new_secret()
    stamp = datetime.now(tz=UTC).replace(microsecond=0)
    signature = standardwebhooks.Webhook(secret).sign("msg_2", stamp, BODY.decode())
    headers = {
        "Webhook-Id": "msg_2",
        "Webhook-Timestamp": str(int(stamp.timestamp())),
        "Webhook-Signature": signature,
    }
    verify([secret], headers, BODY, time.time(), TOLERANCE)
    assert sign(secret, "msg_2", int(stamp.timestamp()), BODY) == signature


def test_spec_example_signature():
    """The worked example of the Standard Webhooks specification."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected


def _headers(secret: str, body: bytes = BODY, msg_id: str = "msg_3", at: float | None = None):
    return signed_headers(secret, msg_id, body, time.time() if at is None else at)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h, b: (h, b + b" "), "no valid signature"),
        (lambda h, b: ({**h, "webhook-id": "msg_other"}, b), "no valid signature"),
        (lambda h, b: ({**h, "webhook-signature": "v2," + h["webhook-signature"][3:]}, b), "no"),
        (lambda h, b: ({**h, "webhook-signature": "v1,not-base64!"}, b), "no valid signature"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b), "missing"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-id"}, b), "missing"),
        (lambda h, b: ({**h, "webhook-timestamp": "12.5"}, b), "not an integer"),
    ],
    ids=["tampered-body", "other-id", "unknown-version", "garbage", "no-signature", "no-id", "ts"],
)
def test_rejections(change, reason):
    secret = webhooks.new_secret()
    headers, body = change(_headers(secret), BODY)
    with pytest.raises(WebhookRejected, match=reason):
        verify([secret], headers, body, time.time(), TOLERANCE)


def test_wrong_secret_is_rejected():
    headers = _headers(webhooks.new_secret())
    with pytest.raises(WebhookRejected, match="no valid signature"):
        verify([webhooks.new_secret()], headers, BODY, time.time(), TOLERANCE)


@pytest.mark.parametrize(("offset", "word"), [(-301, "old"), (301, "future")], ids=["old", "new"])
def test_timestamp_tolerance_both_ways(offset, word):
    secret = webhooks.new_secret()
    now = 1_700_000_000.0
    with pytest.raises(WebhookRejected, match=word):
        verify([secret], _headers(secret, at=now + offset), BODY, now, TOLERANCE)
    verify([secret], _headers(secret, at=now + offset), BODY, now, abs(offset))


def test_any_of_several_signatures_and_secrets_verifies():
    old, new = webhooks.new_secret(), webhooks.new_secret()
    both = signed_headers([new, old], "msg_4", BODY, time.time())
    assert len(both["webhook-signature"].split()) == 2
    verify([old], both, BODY, time.time(), TOLERANCE)
    verify([new], both, BODY, time.time(), TOLERANCE)
    standardwebhooks.Webhook(old).verify(BODY, both)
    verify([webhooks.new_secret(), old], _headers(old), BODY, time.time(), TOLERANCE)


def test_bad_secret_is_a_value_error():
    with pytest.raises(ValueError, match="empty"):
        sign("whsec_", "msg", 1, BODY)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://lms.example.edu/hook", True),
        ("http://LMS.example.edu:8080/hook", True),
        ("http://127.0.0.1:9000/x", True),
        ("http://127.0.0.1:9001/x", False),
        ("https://lms.example.edu@evil.example/hook", False),
        ("ftp://lms.example.edu/hook", False),
        ("https://evil.example/?lms.example.edu", False),
        ("http://[::1", False),
        ("http://[::1]:80/x", True),
    ],
    ids=["host", "any-port", "host-port", "other-port", "userinfo", "scheme", "query", "bad", "v6"],
)
def test_callback_hosts(url, allowed):
    assert host_allowed(url, ["lms.example.edu", "127.0.0.1:9000", "[::1]"]) is allowed
