"""The published build logs: how long they are kept."""
