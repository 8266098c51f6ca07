/**
 * Test doubles for the unit tests: a fake transport standing in for Jupyter's server (the
 * real one is driven by the end-to-end test, tests/e2e/test_labextension_browser.py).
 */

import { NborchApi } from '../src/api';
import type { Send } from '../src/api';

export interface SentRequest {
  url: string;
  method: string;
  body: unknown;
  headers: Record<string, string>;
}

export interface FakeAnswer {
  status?: number;
  statusText?: string;
  body?: unknown;
  /** Sent as is (not JSON-encoded). */
  text?: string;
  contentType?: string;
}

/** A stand-in for fetch's Response: only what NborchApi reads. */
export function fakeResponse(answer: FakeAnswer): Response {
  const status = answer.status ?? 200;
  const text =
    answer.text ?? (answer.body === undefined ? '' : JSON.stringify(answer.body));
  const contentType = answer.contentType ?? (answer.text === undefined ? 'application/json' : 'text/html');
  const response = {
    ok: status >= 200 && status < 300,
    status,
    statusText: answer.statusText ?? '',
    headers: { get: (name: string) => (name.toLowerCase() === 'content-type' ? contentType : null) },
    text: () => Promise.resolve(text)
  };
  return response as unknown as Response;
}

/**
 * An API over a fake server: `answer` says what each request gets (by "METHOD /path"), and
 * `sent` keeps every request made.
 */
export class FakeServer {
  readonly sent: SentRequest[] = [];
  private readonly answers = new Map<string, FakeAnswer | ((body: unknown) => FakeAnswer)>();
  private lost = 0;

  answer(route: string, answer: FakeAnswer | ((body: unknown) => FakeAnswer)): this {
    this.answers.set(route, answer);
    return this;
  }

  /**
   * The answers to the next `count` requests are lost: each request reaches the server (it
   * is kept in `sent`), but `send` rejects as fetch does when the connection drops.
   */
  loseAnswers(count: number): this {
    this.lost = count;
    return this;
  }

  readonly send: Send = (url, init) => {
    const method = init.method ?? 'GET';
    const body: unknown = typeof init.body === 'string' ? JSON.parse(init.body) : undefined;
    const headers = { ...(init.headers as Record<string, string> | undefined) };
    this.sent.push({ url, method, body, headers });
    if (this.lost > 0) {
      this.lost--;
      return Promise.reject(new TypeError('Failed to fetch'));
    }
    const path = new URL(url).pathname.replace(/^.*\/nborch\/api\/v1/, '');
    const answer = this.answers.get(`${method} ${path}`);
    if (answer === undefined) {
      return Promise.resolve(
        fakeResponse({ status: 404, body: { error: { type: 'NotFoundError', message: `no fake for ${method} ${path}` } } })
      );
    }
    return Promise.resolve(fakeResponse(typeof answer === 'function' ? answer(body) : answer));
  };

  /** No pauses between attempts unless `retryDelays` says otherwise. */
  api(retryDelays: readonly number[] = [0, 0]): NborchApi {
    return new NborchApi('http://127.0.0.1:8888/lab-base/nborch/api/v1', this.send, retryDelays);
  }
}

/** Let pending promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
}

/**
 * Resolves once `condition()` holds; rejects, saying `what`, if it still does not after
 * `ms` (a bound on failure only: it holds within a few turns of the event loop).
 */
export async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`still not true after ${ms} ms: ${what}`);
    }
    await new Promise(resolve => setTimeout(resolve, 5));
  }
}
