"""Generate `civicfund_client` (libs/civicfund_client), a typed Python client of the platform, from the merged API
document (the same one the gateway serves at /openapi.json):

    .venv/bin/python -m devstack.client_gen          # rewrite the client
    .venv/bin/python -m devstack.client_gen --check  # exit 1 if it is out of date

The document is built in-process from the services' apps and the gateway's merge, so no stack
has to run. Every component schema becomes a TypedDict (or a Literal), every operation a method
named by its operation id, with typed path, query and header parameters and body; an error
answer raises `ApiError` with the platform error body's fields.
"""

from __future__ import annotations

import argparse
import importlib
import keyword
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

# Its own package, so the web site and outside callers depend on it without the dev tooling.
OUTPUT = Path(__file__).resolve().parents[4] / "libs/civicfund_client/src/civicfund_client/__init__.py"
SERVICES = ["campaigns", "payments", "endorsements", "notifications"]
REF = "#/components/schemas/"
SKIPPED_HEADERS = {"authorization", "content-type"}


def merged_document() -> dict[str, Any]:
    """The merged document as the gateway serves it, from the apps' own documents."""
    from gateway.openapi_merge import merge

    gateway = importlib.import_module("gateway.app").app
    services = {name: importlib.import_module(f"{name}.app").app.openapi() for name in SERVICES}
    return merge(gateway.openapi(), services, [])


def type_name(schema_name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", schema_name) if part)


def snake(name: str) -> str:
    out = re.sub(r"[^0-9A-Za-z]+", "_", name)
    out = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", out).lower().strip("_")
    if not out or out[0].isdigit() or keyword.iskeyword(out):
        out = f"p_{out}"
    return out


def annotation(schema: Any) -> str:
    """A Python type for a JSON Schema (the subset FastAPI/pydantic documents produce)."""
    if not isinstance(schema, dict) or not schema:
        return "Any"
    if "$ref" in schema:
        ref = schema["$ref"]
        return type_name(ref[len(REF) :]) if ref.startswith(REF) else "Any"
    if "const" in schema:
        return f"Literal[{schema['const']!r}]"
    if "enum" in schema:
        return f"Literal[{', '.join(repr(v) for v in schema['enum'])}]"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return union([annotation(branch) for branch in schema[key]])
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return annotation(schema["allOf"][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        return union([annotation({**schema, "type": k}) for k in kind])
    if kind == "string":
        return "str"
    if kind == "integer":
        return "int"
    if kind == "number":
        return "float"
    if kind == "boolean":
        return "bool"
    if kind == "null":
        return "None"
    if kind == "array":
        return f"list[{annotation(schema.get('items'))}]"
    if kind == "object" or "properties" in schema:
        extra = schema.get("additionalProperties")
        return f"dict[str, {annotation(extra) if isinstance(extra, dict) else 'Any'}]"
    return "Any"


def union(parts: list[str]) -> str:
    unique = list(dict.fromkeys(parts))
    return "Any" if "Any" in unique else " | ".join(unique)


def schema_definitions(schemas: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for name in sorted(schemas):
        schema = schemas[name]
        py = type_name(name)
        doc = (schema.get("description") or "").strip().splitlines()
        if schema.get("type") == "object" or "properties" in schema:
            required = set(schema.get("required") or [])
            props = schema.get("properties") or {}
            typed = {
                prop: annotation(sub) if prop in required else f"NotRequired[{annotation(sub)}]"
                for prop, sub in props.items()
            }
            if all(p.isidentifier() and not keyword.iskeyword(p) for p in props):
                lines.append(f"class {py}(TypedDict):")
                if doc:
                    lines.append(f'    """{_doc(doc[0])}"""')
                    lines.append("")
                lines.extend(f"    {prop}: {ann}" for prop, ann in typed.items())
                if not typed and not doc:
                    lines.append("    pass")
            else:
                # Keys that are not Python names: the functional form, whose values are evaluated
                # at once (names defined further down are strings).
                lines.append(f"{py} = TypedDict(")
                lines.append(f"    {py!r},")
                lines.append("    {")
                lines.extend(f"        {prop!r}: {ann!r}," for prop, ann in typed.items())
                lines.append("    },")
                lines.append(")")
            lines.append("")
        else:
            lines.append(f"{py}: TypeAlias = {annotation(schema)!r}")
        lines.append("")
    return lines


def _json_body(operation: dict[str, Any]) -> tuple[str, str] | None:
    content = (operation.get("requestBody") or {}).get("content") or {}
    if "application/json" in content:
        return "json", annotation(content["application/json"].get("schema"))
    if "application/x-www-form-urlencoded" in content:
        return "data", "dict[str, str]"
    text = next((kind for kind in content if kind.startswith("text/")), None)
    if text is not None:
        # A file sent as is (a census as text/csv): the body and its media type.
        return f"content:{text}", "str | bytes"
    return None


def _answer(operation: dict[str, Any]) -> tuple[str, str]:
    """(return type, how to read the body) for the operation's success answer."""
    for status, response in sorted((operation.get("responses") or {}).items()):
        if not status.startswith("2"):
            continue
        content = response.get("content") or {}
        if "application/json" in content:
            return annotation(content["application/json"].get("schema")), "json"
        if any(not kind.startswith("text/") for kind in content):
            return "bytes", "bytes"  # a document (PDF...)
        if content:
            return "str", "text"
        return "None", "none"
    return "None", "none"


def method_source(path: str, verb: str, operation: dict[str, Any]) -> list[str]:
    name = snake(operation.get("operationId") or f"{verb}_{path}")
    args: list[str] = []
    path_args: dict[str, str] = {}
    query: list[tuple[str, str]] = []
    headers: list[tuple[str, str]] = []
    for param in operation.get("parameters") or []:
        where, wire = param.get("in"), param["name"]
        if where == "header" and wire.lower() in SKIPPED_HEADERS:
            continue
        py = snake(wire)
        ann = annotation(param.get("schema"))
        required = bool(param.get("required"))
        if where == "path":
            path_args[wire] = py
            args.insert(len(path_args) - 1, f"{py}: {ann}")
            continue
        args.append(f"{py}: {ann}" if required else f"{py}: {ann} | None = None")
        (query if where == "query" else headers).append((wire, py))
    body = _json_body(operation)
    if body is not None:
        args.append(f"body: {body[1]}")
    returns, reads = _answer(operation)
    url = re.sub(
        r"\{([^}]+)\}", lambda m: "{_segment(" + path_args.get(m.group(1), snake(m.group(1))) + ")}", path
    )
    positional = [a for a in args if a.split(":")[0] in path_args.values()]
    keywords = [a for a in args if a not in positional]
    # Required keywords first (a keyword-only argument without a default may follow one with).
    keywords.sort(key=lambda a: "=" in a)
    signature = ", ".join(["self", *positional, *(["*", *keywords] if keywords else [])])
    summary = (operation.get("summary") or name).strip()
    description = (operation.get("description") or "").strip().splitlines()
    doc = f"{summary}: {verb.upper()} {path}." + (f" {description[0]}" if description else "")
    lines = [f"    async def {name}({signature}) -> {returns}:", f'        """{_doc(doc)}"""']
    params = ", ".join(f"{wire!r}: {py}" for wire, py in query)
    head = ", ".join(f"{wire!r}: {py}" for wire, py in headers)
    call = [f"{verb.upper()!r}", f'f"{url}"' if "{" in url else repr(url)]
    if query:
        call.append(f"params={{{params}}}")
    if headers:
        call.append(f"headers={{{head}}}")
    if body is not None and body[0].startswith("content:"):
        call.append("content=body")
        media = body[0].removeprefix("content:")
        call.append(f"headers={{{head + ', ' if head else ''}'content-type': {media!r}}}")
        if headers:
            call.remove(f"headers={{{head}}}")
    elif body is not None:
        call.append(f"{body[0]}=body")
    sent = f"self._call({', '.join(call)})"
    if reads == "json":
        lines.append(f"        answer = await {sent}")
        lines.append(f"        return cast({returns!r}, answer.json())")
    elif reads == "text":
        lines.append(f"        return (await {sent}).text")
    elif reads == "bytes":
        lines.append(f"        return (await {sent}).content")
    else:
        lines.append(f"        await {sent}")
    lines.append("")
    return lines


def _doc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', "'''")


HEADER = '''"""A typed Python client of the Civicfund API, GENERATED from the merged API document by
`python -m devstack.client_gen` (do not edit: change the routes, then regenerate).

    async with CivicfundClient("http://127.0.0.1:8000") as api:
        tokens = await api.gateway_login(body={"email": ..., "password": ...})
        api.token = tokens["access_token"]
        page = await api.campaigns_list_campaigns(municipality="montreuil")

An answer of 400 or more raises `ApiError` (status, code, message, request_id, details).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Literal, NotRequired, TypeAlias, TypedDict, cast
from urllib.parse import quote

import httpx


class ApiError(Exception):
    """The platform error body of a refused request."""

    def __init__(self, response: httpx.Response) -> None:
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        self.response = response
        self.status: int = response.status_code
        self.code: str = str(error.get("code", "error"))
        self.message: str = str(error.get("message", response.text[:200]))
        self.request_id: str | None = error.get("request_id")
        self.details: Any = error.get("details")
        super().__init__(f"{self.status} {self.code}: {self.message}")


def _segment(value: object) -> str:
    return quote(str(value), safe="")


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class _Base:
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        """`client` shares one pooled connection between many of these (one per caller, each
        with its own token); `headers` go with every request of this one (a request id, a
        proxy's headers)."""
        self.token = token
        self.headers = dict(headers or {})
        self._own = client is None
        self._client = client or httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def aclose(self) -> None:
        if self._own:
            await self._client.aclose()

    async def __aenter__(self) -> CivicfundClient:
        return cast(CivicfundClient, self)

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _call(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        json: Any = None,
        data: dict[str, str] | None = None,
        content: str | bytes | None = None,
    ) -> httpx.Response:
        sent = {**self.headers, **{k: str(v) for k, v in _present(headers or {}).items()}}
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        answer = await self._client.request(
            method, url, params=_present(params or {}), headers=sent, json=json, data=data, content=content
        )
        if answer.status_code >= 400:
            raise ApiError(answer)
        return answer


'''


def render(doc: dict[str, Any]) -> str:
    lines = [HEADER.rstrip("\n"), "", ""]
    lines.extend(schema_definitions((doc.get("components") or {}).get("schemas") or {}))
    lines.append("")
    lines.append("class CivicfundClient(_Base):")
    lines.append('    """One method per operation of the document, named by its operation id."""')
    lines.append("")
    for path in sorted(doc.get("paths") or {}):
        for verb, operation in sorted(doc["paths"][path].items()):
            if isinstance(operation, dict) and verb in {"get", "post", "put", "patch", "delete"}:
                lines.extend(method_source(path, verb, operation))
    source = "\n".join(lines).rstrip() + "\n"
    body = source[len(HEADER) :]
    for name in ("Literal", "NotRequired", "TypeAlias"):
        if not re.search(rf"\b{name}\b", body):
            source = source.replace(f" {name},", "", 1)
    return source


def formatted(source: str) -> str:
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run(
        [str(ruff), "format", "--stdin-filename", str(OUTPUT), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def generate() -> str:
    return formatted(render(merged_document()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the client is out of date")
    args = parser.parse_args()
    source = generate()
    if args.check:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != source:
            print(f"{OUTPUT} is out of date: run python -m devstack.client_gen", file=sys.stderr)
            sys.exit(1)
        return
    OUTPUT.write_text(source)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
