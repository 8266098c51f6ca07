"""All of nborch's Docker: reaching the Docker engine (docker_engine.py), images (the
runtime image, a deployment's image), what a run's container looks like and reading its
result, the workers on a Docker engine (docker_engine_worker.py: what they share;
docker_worker.py: the `docker` pool, a container per run, with reconcile.py for what dead
workers left; swarm_worker.py: the `docker-swarm` pool, a service per run) and standby
containers (standby_containers.py: a worker's set of them; standby_handover.py: one
container's recipe, folders and hand-over; standby_waiter.py: its main program, with
nborch's papermill engine). Used by those pools' workers (through
nborch.workers.registry) and by `nborch image` / `deploy --image`; importing this
package imports no Docker client."""
