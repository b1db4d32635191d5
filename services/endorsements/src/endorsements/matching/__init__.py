"""Match funding: city pools, commitments on granted labels, and their settlement from money events."""
