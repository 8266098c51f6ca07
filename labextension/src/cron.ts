/**
 * The next times of a cron expression, shown under the schedule field as it is typed:
 * asked of the server (which reads cron exactly as the scheduler does, daylight saving
 * included), a moment after the typing stops, and only the newest answer shown.
 */

import { formatDateTime, formatRelative } from './format';
import type { CronPreview } from './models';

export type PreviewState =
  | { kind: 'empty' }
  | { kind: 'loading' }
  | { kind: 'times'; preview: CronPreview }
  | { kind: 'error'; message: string };

/** Draw `state` into `node`: a list of times (in the schedule's zone, and how far off). */
export function renderCronPreview(
  node: HTMLElement,
  state: PreviewState,
  now: Date = new Date()
): void {
  node.replaceChildren();
  node.dataset.state = state.kind;
  if (state.kind === 'empty') {
    node.textContent = 'No schedule: runs start only when asked for.';
    return;
  }
  if (state.kind === 'loading') {
    node.textContent = 'Reading the schedule…';
    return;
  }
  if (state.kind === 'error') {
    const error = document.createElement('div');
    error.className = 'nborch-error';
    error.textContent = state.message;
    node.appendChild(error);
    return;
  }
  const { preview } = state;
  const title = document.createElement('div');
  title.className = 'nborch-muted';
  title.textContent = `Next ${preview.times.length} runs (${preview.timezone}):`;
  const list = document.createElement('ol');
  list.className = 'nborch-cron-times';
  for (const time of preview.times) {
    const item = document.createElement('li');
    item.dataset.time = time;
    item.textContent = `${formatDateTime(time, preview.timezone)} (${formatRelative(time, now)})`;
    list.appendChild(item);
  }
  node.append(title, list);
}

export type FetchPreview = (cron: string, timezone: string) => Promise<CronPreview>;

/**
 * Calls `fetch` `delay` ms after the last `update`, and tells `show` the state to draw;
 * an answer to an older expression than the newest is dropped.
 */
export class CronPreviewer {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private latest = 0;

  constructor(
    private readonly fetch: FetchPreview,
    private readonly show: (state: PreviewState) => void,
    private readonly delay = 300
  ) {}

  update(cron: string, timezone: string): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const ticket = ++this.latest;
    if (!cron.trim()) {
      this.show({ kind: 'empty' });
      return;
    }
    this.show({ kind: 'loading' });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.fetch(cron, timezone || 'UTC').then(
        preview => {
          if (ticket === this.latest) {
            this.show({ kind: 'times', preview });
          }
        },
        (err: unknown) => {
          if (ticket === this.latest) {
            this.show({ kind: 'error', message: err instanceof Error ? err.message : String(err) });
          }
        }
      );
    }, this.delay);
  }

  dispose(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
    }
    this.latest++;
  }
}
