"""The API document tells the truth: schemathesis, with every check and every phase, over the
merged `/openapi.json` of the real stack, first with the platform admin's token, then with a
citizen's. Bounded (tests/api_document.toml: deterministic generation, a few examples per
operation), so the same requests run every time; any failure fails the test with schemathesis'
own report (each failure with the curl line that reproduces it)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from devstack.seed.accounts import PEOPLE

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "tests" / "api_document.toml"
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


async def admin_token(gateway_url: str) -> str:
    """The demo seed's admin (the stack's bootstrap list makes that address an admin), logged in
    through the gateway like any client."""
    admin = next(p for p in PEOPLE if p.key == "admin")
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        created = await client.post(
            "/api/v1/auth/register",
            json={"email": admin.email, "password": admin.password, "display_name": admin.display_name},
        )
        assert created.status_code in (201, 409), created.text
        login = await client.post(
            "/api/v1/auth/login", json={"email": admin.email, "password": admin.password}
        )
        assert login.status_code == 200, login.text
        token = str(login.json()["access_token"])
        me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert "admin" in me.json()["roles"], me.text
        return token


async def run_schemathesis(gateway_url: str, token: str, report_dir: Path) -> tuple[int, str, dict]:
    proc = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        f"{gateway_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--report",
        "json",
        "--report-json-path",
        str(report_dir / "report.json"),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate()
    report_path = report_dir / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    return proc.returncode or 0, output.decode(errors="replace"), report


@pytest.mark.timeout(900)  # about 40 s on a quiet machine; minutes on a loaded one
@pytest.mark.parametrize("who", ["admin", "citizen"])
async def test_the_api_document_tells_the_truth(
    who: str, gateway_url: str, make_account: Callable[..., Awaitable], tmp_path: Path
) -> None:
    token = await admin_token(gateway_url) if who == "admin" else (await make_account()).access_token
    code, output, report = await run_schemathesis(gateway_url, token, tmp_path)
    assert report, f"schemathesis wrote no report:\n{output}"
    # The document really is the platform's: every service answered, every operation was tested.
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        doc = (await client.get("/openapi.json")).json()
    assert doc["x-unavailable-services"] == [], doc["x-unavailable-services"]
    operations = report["operations"]
    assert operations["tested"] == operations["selected"] > 100, operations
    assert operations["errored"] == 0, output
    cases = report["test_cases"]
    assert cases["generated"] > 1000, cases
    assert code == 0 and cases["with_failures"] == 0 and not report["failures"], output
