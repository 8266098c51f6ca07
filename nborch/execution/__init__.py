"""Running notebooks with papermill: reading them, their parameters, and their outcome."""
