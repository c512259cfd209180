"""Schemathesis hooks for `cargo xtask schemathesis`: every error answer of the Tuned
Tensor API must be in the error envelope, `{"error": {"code": str, "message": str}}`."""

import schemathesis


@schemathesis.check
def error_envelope(ctx, response, case):
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except Exception as err:  # noqa: BLE001 - any decoding failure is the finding
        raise AssertionError(f"HTTP {response.status_code} error body is not JSON: {err}")
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        raise AssertionError(f"HTTP {response.status_code} error body has no `error` object: {body!r}")
    for field in ("code", "message"):
        if not isinstance(error.get(field), str) or not error[field]:
            raise AssertionError(f"HTTP {response.status_code} error lacks a `{field}` string: {body!r}")
    return None
