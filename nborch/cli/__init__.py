"""The `nborch` command: parses, calls one library function, prints."""
