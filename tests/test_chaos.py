"""The chaos run (bench/chaos.py), bounded: a fixed seed, four campaigns (keep-it-all and
all-or-nothing, instant and on-goal-reached matches, three reaching their goal and one not),
24 pledges, a call's award to one of them, the deadlines moved before campaigns has counted
the last pledges (--deadline-race), and one of each fault: a replica SIGKILLed, a service's broker connection cut,
Stripe's webhooks delivered again twice, late and shuffled, localstripe slowed down. It fails on
any breach the run's own checks find (totals vs ledger vs Stripe, matches vs their rule, one
charge per pledge, one email and one city webhook per recipient and event, no outbox row
pending, nothing parked without a reason), and on a run that did not do what it says (every
pledge made, every fault injected), so it cannot pass by doing nothing."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path
from types import ModuleType

import pytest

from servicekit.testing.plugin import TestEnv

pytestmark = pytest.mark.timeout(900)

ROOT = Path(__file__).resolve().parents[1]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chaos_bench", ROOT / "bench" / "chaos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


async def test_money_holds_through_kills_cuts_redelivered_webhooks_and_a_slow_stripe(
    env: TestEnv, tmp_path: Path
) -> None:
    chaos = _bench()
    options = chaos.parse_args(
        ["--seed", "1", "--campaigns", "4", "--pledges", "24", "--faults", "kill,cut,webhooks,slow",
         "--fault-gap-s", "3", "--deadline-race", "--var", str(tmp_path / "var"), "--amqp-url", env.amqp_url,
         "--namespace", f"{env.namespace}chaos{uuid.uuid4().hex[:4]}."]
    )  # fmt: skip
    report = await chaos.run_chaos(options)
    print(report.text())
    assert report.pledges_planned == 24 and report.pledges_made == 24, report.text()
    injected = [f.split(" ", 1)[0].rstrip(":") for f in report.faults]
    assert sorted(set(injected)) == ["cut", "kill", "slow", "webhooks"], report.faults
    assert any("while the campaigns close" in f for f in report.faults), report.faults
    # Every Stripe event came again twice: at least the second copy of each is a duplicate.
    assert report.webhook_redeliveries > 0 and 2 * report.webhook_duplicates >= report.webhook_redeliveries
    assert report.figures["city webhooks"] > 0 and report.figures["emails"] > 0, report.figures
    assert any(n.startswith("award: ") for n in report.notes), report.notes
    assert not report.breaches, report.text()
