"""Signals by which the console tells other apps what happened, without
importing them (dependencies point from delivery to console, never back)."""

from django.dispatch import Signal

# Sent with ``workspace=`` once a workspace's token works again (reconnected by
# OAuth or given a new access token): deliveries paused for it may resume.
workspace_connected = Signal()
