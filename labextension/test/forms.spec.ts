import { DeployForm, PoolForm, RunForm } from '../src/forms';
import type { NotebookParameters } from '../src/models';
import { FakeServer, settle } from './fakes';
import { deployment, pool } from './samples';

const HELLO: NotebookParameters = {
  path: 'reports/hello.ipynb',
  flow_name: 'hello',
  parameters: [
    { name: 'name', type: 'str', default: 'world', help: 'who to greet' },
    { name: 'times', type: 'int', default: 2, help: '' }
  ]
};

function type(input: HTMLInputElement | HTMLTextAreaElement | undefined, value: string): void {
  if (!input) {
    throw new Error('no such input');
  }
  input.value = value;
  input.dispatchEvent(new Event('input'));
}

describe('DeployForm', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function deployForm(server: FakeServer): DeployForm {
    return new DeployForm(server.api(), {
      notebook: HELLO,
      pools: [pool(), pool({ id: 'p2', name: 'gpu', type: 'docker', status: 'NOT_READY' })],
      timezone: 'Europe/Paris',
      previewDelay: 50
    });
  }

  it('offers the existing pools and the notebook parameters at their defaults', () => {
    const form = deployForm(new FakeServer());
    expect([...form.pool.options].map(o => [o.value, o.textContent])).toEqual([
      ['etl', 'etl (process, READY)'],
      ['gpu', 'gpu (docker, NOT_READY)']
    ]);
    expect(form.parameters.input('name')?.value).toBe('world');
    expect(form.flowName.value).toBe('hello');
    expect(form.timezone.value).toBe('Europe/Paris');
    expect(form.preview.dataset.state).toBe('empty');
  });

  it('shows the next five times of the cron as it is typed', async () => {
    const server = new FakeServer().answer('GET /cron-preview', {
      body: {
        cron: '0 1 * * *',
        timezone: 'Europe/Paris',
        times: ['2024-12-02T00:00:00Z', '2024-12-03T00:00:00Z', '2024-12-04T00:00:00Z', '2024-12-05T00:00:00Z', '2024-12-06T00:00:00Z']
      }
    });
    const form = deployForm(server);
    type(form.cron, '0 1 * * *');
    expect(form.preview.dataset.state).toBe('loading');
    jest.advanceTimersByTime(50);
    await settle();
    expect(server.sent.map(s => s.url.split('?')[1])).toEqual([
      'cron=0%201%20*%20*%20*&timezone=Europe%2FParis&count=5'
    ]);
    expect(form.preview.querySelectorAll('li')).toHaveLength(5);
    expect(form.preview.querySelector('li')?.textContent).toMatch(/^Mon, 2 Dec 2024, 01:00/);
  });

  it('sends what was filled in, and only parameters that differ from the defaults', async () => {
    const server = new FakeServer().answer('POST /deploy-notebook', body => ({
      body: { deployment: deployment(), created: true, sent: body }
    }));
    const form = deployForm(server);
    type(form.name, ' nightly ');
    form.pool.value = 'gpu';
    type(form.cron, '0 1 * * *');
    type(form.parameters.input('times'), '3');
    type(form.jobVariables, '{"env": {"STAGE": "lab"}}');
    type(form.image, 'me/hello:1');
    const applied = await form.submit();
    expect(applied?.created).toBe(true);
    expect(server.sent.at(-1)?.body).toEqual({
      path: 'reports/hello.ipynb',
      name: 'nightly',
      pool_name: 'gpu',
      cron: '0 1 * * *',
      timezone: 'Europe/Paris',
      parameters: { times: 3 },
      job_variables: { env: { STAGE: 'lab' } },
      image: 'me/hello:1',
      build_image: false
    });
  });

  it('asks nothing of the server while the form is incomplete, and says what is missing', async () => {
    const server = new FakeServer();
    const form = deployForm(server);
    type(form.parameters.input('times'), 'lots');
    type(form.jobVariables, '[1]');
    expect(await form.submit()).toBeNull();
    expect(server.sent.filter(s => s.method === 'POST')).toEqual([]);
    expect(form.node.querySelector('.nborch-dialog-error')?.textContent).toBe(
      'Name the deployment (e.g. daily). Fix the parameters marked above. ' +
        'Job variables must be a JSON object, e.g. {"env": {"STAGE": "dev"}}'
    );
  });

  it("shows the server's refusal, beside the parameter it is about", async () => {
    const message = "Parameter 'name' of flow 'hello' needs the secret 'TOKEN', which does not exist.";
    const server = new FakeServer().answer('POST /deploy-notebook', {
      status: 422,
      body: { error: { type: 'ParameterError', message, parameter: 'name' } }
    });
    const form = deployForm(server);
    type(form.name, 'daily');
    type(form.parameters.input('name'), '{{ secret.TOKEN }}');
    expect(await form.submit()).toBeNull();
    expect(form.node.querySelector('.nborch-dialog-error')?.textContent).toBe(message);
    expect(form.node.querySelector('.nborch-parameter-name .nborch-field-error')?.textContent).toBe(message);
  });

  it('names a flow only when it was changed', () => {
    const form = deployForm(new FakeServer());
    type(form.name, 'daily');
    expect(form.request()).not.toHaveProperty('flow_name');
    type(form.flowName, 'greetings');
    expect(form.request()?.flow_name).toBe('greetings');
  });
});

describe('RunForm', () => {
  it("starts at the deployment's values and sends only what changed", async () => {
    const server = new FakeServer().answer('POST /flow-runs', { status: 201, body: { id: 'r9', name: 'quick-fox' } });
    const form = new RunForm(server.api(), deployment());
    expect(form.parameters.input('times')?.value).toBe('3');
    type(form.parameters.input('name'), 'Browser');
    const run = await form.submit();
    expect(run?.name).toBe('quick-fox');
    expect(server.sent[0]?.body).toEqual({ deployment: 'hello/daily', parameters: { name: 'Browser' } });
  });

  it('sends job variables for this run when given, and shows a refusal', async () => {
    const server = new FakeServer().answer('POST /flow-runs', {
      status: 422,
      body: { error: { type: 'ValidationError', message: "Job variable 'cpus' is not offered by work pool 'etl'." } }
    });
    const form = new RunForm(server.api(), deployment());
    type(form.jobVariables, '{"cpus": 2}');
    expect(await form.submit()).toBeNull();
    expect(server.sent[0]?.body).toEqual({ deployment: 'hello/daily', parameters: {}, job_variables: { cpus: 2 } });
    expect(form.node.querySelector('.nborch-dialog-error')?.textContent).toBe(
      "Job variable 'cpus' is not offered by work pool 'etl'."
    );
  });
});

describe('PoolForm', () => {
  it('creates a pool with its type and limit', async () => {
    const server = new FakeServer().answer('POST /work-pools', body => ({ status: 201, body: { ...pool(), ...(body as object) } }));
    const form = new PoolForm(server.api());
    type(form.name, 'lab-pool');
    form.type.value = 'docker';
    type(form.limit, '2');
    const created = await form.submit();
    expect(created?.name).toBe('lab-pool');
    expect(server.sent[0]?.body).toEqual({ name: 'lab-pool', type: 'docker', concurrency_limit: 2 });
  });

  it('refuses a limit that is not a whole number, and shows a taken name', async () => {
    const server = new FakeServer().answer('POST /work-pools', {
      status: 409,
      body: { error: { type: 'AlreadyExistsError', message: "Work pool 'etl' already exists." } }
    });
    const form = new PoolForm(server.api());
    type(form.name, 'etl');
    type(form.limit, 'two');
    expect(await form.submit()).toBeNull();
    expect(server.sent).toEqual([]);
    expect(form.node.textContent).toContain('Concurrency limit must be a whole number >= 0, got "two".');
    type(form.limit, '');
    expect(await form.submit()).toBeNull();
    expect(form.node.querySelector('.nborch-dialog-error')?.textContent).toBe("Work pool 'etl' already exists.");
  });
});
