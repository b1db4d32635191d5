"""Calls for projects: the call, its proposals, resident votes, results and winners."""
