import { NborchApi, NborchApiError, RETRY_DELAYS_MS, errorFromAnswer, newIdempotencyKey, queryString } from '../src/api';
import { FakeServer, fakeResponse } from './fakes';

describe('queryString', () => {
  it('encodes values, repeats lists and leaves out absent values', () => {
    expect(
      queryString({ deployment: 'hello/daily', states: ['RUNNING', 'LATE'], limit: 5, pool_name: undefined })
    ).toBe('deployment=hello%2Fdaily&states=RUNNING&states=LATE&limit=5');
  });
});

describe('NborchApi', () => {
  it('puts paths under the base URL and percent-encodes a deployment name', async () => {
    const server = new FakeServer().answer('GET /deployments/hello%2Fdaily', {
      body: { flow_name: 'hello', name: 'daily' }
    });
    const deployment = await server.api().getDeployment('hello/daily');
    expect(deployment.name).toBe('daily');
    expect(server.sent[0]?.url).toBe(
      'http://127.0.0.1:8888/lab-base/nborch/api/v1/deployments/hello%2Fdaily'
    );
  });

  it('sends bodies as JSON', async () => {
    const server = new FakeServer().answer('POST /flow-runs', body => ({ status: 201, body: { id: 'r1', body } }));
    await server.api().createRun({ deployment: 'hello/daily', parameters: { times: 3 } });
    expect(server.sent[0]).toMatchObject({
      method: 'POST',
      body: { deployment: 'hello/daily', parameters: { times: 3 } }
    });
  });

  it('asks for a cron preview with its time zone and count in the query', async () => {
    const server = new FakeServer().answer('GET /cron-preview', {
      body: { cron: '0 1 * * *', timezone: 'Europe/Paris', times: [] }
    });
    await server.api().cronPreview('0 1 * * *', 'Europe/Paris');
    expect(server.sent[0]?.url).toContain('?cron=0%201%20*%20*%20*&timezone=Europe%2FParis&count=5');
  });

  it("turns nborch's error body into an error with its message and parameter", async () => {
    const server = new FakeServer().answer('POST /flow-runs', {
      status: 422,
      body: {
        error: {
          type: 'ParameterError',
          message: "Parameter 'times' of deployment 'hello/daily' must be int, got 'x'.",
          parameter: 'times'
        }
      }
    });
    const refused = server.api().createRun({ deployment: 'hello/daily', parameters: { times: 'x' } });
    await expect(refused).rejects.toMatchObject({
      status: 422,
      type: 'ParameterError',
      parameter: 'times',
      message: "Parameter 'times' of deployment 'hello/daily' must be int, got 'x'."
    });
    await expect(refused).rejects.toBeInstanceOf(NborchApiError);
  });

  it('says the server cannot be reached when the request fails', async () => {
    const api = new NborchApi('http://x/nborch/api/v1', () => Promise.reject(new TypeError('Failed to fetch')));
    await expect(api.listPools()).rejects.toMatchObject({
      status: 0,
      type: 'NetworkError',
      message: 'Cannot reach the Jupyter server for GET /work-pools (Failed to fetch). Is it still running?'
    });
  });

  it('answers undefined for 204 and text for HTML', async () => {
    const server = new FakeServer()
      .answer('PATCH /work-pools/etl', { status: 204 })
      .answer('GET /flow-runs/r1/output.html', { text: '<html>done</html>', contentType: 'text/html' });
    await expect(server.api().setPoolPaused('etl', true)).resolves.toBeUndefined();
    await expect(server.api().outputHtml('r1')).resolves.toBe('<html>done</html>');
  });

  it('takes the output HTML as text, even labelled JSON (as Jupyter labels API answers)', async () => {
    const server = new FakeServer().answer('GET /flow-runs/r1/output.html', {
      text: '<!DOCTYPE html><html>done</html>',
      contentType: 'application/json'
    });
    await expect(server.api().outputHtml('r1')).resolves.toBe('<!DOCTYPE html><html>done</html>');
  });

  it('reads a null output notebook as null', async () => {
    const server = new FakeServer().answer('GET /flow-runs/r1/output-notebook', { text: 'null', contentType: 'application/json' });
    await expect(server.api().outputNotebook('r1')).resolves.toBeNull();
  });

  it('refuses an answer that says JSON but is not', async () => {
    const api = new NborchApi('http://x/nborch/api/v1', () =>
      Promise.resolve(fakeResponse({ text: '{oops', contentType: 'application/json' }))
    );
    await expect(api.listPools()).rejects.toThrow('The answer to GET /work-pools is not valid JSON');
  });
});

describe('a POST whose answer is lost', () => {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const createdRun = (body: unknown) => ({ status: 201, body: { id: 'r1', body } });

  it('carries an Idempotency-Key, a new one for each call', async () => {
    const server = new FakeServer().answer('POST /flow-runs', createdRun).answer('POST /work-pools', { status: 201, body: {} });
    await server.api().createRun({ deployment: 'hello/daily' });
    await server.api().createRun({ deployment: 'hello/daily' });
    await server.api().createPool({ name: 'etl', type: 'process' });
    const keys = server.sent.map(s => s.headers['Idempotency-Key']);
    expect(keys).toHaveLength(3);
    for (const key of keys) {
      expect(key).toMatch(UUID);
    }
    expect(new Set(keys).size).toBe(3);
    expect(server.sent[0]?.headers['Content-Type']).toBe('application/json');
  });

  it('is sent again with the same key and body, and its answer is the copy\'s', async () => {
    const server = new FakeServer().answer('POST /flow-runs', createdRun).loseAnswers(2);
    const run = await server.api().createRun({ deployment: 'hello/daily', parameters: { times: 3 } });
    expect(run.id).toBe('r1');
    expect(server.sent).toHaveLength(3);
    const [first, ...copies] = server.sent;
    expect(first?.headers['Idempotency-Key']).toMatch(UUID);
    for (const copy of copies) {
      expect(copy).toEqual(first);
    }
  });

  it('is sent again after the pauses given, 3 attempts in all by default', async () => {
    expect(RETRY_DELAYS_MS).toEqual([300, 1000]);
    jest.useFakeTimers();
    try {
      const server = new FakeServer().answer('POST /flow-runs/r1/cancel', { body: { id: 'r1' } }).loseAnswers(2);
      const cancelled = server.api(RETRY_DELAYS_MS).cancelRun('r1');
      await jest.advanceTimersByTimeAsync(299);
      expect(server.sent).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(1);
      expect(server.sent).toHaveLength(2);
      await jest.advanceTimersByTimeAsync(999);
      expect(server.sent).toHaveLength(2);
      await jest.advanceTimersByTimeAsync(1);
      await expect(cancelled).resolves.toEqual({ id: 'r1' });
      expect(server.sent).toHaveLength(3);
    } finally {
      jest.useRealTimers();
    }
  });

  it('is a NetworkError once the last attempt failed too', async () => {
    const server = new FakeServer().answer('POST /flow-runs', createdRun).loseAnswers(3);
    await expect(server.api().createRun({ deployment: 'hello/daily' })).rejects.toMatchObject({
      status: 0,
      type: 'NetworkError',
      message:
        'Cannot reach the Jupyter server for POST /flow-runs (Failed to fetch, 3 attempts). Is it still running?'
    });
    expect(server.sent).toHaveLength(3);
    expect(new Set(server.sent.map(s => s.headers['Idempotency-Key'])).size).toBe(1);
  });

  it('is not sent again when the server answered, even with an error', async () => {
    for (const status of [409, 422, 500, 503]) {
      const server = new FakeServer().answer('POST /deploy-notebook', {
        status,
        body: { error: { type: 'Refused', message: `refused with ${status}` } }
      });
      await expect(server.api().deployNotebook({ path: 'hello.ipynb', name: 'daily', pool_name: 'etl', timezone: 'UTC', parameters: {}, job_variables: {} })).rejects.toMatchObject({
        status,
        message: `refused with ${status}`
      });
      expect(server.sent).toHaveLength(1);
    }
  });

  it('leaves GET, PATCH and DELETE as they were: no key, sent once', async () => {
    const failing = jest.fn(() => Promise.reject(new TypeError('Failed to fetch')));
    const api = new NborchApi('http://x/nborch/api/v1', failing, [0, 0]);
    await expect(api.listPools()).rejects.toMatchObject({ type: 'NetworkError' });
    await expect(api.setPoolPaused('etl', true)).rejects.toMatchObject({ type: 'NetworkError' });
    expect(failing).toHaveBeenCalledTimes(2);
    const server = new FakeServer().answer('PATCH /work-pools/etl', { status: 204 }).answer('GET /work-pools', { body: [] });
    await server.api().setPoolPaused('etl', true);
    await server.api().listPools();
    expect(server.sent.map(s => s.headers['Idempotency-Key'])).toEqual([undefined, undefined]);
  });
});

describe('newIdempotencyKey', () => {
  it('is a random version 4 UUID without crypto.randomUUID (plain http, jsdom)', () => {
    const keys = new Set(Array.from({ length: 100 }, () => newIdempotencyKey()));
    expect(keys.size).toBe(100);
    for (const key of keys) {
      expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
  });

  it('is crypto.randomUUID() where the browser has it', () => {
    const had = Object.getOwnPropertyDescriptor(crypto, 'randomUUID');
    Object.defineProperty(crypto, 'randomUUID', { value: () => 'from-randomUUID', configurable: true });
    try {
      expect(newIdempotencyKey()).toBe('from-randomUUID');
    } finally {
      if (had) {
        Object.defineProperty(crypto, 'randomUUID', had);
      } else {
        delete (crypto as { randomUUID?: unknown }).randomUUID;
      }
    }
  });
});

describe('errorFromAnswer', () => {
  it("explains a 404 without nborch's body: the server extension is missing", () => {
    const err = errorFromAnswer(404, 'Not Found', '<html>404</html>', 'GET /work-pools');
    expect(err.message).toContain("This Jupyter server does not serve nborch's API (404 for GET /work-pools)");
    expect(err.message).toContain('jupyter server extension list');
  });

  it("passes on Jupyter's own refusal and says to log in again", () => {
    const err = errorFromAnswer(403, 'Forbidden', '{"message": "\'_xsrf\' argument missing from POST"}', 'POST /work-pools');
    expect(err.type).toBe('AuthenticationError');
    expect(err.message).toBe(
      "Jupyter refused POST /work-pools (403: '_xsrf' argument missing from POST). Log in to Jupyter again (reload the page)."
    );
  });

  it('points at the log for a server failure', () => {
    const err = errorFromAnswer(500, 'Internal Server Error', 'Traceback...', 'GET /flow-runs');
    expect(err.type).toBe('ServerError');
    expect(err.message).toBe(
      'The server answered 500 Internal Server Error to GET /flow-runs: Traceback.... Its log (the terminal running jupyter lab) says more.'
    );
  });
});
