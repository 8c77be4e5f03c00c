"""Agents' feedback on reviews: stored by the service (``store``), exported for evals and training (``export``)."""
