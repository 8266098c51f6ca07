import { progressOf } from '../src/format';
import {
  KeyedList,
  describeSchedule,
  hasOutput,
  renderDeployment,
  renderPool,
  renderRun,
  renderWorker,
  runSignature
} from '../src/views';
import { deployment, pool, run, worker } from './samples';

const NOW = new Date('2024-05-01T10:00:00Z');
const noRunActions = { toggleLogs: jest.fn(), cancel: jest.fn(), openOutput: jest.fn() };

describe('KeyedList', () => {
  interface Item {
    id: string;
    text: string;
  }
  const list = (): KeyedList<Item> =>
    new KeyedList<Item>('things', 'Nothing yet.', i => i.id, i => i.text, i => {
      const node = document.createElement('li');
      node.textContent = i.text;
      return node;
    });

  it('keeps the node of an unchanged item, redraws a changed one, and follows the order', () => {
    const things = list();
    things.update([{ id: 'a', text: 'A' }, { id: 'b', text: 'B' }]);
    const [a, b] = [...things.node.children];
    things.update([{ id: 'b', text: 'B2' }, { id: 'a', text: 'A' }, { id: 'c', text: 'C' }]);
    const children = [...things.node.children];
    expect(children.map(c => c.textContent)).toEqual(['B2', 'A', 'C']);
    expect(children[1]).toBe(a); // kept
    expect(children[0]).not.toBe(b); // redrawn
    expect((children[2] as HTMLElement).dataset.key).toBe('c');
  });

  it('says when there is nothing, and drops items that went', () => {
    const things = list();
    things.update([]);
    expect(things.node.textContent).toBe('Nothing yet.');
    things.update([{ id: 'a', text: 'A' }]);
    expect(things.node.textContent).toBe('A');
    things.update([]);
    expect(things.node.textContent).toBe('Nothing yet.');
  });
});

describe('renderPool', () => {
  it('shows the status light, the counts, and pauses the pool', () => {
    const setPaused = jest.fn();
    const node = renderPool(pool({ concurrency_limit: 4 }), { setPaused });
    const light = node.querySelector<HTMLElement>('.nborch-light');
    expect(light?.dataset.status).toBe('READY');
    expect(light?.className).toBe('nborch-light nborch-light-ready');
    expect(node.textContent).toContain('process · 1 worker online · runs 1/4');
    node.querySelector<HTMLButtonElement>('.nborch-pause')?.click();
    expect(setPaused).toHaveBeenCalledWith(expect.objectContaining({ name: 'etl' }), true);
  });

  it('offers to resume a paused pool', () => {
    const setPaused = jest.fn();
    const node = renderPool(pool({ paused: true, status: 'PAUSED', workers_online: 0 }), { setPaused });
    expect(node.querySelector('.nborch-light')?.className).toContain('nborch-light-paused');
    expect(node.textContent).toContain('0 workers online · runs 1/∞');
    node.querySelector<HTMLButtonElement>('.nborch-resume')?.click();
    expect(setPaused).toHaveBeenCalledWith(expect.anything(), false);
  });
});

describe('renderWorker', () => {
  it('shows its pool and how long since its heartbeat', () => {
    const node = renderWorker(worker(), NOW);
    expect(node.textContent).toContain('etl · online · heartbeat 3 s ago · 1 running');
  });
});

describe('deployments', () => {
  it('shows each schedule with its next run, and runs from the button', () => {
    const run = jest.fn();
    const node = renderDeployment(deployment(), { run }, NOW);
    expect(node.dataset.name).toBe('hello/daily');
    expect(node.querySelector('.nborch-schedule')?.textContent).toMatch(
      /^cron 0 1 \* \* \* \(UTC\) · next .* \(in 15 h\)$/
    );
    node.querySelector<HTMLButtonElement>('.nborch-run-button')?.click();
    expect(run).toHaveBeenCalledWith(expect.objectContaining({ name: 'daily' }));
  });

  it('describes intervals and paused schedules', () => {
    const schedule = deployment().schedules[0];
    expect(schedule).toBeDefined();
    if (schedule) {
      expect(describeSchedule({ ...schedule, cron: null, interval_seconds: 900 }, NOW)).toMatch(
        /^every 15 min 00 s · next/
      );
      expect(describeSchedule({ ...schedule, active: false }, NOW)).toBe('cron 0 1 * * * (UTC) · paused');
      expect(describeSchedule({ ...schedule, error: 'OverflowError: date value out of range' }, NOW)).toBe(
        'cron 0 1 * * * (UTC) · in error: OverflowError: date value out of range'
      );
    }
    expect(renderDeployment(deployment({ schedules: [] }), { run: jest.fn() }, NOW).textContent).toContain(
      'no schedule'
    );
  });
});

describe('renderRun', () => {
  it('shows a running run with its state, progress, parameters and a cancel button', () => {
    const progress = progressOf(
      { cells: [{ metadata: { papermill: { status: 'completed' } } }, { metadata: { papermill: { status: 'running' } } }] },
      NOW
    );
    const cancel = jest.fn();
    const node = renderRun(run(), { progress }, { ...noRunActions, cancel }, NOW);
    const badge = node.querySelector<HTMLElement>('.nborch-state');
    expect([badge?.textContent, badge?.dataset.state, badge?.className]).toEqual([
      'RUNNING',
      'RUNNING',
      'nborch-state nborch-state-running'
    ]);
    expect(node.querySelector('.nborch-parameters')?.textContent).toBe('name="Ada"');
    expect(node.textContent).toContain('8.0 s'); // running for 8 s so far
    const segments = [...node.querySelectorAll<HTMLElement>('.nborch-cell')].map(s => s.dataset.status);
    expect(segments).toEqual(['completed', 'running']);
    expect(node.querySelector('.nborch-progress')?.getAttribute('aria-valuenow')).toBe('1');
    node.querySelector<HTMLButtonElement>('.nborch-cancel')?.click();
    expect(cancel).toHaveBeenCalled();
  });

  it('offers the output of a finished run and no cancel; shows the failing cell', () => {
    const openOutput = jest.fn();
    const failed = run({
      state: 'FAILED',
      end_time: '2024-05-01T09:59:55Z',
      output_path: '/home/runs/r1/output.ipynb',
      failure: {
        cell_index: 2,
        execution_count: 3,
        source: '1 / 0',
        ename: 'ZeroDivisionError',
        evalue: 'division by zero'
      }
    });
    const node = renderRun(failed, {}, { ...noRunActions, openOutput }, NOW);
    expect(node.querySelector('.nborch-cancel')).toBeNull();
    expect(node.querySelector('.nborch-error')?.textContent).toBe('cell 3: ZeroDivisionError: division by zero');
    node.querySelector<HTMLButtonElement>('.nborch-output')?.click();
    expect(openOutput).toHaveBeenCalledWith(failed);
    expect(node.textContent).toContain('3.0 s');
  });

  it('has no logs nor output before the run starts', () => {
    const waiting = run({ state: 'SCHEDULED', start_time: null });
    expect(hasOutput(waiting)).toBe(false);
    const node = renderRun(waiting, {}, noRunActions, NOW);
    expect(node.querySelector('.nborch-output')).toBeNull();
    expect(node.querySelector('.nborch-logs-button')).toBeNull();
    expect(node.textContent).toContain('due ');
  });

  it('says who made the run, when nborch knows', () => {
    expect(renderRun(run(), {}, noRunActions, NOW).textContent).toContain('by jupyter:ada');
    const older = renderRun(run({ created_by: null }), {}, noRunActions, NOW);
    expect(older.textContent).not.toContain(' · by ');
  });

  it('shows its logs when asked', () => {
    const logs = [
      { seq: 1, timestamp: '', message: '1: Hello, Ada.' },
      { seq: 2, timestamp: '', message: '2: Hello, Ada.' }
    ];
    const node = renderRun(run(), { logs }, noRunActions, NOW);
    expect(node.querySelector('.nborch-logs')?.textContent).toBe('1: Hello, Ada.\n2: Hello, Ada.');
    expect(node.querySelector('.nborch-logs-button')?.textContent).toBe('Hide logs');
    expect(renderRun(run(), { logs: [] }, noRunActions, NOW).querySelector('.nborch-logs')?.textContent).toBe(
      '(no logs yet)'
    );
  });

  it('changes its signature when what it shows changes, and only then', () => {
    const done = run({ state: 'COMPLETED', end_time: '2024-05-01T09:59:55Z' });
    const later = new Date(NOW.getTime() + 60_000);
    expect(runSignature(done, {}, NOW)).toBe(runSignature(done, {}, later));
    expect(runSignature(run(), {}, NOW)).not.toBe(runSignature(run(), {}, later));
    expect(runSignature(done, {}, NOW)).not.toBe(
      runSignature(done, { logs: [{ seq: 1, timestamp: '', message: 'x' }] }, NOW)
    );
  });
});
