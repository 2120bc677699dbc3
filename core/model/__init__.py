"""What a token is: its record, permissions, name, expiry and text format, and the
typed errors - no I/O, no policy."""
