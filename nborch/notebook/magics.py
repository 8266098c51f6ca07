"""IPython magics: declare flows from cells, deploy and serve them, run workers in the
background of the kernel, and reach the rest of the `nborch` CLI without leaving it.

Magics that mirror a CLI command run that very command (same options, same output, same
errors), so `%deploy?` and `nborch deploy --help` say the same thing.
"""

from __future__ import annotations

import functools
import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from nborch.cli.main import CONTEXT, cli
from nborch.client import get_client
from nborch.display import console, error_console
from nborch.errors import NborchError, NotFoundError
from nborch.flows import Flow
from nborch.notebook.cell_flow import split_parameters, write_flow_notebook
from nborch.parameters import parse_cli_parameters
from nborch.serving import serve
from nborch.timeutil import parse_duration
from nborch.workers import worker_class_for
from nborch.workers.background import BackgroundWorker
from nborch.workers.inline import run_notebook_here

RUN_ID = "NBORCH_FLOW_RUN_ID"


def _inside_run() -> str | None:
    """The id of the flow run this kernel executes, if a worker started it."""
    return os.environ.get(RUN_ID)


def _say_error(message: str) -> None:
    error_console.print(f"Error: {message}", markup=False, style="red")


def one_line_errors(magic: Callable[..., Any]) -> Callable[..., Any]:
    """Errors become one line in the cell's output, not a traceback."""

    @functools.wraps(magic)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return magic(*args, **kwargs)
        except NborchError as err:
            _say_error(err.message)
        except click.ClickException as err:
            _say_error(err.format_message())
        except SystemExit:
            pass  # the CLI command printed its own error line
        except UsageError as err:  # bad magic arguments (argparse, through IPython)
            _say_error(str(err))
        except (ValueError, OSError) as err:
            _say_error(str(err))
        return None

    return guarded


def parse(magic: Callable[..., Any], line: str) -> Any:
    """The magic's arguments, split as a shell would (IPython's own splitting keeps quotes)."""
    parser = magic.parser  # type: ignore[attr-defined]
    return parser.parse_args(shlex.split(line))


def run_cli(*args: str) -> None:
    """The `nborch` command itself, with its options, output and errors."""
    cli.main(list(args), prog_name="nborch", standalone_mode=False)


def _cli_help(*path: str) -> str:
    command: click.Command = cli
    for part in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), part)
        assert found is not None
        command = found
    # With the command line's own settings: click keeps the help option it first makes for
    # a command, so a context without `-h` here would take `-h` from `nborch deploy -h`.
    context = click.Context(command, info_name=f"nborch {' '.join(path)}", **CONTEXT)
    return command.get_help(context)


@magics_class
class NborchMagics(Magics):
    """nborch's magics; `%load_ext nborch` registers them."""

    shell: Any  # IPython's InteractiveShell, set by Magics

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.flows: dict[str, Flow] = {}
        self.setups: dict[str, str] = {}
        self.workers: dict[str, BackgroundWorker] = {}

    # ---- flows from cells ------------------------------------------------------------------

    @magic_arguments()
    @argument("name", help="The flow's name.")
    @argument(
        "--include",
        action="append",
        default=[],
        metavar="SETUP",
        help="Put the code of the %%%%flow_setup cell SETUP first (repeatable).",
    )
    @argument(
        "--path",
        default=None,
        help="Where to write the flow's notebook (default: ./NAME.flow.ipynb).",
    )
    @argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="Run it this time with this parameter value (repeatable).",
    )
    @argument(
        "--timeout",
        default=None,
        metavar="DURATION",
        help="Stop this run once it has run this long (30m, 2h): it ends FAILED, timed out.",
    )
    @argument("--no-run", action="store_true", help="Declare the flow without running it.")
    @cell_magic
    @one_line_errors
    def flow(self, line: str, cell: str) -> None:
        """Declare a flow from this cell and run it once, as a tracked run.

        The parameters are the plain assignments at the top of the cell, up to the first
        blank line (`region: str = "EU"`, `top = 5`). The cell gets nothing from earlier
        cells unless declared with --include (see %%flow_setup). nborch writes the flow as
        a notebook next to this one (NAME.flow.ipynb), which %deploy and %serve then use.
        Inside a flow run the cell's code simply runs.
        """
        args = parse(self.flow, line)
        if _inside_run():
            self._run_cell_inside_a_run(args.name, cell)
            return
        missing = [name for name in args.include if name not in self.setups]
        if missing:
            raise NborchError(
                f"No %%flow_setup cell named {', '.join(missing)} has run in this kernel. "
                "Run it first, or drop --include."
            )
        path = Path(args.path or f"{args.name}.flow.ipynb").resolve()
        write_flow_notebook(
            path,
            args.name,
            cell,
            [(name, self.setups[name]) for name in args.include],
            origin="a notebook",
        )
        flow = Flow.from_notebook(path, args.name)
        self.flows[flow.name] = flow
        parameters = parse_cli_parameters(flow.parameters, args.param, f"flow '{flow.name}'")
        described = ", ".join(f"{p.name}: {p.type} = {p.default!r}" for p in flow.parameters)
        console.print(
            f"Flow '{flow.name}' ({described or 'no parameters'}) -> {path}", markup=False
        )
        timeout = parse_duration(args.timeout, "--timeout") if args.timeout else None
        if args.no_run:
            return
        run = run_notebook_here(
            get_client(),
            path,
            parameters=parameters,
            flow_name=flow.name,
            cwd=Path.cwd(),
            timeout=timeout,
            tee=lambda text: console.print(text, markup=False),
        )
        message = f": {run.state_message}" if run.state_message else ""
        console.print(f"Flow run '{run.name}' {run.state.value}{message}", markup=False)

    def _run_cell_inside_a_run(self, name: str, cell: str) -> None:
        console.print(
            f"nborch: inside flow run {_inside_run()}: flow '{name}' is not "
            "declared or run again; running the cell's code.",
            markup=False,
        )
        parameters, body = split_parameters(cell)
        namespace = self.shell.user_ns
        # Values papermill injected win over the defaults written in the cell.
        defaults = [
            line
            for line in parameters.splitlines()
            if line.split("=")[0].split(":")[0].strip() not in namespace
        ]
        self.shell.run_cell("\n".join([*defaults, body]))

    @magic_arguments()
    @argument("name", help="The name flows use in --include.")
    @cell_magic
    @one_line_errors
    def flow_setup(self, line: str, cell: str) -> None:
        """Run this cell and keep its code (imports, helpers) under NAME, for flows that
        declare `%%flow ... --include NAME`."""
        args = parse(self.flow_setup, line)
        self.setups[args.name] = cell
        self.shell.run_cell(cell)

    def _flow_path(self, flow: str) -> tuple[str, str | None]:
        """A flow declared in this kernel, or a notebook path."""
        if flow in self.flows:
            return str(self.flows[flow].path), flow
        if flow.endswith(".ipynb"):
            return flow, None
        raise NotFoundError(
            f"No flow '{flow}' in this kernel. Declare it with %%flow {flow}, or name a "
            "notebook file (.ipynb)."
        )

    # ---- deployments, pools, runs: the CLI's commands ---------------------------------------

    @line_magic
    @one_line_errors
    def deploy(self, line: str) -> None:
        args = shlex.split(line)
        if not args:
            raise NborchError("Name the flow to deploy: %deploy FLOW --name D --pool P")
        if _inside_run():
            console.print(f"nborch: inside flow run {_inside_run()}: not deploying again.")
            return
        path, flow_name = self._flow_path(args[0])
        run_cli("deploy", path, *(["--flow", flow_name] if flow_name else []), *args[1:])

    @line_magic
    @one_line_errors
    def work_pool(self, line: str) -> None:
        run_cli("work-pool", *shlex.split(line))

    @line_magic
    @one_line_errors
    def work_queue(self, line: str) -> None:
        run_cli("work-queue", *shlex.split(line))

    @line_magic
    @one_line_errors
    def deployment(self, line: str) -> None:
        run_cli("deployment", *shlex.split(line))

    @line_magic
    @one_line_errors
    def run_deployment(self, line: str) -> None:
        args = ["--watch" if a == "--wait" else a for a in shlex.split(line)]
        run_cli("deployment", "run", *args)

    @line_magic
    @one_line_errors
    def flow_runs(self, line: str) -> None:
        run_cli("flow-run", "ls", *shlex.split(line))

    @line_magic
    @one_line_errors
    def flow_run(self, line: str) -> None:
        run_cli("flow-run", *shlex.split(line))

    @line_magic
    @one_line_errors
    def alert(self, line: str) -> None:
        run_cli("alert", *shlex.split(line))

    # ---- workers and serving in the background of the kernel -------------------------------

    @magic_arguments()
    @argument("action", choices=["start", "stop", "ls"])
    @argument("--pool", default=None, help="The work pool to serve (start).")
    @argument("--name", default=None, help="Worker name (start), or the one to stop.")
    @argument("--limit", type=int, default=None, help="Most runs at once (start).")
    @argument("--poll-interval", type=float, default=None, help="Seconds between polls.")
    @argument("--force", action="store_true", help="stop: also stop the runs in hand.")
    @line_magic
    @one_line_errors
    def worker(self, line: str) -> None:
        """Start a worker in the background of this kernel, list or stop them.

        %worker start --pool P [--limit K]   |   %worker ls   |   %worker stop [--name N]
        """
        args = parse(self.worker, line)
        if args.action == "start":
            if not args.pool:
                raise NborchError("Name the pool: %worker start --pool P")
            client = get_client()
            pool = client.get_pool(args.pool)
            worker = worker_class_for(pool.type)(
                client,
                pool.name,
                name=args.name,
                limit=args.limit,
                poll_interval=args.poll_interval,
                echo=lambda t: console.print(t, markup=False),
            )
            self.workers[worker.name] = BackgroundWorker(worker).start()
        elif args.action == "ls":
            for name, background in self.workers.items():
                state = "running" if background.running else "stopped"
                console.print(
                    f"{name}  pool={background.worker.pool_name}  {state}  "
                    f"runs in hand={background.worker.active_runs}",
                    markup=False,
                )
        else:
            self._stop(self.workers, args.name, args.force, "worker", "%worker ls")

    def _stop(
        self,
        running: dict[str, BackgroundWorker],
        name: str | None,
        force: bool,
        kind: str,
        listing: str,
    ) -> None:
        chosen = [name] if name else [n for n, w in running.items() if w.running]
        for key in chosen:
            if key not in running:
                raise NotFoundError(f"No {kind} '{key}' in this kernel. See {listing}")
            running[key].stop(force=force)
            console.print(f"Stopped {kind} '{key}'.", markup=False)

    @magic_arguments()
    @argument("flow", nargs="?", help="A flow declared with %%%%flow, or a notebook path.")
    @argument("--name", help="Deployment name.")
    @argument("--cron", action="append", default=[], help="A cron schedule (repeatable).")
    @argument(
        "--interval",
        action="append",
        type=float,
        default=[],
        help="An interval schedule in seconds (repeatable).",
    )
    @argument("--timezone", default="UTC", help="Time zone of the cron schedules.")
    @argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE")
    @argument("--tag", action="append", default=[])
    @argument("--description", default="")
    @argument("--version", default=None)
    @argument("--limit", type=int, default=None, help="Most runs at once.")
    @argument(
        "--stop",
        metavar="DEPLOYMENT",
        default=None,
        help="Stop serving this deployment ('flow/name').",
    )
    @argument("--list", action="store_true", help="List what this kernel serves.")
    @line_magic
    @one_line_errors
    def serve(self, line: str) -> None:
        """Serve a flow from the background of this kernel: deploy it, follow its schedules,
        run its runs; `%serve --stop flow/name` stops it, `%serve --list` lists them."""
        args = parse(self.serve, line)
        if args.list:
            self.worker("ls")
            return
        if args.stop:
            key = f"serve {args.stop}"
            self._stop(self.workers, key, False, "served deployment", "%serve --list")
            return
        if not args.flow or not args.name:
            raise NborchError("Serve what, as what? %serve FLOW --name D [--cron ...]")
        if _inside_run():
            console.print(f"nborch: inside flow run {_inside_run()}: not serving again.")
            return
        path, flow_name = self._flow_path(args.flow)
        flow = Flow.from_notebook(path, flow_name)
        parameters = parse_cli_parameters(flow.parameters, args.param, f"flow '{flow.name}'")
        _deployment, background = serve(
            flow,
            args.name,
            background=True,
            limit=args.limit,
            echo=lambda text: console.print(text, markup=False),
            cron=args.cron or None,
            interval=args.interval or None,
            timezone=args.timezone,
            parameters=parameters,
            tags=args.tag,
            description=args.description,
            version=args.version,
        )
        if background is not None:
            self.workers[background.worker.name] = background

    @magic_arguments()
    @argument(
        "--refresh",
        type=float,
        default=None,
        metavar="SECONDS",
        help="Seconds between refreshes (default 3; 0: refresh only by hand).",
    )
    @line_magic
    @one_line_errors
    def nborch_dashboard(self, line: str) -> Any:
        """Show the dashboard: work pools, workers, deployments and flow runs, live.

        %nborch_dashboard [--refresh SECONDS]   (the same as nborch.dashboard() in Python)
        """
        from nborch.notebook.dashboard import DEFAULT_REFRESH_INTERVAL, dashboard

        args = parse(self.nborch_dashboard, line)
        interval = DEFAULT_REFRESH_INTERVAL if args.refresh is None else args.refresh
        if interval < 0:
            raise NborchError(f"--refresh must be 0 or more seconds, got {interval:g}.")
        return dashboard(refresh_interval=interval or None)


def _document_cli_magics() -> None:
    """`%deploy?` shows the CLI command's own help."""
    for magic, path in (
        (NborchMagics.deploy, ("deploy",)),
        (NborchMagics.work_pool, ("work-pool",)),
        (NborchMagics.work_queue, ("work-queue",)),
        (NborchMagics.deployment, ("deployment",)),
        (NborchMagics.run_deployment, ("deployment", "run")),
        (NborchMagics.flow_runs, ("flow-run", "ls")),
        (NborchMagics.flow_run, ("flow-run",)),
        (NborchMagics.alert, ("alert",)),
    ):
        usage = f"%{magic.__name__} ... runs `nborch {' '.join(path)} ...`"
        if magic is NborchMagics.deploy:
            usage = "%deploy FLOW ... (a %%flow of this kernel, or a notebook path)"
        elif magic is NborchMagics.run_deployment:
            usage += " (--wait is --watch)"
        magic.__doc__ = f"{usage}\n\n{_cli_help(*path)}"


_document_cli_magics()
