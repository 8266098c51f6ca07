import {
  formatDateTime,
  formatDuration,
  formatRelative,
  formatShort,
  progressOf,
  runDuration,
  stateBadge,
  statusLight
} from '../src/format';
import type { NotebookJson } from '../src/models';

describe('stateBadge', () => {
  it('names the state, its colour class, and what may still happen to the run', () => {
    expect(stateBadge('COMPLETED')).toEqual({
      label: 'COMPLETED',
      className: 'nborch-state nborch-state-completed',
      final: true,
      cancellable: false
    });
    expect(stateBadge('RUNNING')).toMatchObject({ final: false, cancellable: true });
    expect(stateBadge('LATE')).toMatchObject({ final: false, cancellable: true });
    expect(stateBadge('CANCELLING')).toMatchObject({ final: false, cancellable: false });
    expect(stateBadge('CRASHED')).toMatchObject({ final: true, cancellable: false });
  });
});

describe('statusLight', () => {
  it('gives each pool status its light and says what to do', () => {
    expect(statusLight('READY').className).toBe('nborch-light nborch-light-ready');
    expect(statusLight('NOT_READY').className).toBe('nborch-light nborch-light-not-ready');
    expect(statusLight('NOT_READY').title).toContain('nborch worker start --pool');
    expect(statusLight('PAUSED').className).toBe('nborch-light nborch-light-paused');
  });
});

function notebook(...marks: ({ status?: string; duration?: number; start_time?: string } | null)[]): NotebookJson {
  return {
    cells: marks.map((mark, index) => ({
      cell_type: 'code',
      source: ['\n', `print(${index})\n`, 'more'],
      metadata: mark === null ? {} : { papermill: mark }
    }))
  };
}

describe('progressOf', () => {
  it('counts done cells and names the one running, with its time so far', () => {
    const now = new Date('2024-05-01T10:00:05Z');
    const progress = progressOf(
      notebook(
        { status: 'completed', duration: 0.5 },
        { status: 'completed', duration: 1.25 },
        { status: 'running', start_time: '2024-05-01T10:00:02Z' },
        { status: 'pending' },
        null
      ),
      now
    );
    expect(progress.total).toBe(5);
    expect(progress.done).toBe(2);
    expect(progress.fraction).toBeCloseTo(0.4);
    expect(progress.running?.index).toBe(2);
    expect(progress.running?.seconds).toBe(3);
    expect(progress.cells.map(c => c.status)).toEqual(['completed', 'completed', 'running', 'pending', 'pending']);
    expect(progress.cells[0]?.firstLine).toBe('print(0)');
    expect(progress.summary).toBe('2/5 cells · cell 3 running for 3.0 s');
  });

  it('names the failed cell, and counts it as done', () => {
    const progress = progressOf(notebook({ status: 'completed' }, { status: 'failed' }, { status: 'pending' }));
    expect(progress.done).toBe(2);
    expect(progress.failed?.index).toBe(1);
    expect(progress.summary).toBe('2/3 cells · cell 2 failed');
  });

  it('reads an unknown status as pending and an empty notebook as no progress', () => {
    expect(progressOf(notebook({ status: 'queued' })).cells[0]?.status).toBe('pending');
    expect(progressOf({})).toMatchObject({ total: 0, done: 0, fraction: 0, summary: '0/0 cells' });
  });
});

describe('times', () => {
  it('says durations the way people read them', () => {
    expect(formatDuration(null)).toBe('–');
    expect(formatDuration(0.42)).toBe('0.4 s');
    expect(formatDuration(42.4)).toBe('42 s');
    expect(formatDuration(185)).toBe('3 min 05 s');
    expect(formatDuration(7260)).toBe('2 h 01 min');
  });

  it('says how long ago, or how long until', () => {
    const now = new Date('2024-05-01T10:00:00Z');
    expect(formatRelative('2024-05-01T09:59:57Z', now)).toBe('3 s ago');
    expect(formatRelative('2024-05-01T09:55:00Z', now)).toBe('5 min ago');
    expect(formatRelative('2024-05-01T12:30:00Z', now)).toBe('in 2 h');
    expect(formatRelative('2024-05-03T10:00:00Z', now)).toBe('in 2 d');
    expect(formatRelative(null, now)).toBe('never');
  });

  it("measures a run to its end, or to now while it goes", () => {
    const now = new Date('2024-05-01T10:00:10Z');
    expect(runDuration('2024-05-01T10:00:00Z', '2024-05-01T10:00:02.5Z', now)).toBe(2.5);
    expect(runDuration('2024-05-01T10:00:00Z', null, now)).toBe(10);
    expect(runDuration(null, null, now)).toBeNull();
  });

  it('shows a time in a given time zone', () => {
    expect(formatDateTime('2024-12-02T00:00:00Z', 'Europe/Paris')).toBe('Mon, 2 Dec 2024, 01:00');
    expect(formatDateTime('not a date')).toBe('not a date');
  });

  it('shows list times compactly: the time today, the day otherwise', () => {
    const now = new Date('2024-05-01T10:00:00Z');
    expect(formatShort('2024-05-01T09:59:57Z', now, 'UTC')).toBe('09:59:57');
    expect(formatShort('2024-05-02T01:00:00Z', now, 'UTC')).toBe('Thu 2 May, 01:00');
    expect(formatShort('2024-05-01T23:30:00Z', now, 'Europe/Paris')).toBe('Thu 2 May, 01:30');
  });
});
