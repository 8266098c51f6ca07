/**
 * How the panel shows things: run states as badges, pool statuses as lights, a run's
 * progress cell by cell (from papermill's marks in the output notebook), times and
 * durations. Pure functions of their inputs, so they are cheap on every refresh.
 */

import { FINAL_STATES } from './models';
import type { NotebookJson, PoolStatus, RunState } from './models';

export interface Badge {
  label: string;
  /** `nborch-state nborch-state-completed`: the colour comes from the style sheet. */
  className: string;
  /** The run will not change any more. */
  final: boolean;
  /** A run in this state may be cancelled. */
  cancellable: boolean;
}

const CANCELLABLE: ReadonlySet<RunState> = new Set<RunState>([
  'SCHEDULED',
  'LATE',
  'PENDING',
  'RUNNING'
]);

export function stateBadge(state: RunState): Badge {
  return {
    label: state,
    className: `nborch-state nborch-state-${state.toLowerCase()}`,
    final: FINAL_STATES.has(state),
    cancellable: CANCELLABLE.has(state)
  };
}

export interface Light {
  label: string;
  className: string;
  title: string;
}

const STATUS_TITLES: Record<PoolStatus, string> = {
  READY: 'READY: a worker of this pool sent a heartbeat lately',
  NOT_READY: 'NOT_READY: no worker online; start one with nborch worker start --pool NAME',
  PAUSED: 'PAUSED: no new runs start; resume the pool to go on'
};

export function statusLight(status: PoolStatus): Light {
  return {
    label: status,
    className: `nborch-light nborch-light-${status.toLowerCase().replace('_', '-')}`,
    title: STATUS_TITLES[status]
  };
}

// ---- progress ------------------------------------------------------------------------------

export type CellStatus = 'pending' | 'running' | 'completed' | 'failed';

export interface CellProgress {
  index: number;
  status: CellStatus;
  firstLine: string;
  /** Seconds the cell took (papermill's duration), or has been running for. */
  seconds: number | null;
}

export interface RunProgress {
  cells: CellProgress[];
  total: number;
  done: number;
  /** 0 to 1. */
  fraction: number;
  running: CellProgress | null;
  failed: CellProgress | null;
  /** `3/5 cells · cell 4 running for 2.1 s`. */
  summary: string;
}

function cellStatus(value: unknown): CellStatus {
  return value === 'running' || value === 'completed' || value === 'failed' ? value : 'pending';
}

function firstLine(source: string | string[] | undefined): string {
  const text = Array.isArray(source) ? source.join('') : (source ?? '');
  return text.split('\n').find(line => line.trim() !== '') ?? '';
}

/** Every cell's status and time, read from papermill's marks; unmarked cells are pending. */
export function progressOf(notebook: NotebookJson, now: Date = new Date()): RunProgress {
  const cells = (notebook.cells ?? []).map((cell, index): CellProgress => {
    const marks = cell.metadata?.papermill ?? {};
    let seconds: number | null = typeof marks.duration === 'number' ? marks.duration : null;
    if (seconds === null && marks.start_time) {
      const start = Date.parse(marks.start_time);
      const end = marks.end_time ? Date.parse(marks.end_time) : now.getTime();
      seconds = Number.isNaN(start) ? null : Math.max(0, (end - start) / 1000);
    }
    return { index, status: cellStatus(marks.status), firstLine: firstLine(cell.source), seconds };
  });
  const done = cells.filter(c => c.status === 'completed' || c.status === 'failed').length;
  const running = cells.find(c => c.status === 'running') ?? null;
  const failed = cells.find(c => c.status === 'failed') ?? null;
  let summary = `${done}/${cells.length} cells`;
  if (failed) {
    summary += ` · cell ${failed.index + 1} failed`;
  } else if (running) {
    summary += ` · cell ${running.index + 1} running for ${formatDuration(running.seconds)}`;
  }
  return {
    cells,
    total: cells.length,
    done,
    fraction: cells.length ? done / cells.length : 0,
    running,
    failed,
    summary
  };
}

// ---- times ---------------------------------------------------------------------------------

/** `0.4 s`, `12 s`, `3 min 05 s`, `2 h 01 min`; `–` for none. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) {
    return '–';
  }
  if (seconds < 10) {
    return `${seconds.toFixed(1)} s`;
  }
  if (seconds < 60) {
    return `${Math.round(seconds)} s`;
  }
  const whole = Math.round(seconds);
  if (whole < 3600) {
    return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
  }
  const minutes = Math.floor(whole / 60);
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

function roughly(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['min', 60]
  ] as const) {
    if (seconds >= size) {
      return `${Math.floor(seconds / size)} ${unit}`;
    }
  }
  return `${Math.floor(seconds)} s`;
}

/** `3 s ago`, `5 min ago`; `in 2 h` for a time to come; `never` for none. */
export function formatRelative(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) {
    return 'never';
  }
  const moment = Date.parse(iso);
  if (Number.isNaN(moment)) {
    return iso;
  }
  const seconds = (now.getTime() - moment) / 1000;
  return seconds >= 0 ? `${roughly(seconds)} ago` : `in ${roughly(-seconds)}`;
}

/** A run's duration: from its start to its end, or to now while it runs. */
export function runDuration(
  start: string | null,
  end: string | null,
  now: Date = new Date()
): number | null {
  if (!start) {
    return null;
  }
  const from = Date.parse(start);
  const to = end ? Date.parse(end) : now.getTime();
  return Number.isNaN(from) || Number.isNaN(to) ? null : Math.max(0, (to - from) / 1000);
}

/** `Mon 2 Dec, 01:00` in the given time zone (the browser's by default). */
export function formatDateTime(iso: string, timeZone?: string): string {
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) {
    return iso;
  }
  return new Intl.DateTimeFormat('en-GB', {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
    timeZone
  }).format(moment);
}

/** A compact time for lists: `14:03:07` today, `Tue 3 Dec, 01:00` on another day (in the
 * browser's time zone, or the one given). */
export function formatShort(iso: string, now: Date = new Date(), timeZone?: string): string {
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) {
    return iso;
  }
  const day = (date: Date): string =>
    new Intl.DateTimeFormat('en-GB', { dateStyle: 'short', timeZone }).format(date);
  if (day(moment) === day(now)) {
    return new Intl.DateTimeFormat('en-GB', {
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hour12: false,
      timeZone
    }).format(moment);
  }
  return new Intl.DateTimeFormat('en-GB', {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
    timeZone
  }).format(moment);
}
