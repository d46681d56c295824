"""smart-dowel host software: serial link, signal pipeline, clinic TUI and session store."""

__version__ = "0.1.0"
