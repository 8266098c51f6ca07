import { OrchestrationPanel } from '../src/panel';
import type { PanelHost } from '../src/panel';
import { FakeServer, until } from './fakes';
import { deployment, pool, run, worker } from './samples';

function host(changes: Partial<PanelHost> = {}): PanelHost {
  return {
    newPool: jest.fn(() => Promise.resolve(false)),
    runDeployment: jest.fn(() => Promise.resolve(null)),
    openOutput: jest.fn(),
    confirmCancel: jest.fn(() => Promise.resolve(true)),
    showError: jest.fn(),
    ...changes
  };
}

function populated(): FakeServer {
  const running = run();
  const done = run({ id: 'r2', name: 'calm-lynx', state: 'COMPLETED', end_time: '2024-05-01T09:59:55Z' });
  return new FakeServer()
    .answer('GET /work-pools', { body: [pool(), pool({ id: 'p2', name: 'idle', status: 'NOT_READY', workers_online: 0 })] })
    .answer('GET /workers', { body: [worker(), worker({ id: 'w2', status: 'OFFLINE' })] })
    .answer('GET /deployments', { body: [deployment()] })
    .answer('GET /flow-runs', { body: [running, done] })
    .answer('GET /flow-runs/r1/output-notebook', {
      body: { cells: [{ metadata: { papermill: { status: 'completed' } } }, { metadata: { papermill: { status: 'running' } } }] }
    })
    .answer('GET /flow-runs/r2/output-notebook', { body: { cells: [{ metadata: { papermill: { status: 'completed' } } }] } })
    .answer('GET /flow-runs/r1/logs', { body: [{ seq: 1, timestamp: '', message: '1: Hello, Ada.' }] })
    .answer('POST /flow-runs/r1/cancel', { body: { ...running, state: 'CANCELLING' } });
}

describe('OrchestrationPanel', () => {
  it('shows pools with lights, workers, deployments and runs with their progress', async () => {
    const server = populated();
    const panel = new OrchestrationPanel(server.api(), host());
    await panel.refresh();
    const node = panel.node;
    expect([...node.querySelectorAll<HTMLElement>('.nborch-pool .nborch-light')].map(l => l.dataset.status)).toEqual([
      'READY',
      'NOT_READY'
    ]);
    expect(node.querySelectorAll('.nborch-worker')).toHaveLength(2);
    expect(node.querySelector('.nborch-workers-section .nborch-count')?.textContent).toBe('(1)'); // online
    expect(node.querySelector('.nborch-deployment')?.getAttribute('data-name')).toBe('hello/daily');
    expect([...node.querySelectorAll<HTMLElement>('.nborch-run')].map(r => r.dataset.state)).toEqual([
      'RUNNING',
      'COMPLETED'
    ]);
    expect(node.querySelector('.nborch-run[data-id="r1"] .nborch-progress-box')?.textContent).toContain('1/2 cells');
    expect(node.querySelector('.nborch-panel-status')?.textContent).toMatch(/^Updated /);
    panel.dispose();
  });

  it('reads the bar of a run while it goes, and once more after it ended', async () => {
    const server = populated();
    const marks = (...statuses: string[]) => ({
      body: { cells: statuses.map(status => ({ metadata: { papermill: { status } } })) }
    });
    server.answer('GET /flow-runs', { body: [run()] }).answer('GET /flow-runs/r1/output-notebook', marks('completed', 'running'));
    const panel = new OrchestrationPanel(server.api(), host());
    await panel.refresh();
    const summary = (): string | null | undefined =>
      panel.node.querySelector('.nborch-run[data-id="r1"] .nborch-progress-box .nborch-muted')?.textContent;
    expect(summary()).toMatch(/^1\/2 cells · cell 2 running/);
    server
      .answer('GET /flow-runs', { body: [run({ state: 'COMPLETED', end_time: '2024-05-01T09:59:58Z' })] })
      .answer('GET /flow-runs/r1/output-notebook', marks('completed', 'completed'));
    await panel.refresh();
    expect(summary()).toBe('2/2 cells');
    const reads = (): number => server.sent.filter(s => s.url.includes('/r1/output-notebook')).length;
    const before = reads();
    await panel.refresh();
    expect(reads()).toBe(before); // ended: not read again
    panel.dispose();
  });

  it('reads logs only for the runs whose logs are shown', async () => {
    const server = populated();
    const panel = new OrchestrationPanel(server.api(), host());
    await panel.refresh();
    expect(server.sent.some(s => s.url.includes('/logs'))).toBe(false);
    panel.node.querySelector<HTMLButtonElement>('.nborch-run[data-id="r1"] .nborch-logs-button')?.click();
    await panel.refresh();
    expect(panel.node.querySelector('.nborch-run[data-id="r1"] .nborch-logs')?.textContent).toBe('1: Hello, Ada.');
    panel.dispose();
  });

  it('cancels a run once the user confirms', async () => {
    const server = populated();
    const confirmCancel = jest.fn(() => Promise.resolve(true));
    const panel = new OrchestrationPanel(server.api(), host({ confirmCancel }));
    await panel.refresh();
    panel.node.querySelector<HTMLButtonElement>('.nborch-run[data-id="r1"] .nborch-cancel')?.click();
    await new Promise(resolve => setTimeout(resolve, 0));
    await panel.refresh();
    expect(confirmCancel).toHaveBeenCalled();
    expect(server.sent.filter(s => s.method === 'POST').map(s => s.url)).toEqual([
      expect.stringMatching(/\/flow-runs\/r1\/cancel$/)
    ]);
    panel.dispose();
  });

  it("says what is wrong when the server cannot answer, and shows the lists again when it can", async () => {
    const server = new FakeServer(); // answers 404 with nborch's error body to everything
    const panel = new OrchestrationPanel(server.api(), host());
    await panel.refresh();
    const status = panel.node.querySelector('.nborch-panel-status');
    expect(status?.classList.contains('nborch-error')).toBe(true);
    expect(status?.textContent).toBe('no fake for GET /work-pools');
    server.answer('GET /work-pools', { body: [] }).answer('GET /workers', { body: [] });
    server.answer('GET /deployments', { body: [] }).answer('GET /flow-runs', { body: [] });
    await panel.refresh();
    expect(status?.classList.contains('nborch-error')).toBe(false);
    expect(panel.node.querySelector('.nborch-pools')?.textContent).toBe('No work pool yet: create one with "New pool…".');
    panel.dispose();
  });

  it('runs a deployment through its host, and refreshes after', async () => {
    const server = populated();
    const created = run({ id: 'r3', name: 'new-owl', state: 'SCHEDULED' });
    const runDeployment = jest.fn(() => {
      server.answer('GET /flow-runs', { body: [created] }); // what the server now has
      return Promise.resolve(created);
    });
    const panel = new OrchestrationPanel(server.api(), host({ runDeployment }));
    await panel.refresh();
    const before = server.sent.length;
    panel.node.querySelector<HTMLButtonElement>('.nborch-deployment .nborch-run-button')?.click();
    // No refresh from the test: the panel's own, after the host created the run.
    await until(
      () => server.sent.slice(before).some(s => s.method === 'GET' && new URL(s.url).pathname.endsWith('/flow-runs')),
      'the panel asked for the runs again'
    );
    await until(() => panel.node.querySelector('.nborch-run[data-id="r3"]') !== null, 'the new run is shown');
    expect(runDeployment).toHaveBeenCalledWith(expect.objectContaining({ name: 'daily' }));
    panel.dispose();
  });
});
