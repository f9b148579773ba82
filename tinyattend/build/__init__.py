"""Build stage: project files and compiler invocations (host and firmware)."""
