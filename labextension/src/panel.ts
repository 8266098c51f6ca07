/**
 * The "Orchestration" panel of the left sidebar: pools, workers, deployments and runs,
 * kept up to date while it shows (every `interval` ms; nothing is asked while hidden).
 * Running runs show a bar with a segment per cell; a run's logs show when asked for.
 */

import { Widget } from '@lumino/widgets';

import type { NborchApi } from './api';
import { progressOf } from './format';
import type { RunProgress } from './format';
import type { Deployment, FlowRun, LogLine, Worker, WorkPool } from './models';
import {
  KeyedList,
  button,
  element,
  fullName,
  poolSummary,
  renderDeployment,
  renderPool,
  renderRun,
  renderWorker,
  runSignature,
  describeSchedule
} from './views';

/** What the panel asks its host to do (dialogs and tabs live in JupyterLab's shell). */
export interface PanelHost {
  newPool(): Promise<boolean>;
  runDeployment(deployment: Deployment): Promise<FlowRun | null>;
  openOutput(run: FlowRun): void;
  confirmCancel(run: FlowRun): Promise<boolean>;
  showError(title: string, err: unknown): void;
}

const RUNS_SHOWN = 25;
const LOG_LINES_SHOWN = 200;
const PROGRESS_FOR = 5; // runs whose output notebook is read on each refresh

export class OrchestrationPanel extends Widget {
  private readonly pools: KeyedList<WorkPool>;
  private readonly workers: KeyedList<Worker>;
  private readonly deployments: KeyedList<Deployment>;
  private readonly runs: KeyedList<FlowRun>;
  private readonly status: HTMLElement;
  private readonly counts = new Map<string, HTMLElement>();
  private readonly progress = new Map<string, RunProgress>();
  private readonly progressFinal = new Set<string>(); // runs whose bar is read for the last time
  private readonly logs = new Map<string, LogLine[]>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private pending: Promise<void> | null = null;
  private again = false;
  private now = new Date();

  constructor(
    private readonly api: NborchApi,
    private readonly host: PanelHost,
    private readonly interval = 2000
  ) {
    super();
    this.id = 'nborch-orchestration';
    this.addClass('nborch-panel');
    this.title.caption = 'Orchestration: work pools, workers, deployments and runs';

    const header = element('div', 'nborch-panel-header');
    header.appendChild(element('h2', '', 'Orchestration'));
    header.appendChild(element('span', 'nborch-spacer'));
    header.appendChild(button('Refresh', 'nborch-refresh', () => void this.refresh()));
    this.status = element('div', 'nborch-panel-status nborch-muted');
    this.node.append(header, this.status);

    this.pools = new KeyedList(
      'nborch-pools',
      'No work pool yet: create one with "New pool…".',
      pool => pool.name,
      pool => JSON.stringify([pool.status, pool.paused, poolSummary(pool)]),
      pool => renderPool(pool, { setPaused: (p, paused) => void this.setPaused(p, paused) })
    );
    this.workers = new KeyedList(
      'nborch-workers',
      'No worker. Start one in a terminal: nborch worker start --pool NAME',
      worker => worker.id,
      worker => JSON.stringify(worker) + this.now.toISOString().slice(0, 19),
      worker => renderWorker(worker, this.now)
    );
    this.deployments = new KeyedList(
      'nborch-deployments',
      'No deployment yet: open a notebook and use "Deploy this notebook…".',
      deployment => deployment.id,
      deployment =>
        JSON.stringify([
          fullName(deployment),
          deployment.paused,
          deployment.pool_name,
          deployment.schedules.map(s => describeSchedule(s, this.now))
        ]),
      deployment => renderDeployment(deployment, { run: d => void this.run(d) }, this.now)
    );
    this.runs = new KeyedList(
      'nborch-runs',
      'No run yet: "Run…" a deployment.',
      run => run.id,
      run => runSignature(run, this.extras(run), this.now),
      run =>
        renderRun(
          run,
          this.extras(run),
          {
            toggleLogs: r => void this.toggleLogs(r),
            cancel: r => void this.cancel(r),
            openOutput: r => this.host.openOutput(r)
          },
          this.now
        )
    );
    this.section('Work pools', this.pools.node, 'nborch-pools-section', [
      button('New pool…', 'nborch-new-pool', () => void this.newPool())
    ]);
    this.section('Workers', this.workers.node, 'nborch-workers-section');
    this.section('Deployments', this.deployments.node, 'nborch-deployments-section');
    this.section('Flow runs', this.runs.node, 'nborch-runs-section');
  }

  private section(title: string, list: HTMLElement, className: string, tools: HTMLElement[] = []): void {
    const section = element('section', `nborch-section ${className}`);
    const head = element('div', 'nborch-section-header');
    const count = element('span', 'nborch-count nborch-muted');
    this.counts.set(className, count);
    head.append(element('h3', '', title), count, element('span', 'nborch-spacer'), ...tools);
    section.append(head, list);
    this.node.appendChild(section);
  }

  private extras(run: FlowRun): { progress?: RunProgress; logs?: LogLine[] } {
    return { progress: this.progress.get(run.id), logs: this.logs.get(run.id) };
  }

  /** Ask everything again and redraw what changed; one refresh at a time. */
  refresh(): Promise<void> {
    if (this.pending) {
      this.again = true;
      return this.pending;
    }
    this.pending = this.load()
      .catch((err: unknown) => {
        this.status.classList.add('nborch-error');
        this.status.textContent = err instanceof Error ? err.message : String(err);
      })
      .finally(() => {
        this.pending = null;
        if (this.again) {
          this.again = false;
          void this.refresh();
        }
      });
    return this.pending;
  }

  private async load(): Promise<void> {
    const [pools, workers, deployments, runs] = await Promise.all([
      this.api.listPools(),
      this.api.listWorkers(),
      this.api.listDeployments(),
      this.api.listRuns({ limit: RUNS_SHOWN })
    ]);
    await Promise.all([this.loadProgress(runs), this.loadLogs(runs)]);
    this.now = new Date();
    this.pools.update(pools);
    this.workers.update(workers);
    this.deployments.update(deployments);
    this.runs.update(runs);
    this.setCount('nborch-pools-section', pools.length);
    this.setCount('nborch-workers-section', workers.filter(w => w.status === 'ONLINE').length);
    this.setCount('nborch-deployments-section', deployments.length);
    this.setCount('nborch-runs-section', runs.length);
    this.status.classList.remove('nborch-error');
    this.status.textContent = `Updated ${this.now.toLocaleTimeString()}`;
  }

  private setCount(section: string, count: number): void {
    const node = this.counts.get(section);
    if (node) {
      node.textContent = `(${count})`;
    }
  }

  /** Runs that are going get their bar from the output notebook on every refresh; a run
   * that ended, once more after it ended (then its bar stays as it is). */
  private async loadProgress(runs: FlowRun[]): Promise<void> {
    const going = runs
      .filter(run => run.start_time !== null && !this.progressFinal.has(run.id))
      .slice(0, PROGRESS_FOR);
    await Promise.all(
      going.map(async run => {
        try {
          const notebook = await this.api.outputNotebook(run.id);
          if (notebook) {
            this.progress.set(run.id, progressOf(notebook, new Date()));
          }
          if (run.end_time !== null) {
            this.progressFinal.add(run.id);
          }
        } catch {
          // No output yet (or not readable): the run shows without a bar.
        }
      })
    );
    const shown = new Set(runs.map(run => run.id));
    for (const id of this.progress.keys()) {
      if (!shown.has(id)) {
        this.progress.delete(id);
        this.progressFinal.delete(id);
      }
    }
  }

  private async loadLogs(runs: FlowRun[]): Promise<void> {
    const shown = new Set(runs.map(run => run.id));
    await Promise.all(
      [...this.logs.keys()].map(async id => {
        if (!shown.has(id)) {
          this.logs.delete(id);
          return;
        }
        try {
          const lines = await this.api.readLogs(id);
          this.logs.set(id, lines.slice(-LOG_LINES_SHOWN));
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          this.logs.set(id, [{ seq: -1, timestamp: '', message: `Cannot read the logs: ${message}` }]);
        }
      })
    );
  }

  private async toggleLogs(run: FlowRun): Promise<void> {
    if (this.logs.has(run.id)) {
      this.logs.delete(run.id);
    } else {
      this.logs.set(run.id, []);
    }
    await this.refresh();
  }

  private async setPaused(pool: WorkPool, paused: boolean): Promise<void> {
    try {
      await this.api.setPoolPaused(pool.name, paused);
    } catch (err) {
      this.host.showError(`Cannot ${paused ? 'pause' : 'resume'} work pool '${pool.name}'`, err);
    }
    await this.refresh();
  }

  private async cancel(run: FlowRun): Promise<void> {
    if (!(await this.host.confirmCancel(run))) {
      return;
    }
    try {
      await this.api.cancelRun(run.id);
    } catch (err) {
      this.host.showError(`Cannot cancel flow run '${run.name}'`, err);
    }
    await this.refresh();
  }

  private async run(deployment: Deployment): Promise<void> {
    const created = await this.host.runDeployment(deployment);
    if (created) {
      await this.refresh();
    }
  }

  private async newPool(): Promise<void> {
    if (await this.host.newPool()) {
      await this.refresh();
    }
  }

  // ---- refreshing while shown ---------------------------------------------------------------

  private schedule(): void {
    this.stop();
    this.timer = setTimeout(() => {
      void this.refresh().then(() => {
        if (this.isVisible) {
          this.schedule();
        }
      });
    }, this.interval);
  }

  private stop(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  protected override onAfterShow(): void {
    void this.refresh();
    this.schedule();
  }

  protected override onAfterHide(): void {
    this.stop();
  }

  override dispose(): void {
    this.stop();
    super.dispose();
  }
}
