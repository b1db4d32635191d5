"""`make up`'s runner (devstack.up) driven as a user drives it: started as a process, read from
its terminal output, stopped with the signal Ctrl-C sends. Shared by the runner tests; the code
lives in devstack.chaos_stack, which bench/chaos.py uses too."""

from __future__ import annotations

from devstack.chaos_stack import Up, free_block, move_deadline_to_the_past, up

__all__ = ["Up", "free_block", "move_deadline_to_the_past", "up"]
