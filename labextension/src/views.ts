/**
 * The panel's lists, drawn from what the API answered: pools with their status lights,
 * workers, deployments with their schedules and next runs, runs with their state, progress
 * and logs. An item is redrawn only when what it shows changed (`KeyedList`), so a refresh
 * leaves buttons under the pointer alone.
 */

import {
  formatDuration,
  formatRelative,
  formatShort,
  runDuration,
  stateBadge,
  statusLight
} from './format';
import type { RunProgress } from './format';
import type { Deployment, FlowRun, LogLine, Schedule, Worker, WorkPool } from './models';

export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = '',
  text = ''
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text) {
    node.textContent = text;
  }
  return node;
}

export function button(label: string, className: string, onClick: () => void): HTMLButtonElement {
  const node = element('button', `nborch-button ${className}`, label);
  node.type = 'button';
  node.addEventListener('click', event => {
    event.stopPropagation();
    onClick();
  });
  return node;
}

/**
 * A list whose items are keyed (by id): `update` keeps the node of an item whose signature
 * is unchanged, redraws the others, and puts them in the given order.
 */
export class KeyedList<T> {
  readonly node: HTMLUListElement;
  private readonly items = new Map<string, { node: HTMLElement; signature: string }>();
  private readonly empty: HTMLElement;

  constructor(
    className: string,
    emptyText: string,
    private readonly key: (item: T) => string,
    private readonly signature: (item: T) => string,
    private readonly render: (item: T) => HTMLElement
  ) {
    this.node = element('ul', `nborch-list ${className}`);
    this.empty = element('li', 'nborch-empty nborch-muted', emptyText);
  }

  update(items: readonly T[]): void {
    const seen = new Set<string>();
    const nodes: HTMLElement[] = [];
    for (const item of items) {
      const key = this.key(item);
      const signature = this.signature(item);
      seen.add(key);
      const known = this.items.get(key);
      if (known?.signature === signature) {
        nodes.push(known.node);
        continue;
      }
      const node = this.render(item);
      node.dataset.key = key;
      if (known) {
        known.node.replaceWith(node);
      }
      this.items.set(key, { node, signature });
      nodes.push(node);
    }
    for (const [key, known] of this.items) {
      if (!seen.has(key)) {
        known.node.remove();
        this.items.delete(key);
      }
    }
    if (nodes.length === 0) {
      this.node.replaceChildren(this.empty);
      return;
    }
    if (this.empty.parentNode) {
      this.empty.remove();
    }
    nodes.forEach((node, index) => {
      if (this.node.children[index] !== node) {
        this.node.insertBefore(node, this.node.children[index] ?? null);
      }
    });
  }
}

// ---- work pools ----------------------------------------------------------------------------

export interface PoolActions {
  setPaused(pool: WorkPool, paused: boolean): void;
}

export function poolSummary(pool: WorkPool): string {
  const limit = pool.concurrency_limit === null ? '∞' : String(pool.concurrency_limit);
  const workers = `${pool.workers_online} worker${pool.workers_online === 1 ? '' : 's'} online`;
  return `${pool.type} · ${workers} · runs ${pool.active_runs}/${limit}`;
}

export function renderPool(pool: WorkPool, actions: PoolActions): HTMLElement {
  const item = element('li', 'nborch-item nborch-pool');
  item.dataset.name = pool.name;
  const head = element('div', 'nborch-row');
  const light = statusLight(pool.status);
  const lamp = element('span', light.className);
  lamp.dataset.status = pool.status;
  lamp.title = light.title;
  const status = element('span', 'nborch-status', light.label);
  status.title = light.title;
  head.append(lamp, element('span', 'nborch-name', pool.name), status);
  head.appendChild(element('span', 'nborch-spacer'));
  head.appendChild(
    pool.paused
      ? button('Resume', 'nborch-resume', () => actions.setPaused(pool, false))
      : button('Pause', 'nborch-pause', () => actions.setPaused(pool, true))
  );
  item.append(head, element('div', 'nborch-row nborch-muted', poolSummary(pool)));
  return item;
}

// ---- workers -------------------------------------------------------------------------------

export function renderWorker(worker: Worker, now: Date): HTMLElement {
  const item = element('li', 'nborch-item nborch-worker');
  item.dataset.status = worker.status;
  const head = element('div', 'nborch-row');
  const lamp = element(
    'span',
    `nborch-light nborch-light-${worker.status === 'ONLINE' ? 'ready' : 'not-ready'}`
  );
  lamp.dataset.status = worker.status;
  const name = element('span', 'nborch-name', worker.name);
  name.title = worker.name;
  head.append(lamp, name);
  const detail =
    `${worker.pool_name ?? 'no pool'} · ${worker.status.toLowerCase()} · ` +
    `heartbeat ${formatRelative(worker.last_heartbeat, now)} · ${worker.active_runs} running`;
  item.append(head, element('div', 'nborch-row nborch-muted', detail));
  return item;
}

// ---- deployments ---------------------------------------------------------------------------

export function describeSchedule(schedule: Schedule, now: Date): string {
  const what = schedule.cron
    ? `cron ${schedule.cron} (${schedule.timezone})`
    : `every ${formatDuration(schedule.interval_seconds)}`;
  if (schedule.error) {
    return `${what} · in error: ${schedule.error}`;
  }
  if (!schedule.active) {
    return `${what} · paused`;
  }
  if (!schedule.next_run_time) {
    return what;
  }
  const next = formatShort(schedule.next_run_time, now);
  return `${what} · next ${next} (${formatRelative(schedule.next_run_time, now)})`;
}

export interface DeploymentActions {
  run(deployment: Deployment): void;
}

export function fullName(deployment: Deployment): string {
  return `${deployment.flow_name}/${deployment.name}`;
}

export function renderDeployment(
  deployment: Deployment,
  actions: DeploymentActions,
  now: Date
): HTMLElement {
  const item = element('li', 'nborch-item nborch-deployment');
  item.dataset.name = fullName(deployment);
  const head = element('div', 'nborch-row');
  head.appendChild(element('span', 'nborch-name', fullName(deployment)));
  if (deployment.paused) {
    head.appendChild(element('span', 'nborch-tag', 'paused'));
  }
  head.appendChild(element('span', 'nborch-spacer'));
  head.appendChild(button('Run…', 'nborch-run-button', () => actions.run(deployment)));
  item.append(
    head,
    element('div', 'nborch-row nborch-muted', `pool ${deployment.pool_name ?? '–'}`)
  );
  const schedules = deployment.schedules.length
    ? deployment.schedules.map(s => describeSchedule(s, now))
    : ['no schedule'];
  for (const line of schedules) {
    item.appendChild(element('div', 'nborch-row nborch-muted nborch-schedule', line));
  }
  return item;
}

// ---- flow runs -----------------------------------------------------------------------------

export interface RunActions {
  toggleLogs(run: FlowRun): void;
  cancel(run: FlowRun): void;
  openOutput(run: FlowRun): void;
}

export interface RunExtras {
  progress?: RunProgress;
  /** Present when the run's logs are shown. */
  logs?: readonly LogLine[];
}

export function renderProgress(progress: RunProgress): HTMLElement {
  const box = element('div', 'nborch-progress-box');
  const bar = element('div', 'nborch-progress');
  bar.setAttribute('role', 'progressbar');
  bar.setAttribute('aria-valuemin', '0');
  bar.setAttribute('aria-valuemax', String(progress.total));
  bar.setAttribute('aria-valuenow', String(progress.done));
  for (const cell of progress.cells) {
    const segment = element('span', 'nborch-cell');
    segment.dataset.status = cell.status;
    segment.title =
      `cell ${cell.index + 1}: ${cell.status}` +
      (cell.seconds === null ? '' : `, ${formatDuration(cell.seconds)}`) +
      (cell.firstLine ? ` · ${cell.firstLine.slice(0, 60)}` : '');
    bar.appendChild(segment);
  }
  box.append(bar, element('div', 'nborch-muted', progress.summary));
  return box;
}

/** Whether a run has logs and an output notebook (or is writing them): once it started. */
export function hasOutput(run: FlowRun): boolean {
  return run.start_time !== null;
}

export function runDetail(run: FlowRun, now: Date): string {
  const parts = [run.deployment_name ?? run.flow_name];
  if (run.start_time) {
    parts.push(`started ${formatShort(run.start_time, now)}`);
    parts.push(formatDuration(runDuration(run.start_time, run.end_time, now)));
  } else {
    parts.push(`due ${formatShort(run.scheduled_time, now)}`);
  }
  if (run.created_by) {
    parts.push(`by ${run.created_by}`);
  }
  return parts.join(' · ');
}

export function renderRun(
  run: FlowRun,
  extras: RunExtras,
  actions: RunActions,
  now: Date
): HTMLElement {
  const badge = stateBadge(run.state);
  const item = element('li', 'nborch-item nborch-run');
  item.dataset.state = run.state;
  item.dataset.id = run.id;
  const head = element('div', 'nborch-row');
  const state = element('span', badge.className, badge.label);
  state.dataset.state = run.state;
  head.append(state, element('span', 'nborch-name', run.name));
  item.append(head, element('div', 'nborch-row nborch-muted', runDetail(run, now)));
  const parameters = Object.entries(run.parameters)
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
    .join(', ');
  if (parameters) {
    item.appendChild(element('div', 'nborch-row nborch-muted nborch-parameters', parameters));
  }
  if (run.state_message && !badge.final) {
    item.appendChild(element('div', 'nborch-row nborch-muted', run.state_message));
  }
  if (run.failure) {
    item.appendChild(
      element(
        'div',
        'nborch-row nborch-error',
        `cell ${run.failure.cell_index + 1}: ${run.failure.ename}: ${run.failure.evalue}`
      )
    );
  }
  if (extras.progress && extras.progress.total > 0) {
    item.appendChild(renderProgress(extras.progress));
  }
  const tools = element('div', 'nborch-row nborch-tools');
  if (hasOutput(run)) {
    tools.appendChild(
      button(extras.logs ? 'Hide logs' : 'Logs', 'nborch-logs-button', () =>
        actions.toggleLogs(run)
      )
    );
    tools.appendChild(button('Output', 'nborch-output', () => actions.openOutput(run)));
  }
  if (badge.cancellable) {
    tools.appendChild(button('Cancel', 'nborch-cancel', () => actions.cancel(run)));
  }
  item.appendChild(tools);
  if (extras.logs) {
    // The newest lines show first: the box starts scrolled to its end (column-reverse).
    const text = extras.logs.map(line => line.message).join('\n');
    const logs = element('pre', 'nborch-logs');
    logs.appendChild(element('div', '', text || '(no logs yet)'));
    item.appendChild(logs);
  }
  return item;
}

/** What a run's item shows, as one string: the item is redrawn when it changes. */
export function runSignature(run: FlowRun, extras: RunExtras, now: Date): string {
  return JSON.stringify([
    run.state,
    run.state_message,
    run.output_path,
    runDetail(run, now),
    run.failure,
    extras.progress?.summary,
    extras.progress?.cells.map(c => c.status),
    extras.logs?.length,
    extras.logs?.[extras.logs.length - 1]?.seq
  ]);
}
