"""schemathesis hooks for the API document run (`tests/api_document.toml` loads this file).

The document states the shape of every request; a service may still refuse a well-shaped one for
a rule no JSON Schema can state (a password too easy to guess, an end before a start, a cursor or
a link's token it did not issue). So the run lets a schema-valid request get 400 or 422, and this
check makes sure such a refusal names a rule beyond the document: a domain `code`, or a
validator's own message. A refusal for a shape the document allows (a length, a type, a missing
field, a body that is not JSON) is a lie in the document and fails the run.
"""

from __future__ import annotations

from typing import Any

import schemathesis

# pydantic error types a model validator raises for a rule across fields (`ends_at` after
# `starts_at`): the document cannot state those. Every other pydantic type is a shape rule.
RULE_TYPES = {"value_error", "assertion_error"}
# A link's token (verify-email, password reset, unsubscribe) the platform did not sign.
LINK_CODES = {"invalid_token"}


def _error(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


@schemathesis.check
def refusals_name_a_rule_beyond_the_document(ctx: Any, response: Any, case: Any) -> bool | None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code not in (400, 422):
        return None
    error = _error(response)
    code = error.get("code")
    if response.status_code == 400 and code in LINK_CODES:
        return None
    if response.status_code == 422 and code not in (None, "validation_error"):
        return None  # a domain rule, named
    if response.status_code == 422 and code == "validation_error":
        details = [d for d in error.get("details") or [] if isinstance(d, dict)]
        shape = [d for d in details if d.get("type") not in RULE_TYPES]
        if not shape:
            # A validator's rule across fields, or one a route raises itself (pydantic's own
            # refusals always list the failing fields).
            return None
        raise AssertionError(
            f"a request the document allows was refused for its shape: {shape or error}\n\n"
            "Make the document state this rule (or stop enforcing it)"
        )
    raise AssertionError(f"a request the document allows was refused with {response.status_code}: {error}")
