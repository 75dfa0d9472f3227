"""The arena: where agents meet, play games and are rated."""
