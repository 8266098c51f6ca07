import { NborchApi, NborchApiError, errorFromAnswer, queryString } from '../src/api';
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
