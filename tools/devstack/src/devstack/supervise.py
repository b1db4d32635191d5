"""The local stack under supervisord: restarts, stop order, replicas, logs.

Why supervisord (not honcho, which stops everything when one process dies and signals all its
children at once): it restarts a crashed process (`autorestart`), starts and stops groups in
priority order and waits for each group to be down before the next, gives each process time to
finish (`stopwaitsecs`) before a SIGKILL, runs N copies of a program (`numprocs`), and keeps
every process's output in its own file.

* Two groups: `datastores` (nx-27017 per service, localstripe, the SMTP sink; priority 10) and
  `services` (priority 20): on stop, every service gets SIGTERM together and the datastores are
  stopped only once every service has exited.
* Each program is started through `python -m devstack.supervise launch <spec.json>`, which execs
  the real command with its environment: supervisord's own `environment=` syntax cannot carry
  values such as the gateway's JSON list of CORS origins.
* supervisord runs in its own session, so a Ctrl-C reaches only `make up`'s runner, which asks
  supervisord to stop (SIGTERM) and reports how each process ended.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from .stack import Process, Stack

DATASTORES_PRIORITY = 10
SERVICES_PRIORITY = 20


def instance_names(proc: Process) -> list[str]:
    """The names supervisord gives the processes of one program (replicas get `-<n>`)."""
    if proc.replicas == 1:
        return [proc.name]
    return [f"{proc.name}-{i}" for i in range(1, proc.replicas + 1)]


def config(stack: Stack) -> str:
    var, run = stack.var, stack.var / "run"
    (run / "procs").mkdir(parents=True, exist_ok=True)
    lines = [
        "[supervisord]",
        "nodaemon=true",
        "silent=true",  # the runner prints what matters; the full log is in var/log/supervisord.log
        f"logfile={var / 'log' / 'supervisord.log'}",
        "logfile_maxbytes=5MB",
        "logfile_backups=2",
        f"pidfile={run / 'supervisord.pid'}",
        f"childlogdir={var / 'log'}",
        f"directory={stack.root}",
        "",
        "[unix_http_server]",
        f"file={run / 'supervisor.sock'}",
        "chmod=0700",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{run / 'supervisor.sock'}",
        "",
    ]
    groups: dict[str, list[str]] = {"datastores": [], "services": []}
    for proc in stack.processes():
        spec = run / "procs" / f"{proc.name}.json"
        spec.write_text(json.dumps({"argv": proc.argv, "env": proc.env}))
        group = "services" if proc.is_service else "datastores"
        groups[group].append(proc.name)
        lines += [
            f"[program:{proc.name}]",
            f"command={sys.executable} -m devstack.supervise launch {spec}",
            f"directory={stack.root}",
            f"numprocs={proc.replicas}",
            "process_name=%(program_name)s" + ("-%(process_num)d" if proc.replicas > 1 else ""),
            "numprocs_start=1",
            "autostart=true",
            "autorestart=true",
            "startsecs=2",
            "startretries=5",
            "stopsignal=TERM",
            # In-flight requests, the lifespan shutdown (relay, consumers) and, for nx-27017,
            # its last writes.
            f"stopwaitsecs={20 if proc.is_service else 10}",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={var / 'log' / (proc.name + ('-%(process_num)d' if proc.replicas > 1 else ''))}.log",
            "stdout_logfile_maxbytes=20MB",
            "stdout_logfile_backups=2",
            "",
        ]
    for group, priority in (("datastores", DATASTORES_PRIORITY), ("services", SERVICES_PRIORITY)):
        lines += [f"[group:{group}]", f"programs={','.join(groups[group])}", f"priority={priority}", ""]
    return "\n".join(lines)


def launch(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    argv: list[str] = spec["argv"]
    os.execvpe(argv[0], argv, {**os.environ, **spec["env"]})  # noqa: S606 - the exec keeps the pid supervisord signals


# -- reading supervisord's log ------------------------------------------------------------------

# e.g. "2026-12-01 12:00:00,123 WARN exited: services:payments (terminated by SIGKILL; not expected)"
_LINE = re.compile(
    r"^\S+ \S+ (?P<level>[A-Z]+) (?P<what>[a-z ]+): '?(?:[a-z]+:)?(?P<name>[A-Za-z0-9_.-]+)'?(?P<rest>.*)$"
)


@dataclass
class Happening:
    kind: str  # spawned, exited, stopped, success, gave up, ...
    name: str
    detail: str

    @property
    def unexpected_exit(self) -> bool:
        return self.kind == "exited" and "not expected" in self.detail

    @property
    def exit_detail(self) -> str:
        """`exit status 0`, `terminated by SIGKILL`... from `(exit status 0; expected)`."""
        inner = self.detail.strip().strip("()")
        return inner.split(";")[0].strip()


def parse(line: str) -> Happening | None:
    match = _LINE.match(line.strip())
    if match is None:
        return None
    return Happening(match["what"], match["name"], match["rest"].strip())


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "launch":
        launch(sys.argv[2])
    else:
        raise SystemExit("usage: python -m devstack.supervise launch <spec.json>")
