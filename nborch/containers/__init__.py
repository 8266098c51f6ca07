"""Docker for nborch: reaching the engine, images (the runtime image, a deployment's image),
what a run's container looks like, and reading its result. Used by the docker pool's worker
and by `nborch image` / `deploy --image`; importing this package imports no Docker client."""
