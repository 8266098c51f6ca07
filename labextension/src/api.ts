/**
 * nborch's HTTP API as the panel uses it: one method per operation, typed answers, and
 * one kind of error (`NborchApiError`) whose message is fit to show a person.
 *
 * The transport is given (`Send`): inside JupyterLab it is `ServerConnection.makeRequest`
 * (Jupyter's token and XSRF cookie), in the unit tests a fake.
 */

import type {
  AppliedDeployment,
  CreatePoolRequest,
  CreateRunRequest,
  CronPreview,
  DeployNotebookRequest,
  Deployment,
  FlowRun,
  LogLine,
  NotebookJson,
  NotebookParameters,
  RunState,
  Worker,
  WorkPool
} from './models';

/** Sends a request to a full URL; rejects only when the server cannot be reached. */
export type Send = (url: string, init: RequestInit) => Promise<Response>;

/** The header by which nborch's server answers a copy of a POST instead of doing it twice. */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/** The pauses (ms) before sending a POST again after its answer was lost: 3 attempts in all. */
export const RETRY_DELAYS_MS: readonly number[] = [300, 1000];

/** An answer the server refused, or no answer at all (`status` 0). */
export class NborchApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    /** The flow parameter the error is about, when it is about one. */
    readonly parameter?: string
  ) {
    super(message);
    this.name = 'NborchApiError';
  }
}

type QueryValue = string | number | boolean | undefined | null | readonly string[];

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  body?: unknown;
  /** `text`: the answer as it is (e.g. HTML), whatever its Content-Type says. */
  answer?: 'json' | 'text';
}

/** `a=1&b=x%2Fy`; lists repeat their name (`states=A&states=B`), absent values are left out. */
export function queryString(query: Record<string, QueryValue>): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null) {
      continue;
    }
    const values = Array.isArray(value) ? (value as readonly string[]) : [String(value)];
    for (const item of values) {
      parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(item)}`);
    }
  }
  return parts.join('&');
}

/** A path segment: `hello/daily` becomes `hello%2Fdaily`, as the API's paths want it. */
export function segment(value: string): string {
  return encodeURIComponent(value);
}

function describeRequest(method: string, path: string): string {
  return `${method} ${path.split('?')[0] ?? path}`;
}

/**
 * A new random key (a UUID). `crypto.randomUUID` exists in secure contexts only (https or
 * localhost): a Jupyter served over plain http on another host has `getRandomValues` alone.
 */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === 'function') {
    return crypto.randomUUID();
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40; // version 4
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 4122 variant
  const hex = Array.from(bytes, byte => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The error an answer stands for. nborch's own refusals carry
 * `{"error": {"type", "message", "parameter"?}}`; anything else (Jupyter's login page, a
 * proxy's error) is described by its status, with the likely fix.
 */
export function errorFromAnswer(
  status: number,
  statusText: string,
  bodyText: string,
  request: string
): NborchApiError {
  let body: unknown = undefined;
  try {
    body = JSON.parse(bodyText) as unknown;
  } catch {
    body = undefined;
  }
  if (isRecord(body) && isRecord(body.error) && typeof body.error.message === 'string') {
    const { type, message, parameter } = body.error;
    return new NborchApiError(
      status,
      typeof type === 'string' ? type : 'Error',
      message,
      typeof parameter === 'string' ? parameter : undefined
    );
  }
  if (status === 404) {
    return new NborchApiError(
      status,
      'NotFound',
      `This Jupyter server does not serve nborch's API (404 for ${request}). Install nborch ` +
        'in the environment Jupyter runs in and restart it; `jupyter server extension list` ' +
        'should show nborch.api.jupyter_extension enabled.'
    );
  }
  if (status === 401 || status === 403) {
    const said = isRecord(body) && typeof body.message === 'string' ? `: ${body.message}` : '';
    return new NborchApiError(
      status,
      'AuthenticationError',
      `Jupyter refused ${request} (${status}${said}). Log in to Jupyter again (reload the page).`
    );
  }
  const said = isRecord(body) && typeof body.message === 'string' ? body.message : bodyText;
  const detail = said.trim() ? `: ${said.trim().slice(0, 300)}` : '';
  return new NborchApiError(
    status,
    status >= 500 ? 'ServerError' : 'Error',
    `The server answered ${status} ${statusText} to ${request}${detail}` +
      (status >= 500 ? '. Its log (the terminal running jupyter lab) says more.' : '')
  );
}

export class NborchApi {
  /**
   * `baseUrl` ends in `/nborch/api/v1` (under Jupyter's base URL); `retryDelays` are the
   * pauses before each new attempt of a POST whose answer was lost.
   */
  constructor(
    readonly baseUrl: string,
    private readonly send: Send,
    private readonly retryDelays: readonly number[] = RETRY_DELAYS_MS
  ) {}

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const query = options.query ? queryString(options.query) : '';
    const url = this.baseUrl.replace(/\/+$/, '') + path + (query ? `?${query}` : '');
    const headers: Record<string, string> = {};
    const init: RequestInit = { method, headers };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      headers['Content-Type'] = 'application/json';
    }
    // A POST may do what must not be done twice (create a run). When its answer is lost (the
    // connection dropped after the server did the work), it is sent again with the same key,
    // and the server answers the copy with the first one's answer instead of doing it again.
    // GET, PATCH and DELETE get no key (the server's routes for them ignore it) and are sent
    // once: the panel's next refresh or click repeats them harmlessly.
    const once = method === 'POST';
    if (once) {
      headers[IDEMPOTENCY_HEADER] = newIdempotencyKey();
    }
    const delays = once ? this.retryDelays : [];
    const request = describeRequest(method, path);
    let answer: Response | undefined;
    for (let attempt = 0; answer === undefined; attempt++) {
      try {
        answer = await this.send(url, init);
      } catch (err) {
        const delay = delays[attempt];
        if (delay === undefined) {
          const reason = err instanceof Error ? err.message : String(err);
          const tries = attempt > 0 ? `, ${attempt + 1} attempts` : '';
          throw new NborchApiError(
            0,
            'NetworkError',
            `Cannot reach the Jupyter server for ${request} (${reason}${tries}). Is it still running?`
          );
        }
        await new Promise(resolve => setTimeout(resolve, delay));
      }
    }
    const text = await answer.text();
    if (!answer.ok) {
      throw errorFromAnswer(answer.status, answer.statusText, text, request);
    }
    if (answer.status === 204 || !text) {
      return undefined as T;
    }
    const type = answer.headers.get('Content-Type') ?? '';
    if (options.answer === 'text' || !type.includes('json')) {
      return text as T;
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new NborchApiError(
        answer.status,
        'ServerError',
        `The answer to ${request} is not valid JSON: ${text.slice(0, 200)}`
      );
    }
  }

  // ---- work pools and workers ------------------------------------------------------------

  listPools(): Promise<WorkPool[]> {
    return this.request('GET', '/work-pools');
  }

  createPool(pool: CreatePoolRequest): Promise<WorkPool> {
    return this.request('POST', '/work-pools', { body: pool });
  }

  setPoolPaused(name: string, paused: boolean): Promise<WorkPool> {
    return this.request('PATCH', `/work-pools/${segment(name)}`, { body: { paused } });
  }

  listWorkers(): Promise<Worker[]> {
    return this.request('GET', '/workers');
  }

  // ---- deployments ------------------------------------------------------------------------

  listDeployments(): Promise<Deployment[]> {
    return this.request('GET', '/deployments');
  }

  getDeployment(fullName: string): Promise<Deployment> {
    return this.request('GET', `/deployments/${segment(fullName)}`);
  }

  notebookParameters(path: string): Promise<NotebookParameters> {
    return this.request('GET', '/notebook-parameters', { query: { path } });
  }

  cronPreview(cron: string, timezone: string, count = 5): Promise<CronPreview> {
    return this.request('GET', '/cron-preview', { query: { cron, timezone, count } });
  }

  deployNotebook(request: DeployNotebookRequest): Promise<AppliedDeployment> {
    return this.request('POST', '/deploy-notebook', { body: request });
  }

  // ---- flow runs --------------------------------------------------------------------------

  listRuns(
    filters: { deployment?: string; states?: RunState[]; limit?: number } = {}
  ): Promise<FlowRun[]> {
    return this.request('GET', '/flow-runs', {
      query: { deployment: filters.deployment, states: filters.states, limit: filters.limit }
    });
  }

  getRun(id: string): Promise<FlowRun> {
    return this.request('GET', `/flow-runs/${segment(id)}`);
  }

  createRun(run: CreateRunRequest): Promise<FlowRun> {
    return this.request('POST', '/flow-runs', { body: run });
  }

  cancelRun(id: string): Promise<FlowRun> {
    return this.request('POST', `/flow-runs/${segment(id)}/cancel`);
  }

  readLogs(id: string, after = 0): Promise<LogLine[]> {
    return this.request('GET', `/flow-runs/${segment(id)}/logs`, { query: { after } });
  }

  /** The output notebook as it stands (papermill saves it after each cell), or null. */
  outputNotebook(id: string): Promise<NotebookJson | null> {
    return this.request('GET', `/flow-runs/${segment(id)}/output-notebook`);
  }

  outputHtml(id: string): Promise<string> {
    return this.request('GET', `/flow-runs/${segment(id)}/output.html`, { answer: 'text' });
  }
}
