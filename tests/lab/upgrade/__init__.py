"""The upgrade lab's protocols: one module per protocol (server setup,
clients, middlebox tampering, what a capture shows); common.py holds the
truth rules shared by all of them. See tests/lab/upgrade_lab.py."""
