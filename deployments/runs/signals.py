"""What the runs package tells the packages that build on it, without importing them."""

from django.dispatch import Signal

# A run reached a terminal or waiting status; sent inside the transaction that moved it.
# Arguments: run (its status is the new one), deployment (locked).
run_finished = Signal()

# The engine wrote a new state version; sent inside the state backend's transaction.
# Arguments: deployment, state (the parsed JSON), state_version.
state_written = Signal()
