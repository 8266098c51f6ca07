import { CronPreviewer, renderCronPreview } from '../src/cron';
import type { PreviewState } from '../src/cron';
import type { CronPreview } from '../src/models';
import { settle } from './fakes';

const PARIS: CronPreview = {
  cron: '0 1 * * *',
  timezone: 'Europe/Paris',
  times: ['2024-12-02T00:00:00Z', '2024-12-03T00:00:00Z']
};

describe('renderCronPreview', () => {
  it("lists the times in the schedule's time zone, with how far off they are", () => {
    const node = document.createElement('div');
    renderCronPreview(node, { kind: 'times', preview: PARIS }, new Date('2024-12-01T23:00:00Z'));
    expect(node.dataset.state).toBe('times');
    expect(node.querySelector('.nborch-muted')?.textContent).toBe('Next 2 runs (Europe/Paris):');
    expect([...node.querySelectorAll('li')].map(li => li.textContent)).toEqual([
      'Mon, 2 Dec 2024, 01:00 (in 1 h)',
      'Tue, 3 Dec 2024, 01:00 (in 1 d)'
    ]);
  });

  it("shows the server's refusal, and says what no schedule means", () => {
    const node = document.createElement('div');
    renderCronPreview(node, { kind: 'error', message: "'61 * * * *': minute must be 0-59." });
    expect(node.querySelector('.nborch-error')?.textContent).toBe("'61 * * * *': minute must be 0-59.");
    renderCronPreview(node, { kind: 'empty' });
    expect(node.textContent).toBe('No schedule: runs start only when asked for.');
    expect(node.querySelector('.nborch-error')).toBeNull();
  });
});

describe('CronPreviewer', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('asks once the typing stops, and shows only the newest answer', async () => {
    const answers: ((preview: CronPreview) => void)[] = [];
    const asked: string[] = [];
    const shown: PreviewState[] = [];
    const previewer = new CronPreviewer(
      cron => {
        asked.push(cron);
        return new Promise(resolve => answers.push(resolve));
      },
      state => shown.push(state),
      300
    );
    previewer.update('0', 'UTC');
    previewer.update('0 1', 'UTC');
    jest.advanceTimersByTime(299);
    expect(asked).toEqual([]);
    previewer.update('0 1 * * *', 'UTC');
    jest.advanceTimersByTime(300);
    expect(asked).toEqual(['0 1 * * *']);
    previewer.update('0 2 * * *', 'UTC');
    jest.advanceTimersByTime(300);
    expect(asked).toEqual(['0 1 * * *', '0 2 * * *']);
    // The older answer comes last: it is dropped.
    answers[1]?.({ ...PARIS, cron: '0 2 * * *' });
    answers[0]?.(PARIS);
    await settle();
    const times = shown.filter(s => s.kind === 'times');
    expect(times).toHaveLength(1);
    expect(times[0]?.kind === 'times' && times[0].preview.cron).toBe('0 2 * * *');
    expect(shown.at(-1)?.kind).toBe('times');
  });

  it('shows an error from the server, and nothing to ask for an empty expression', async () => {
    const shown: PreviewState[] = [];
    const fetch = jest.fn(() => Promise.reject(new Error('Unknown time zone \'Mars\'.')));
    const previewer = new CronPreviewer(fetch, state => shown.push(state), 10);
    previewer.update('   ', 'UTC');
    expect(shown).toEqual([{ kind: 'empty' }]);
    previewer.update('0 1 * * *', 'Mars');
    jest.advanceTimersByTime(10);
    await settle();
    expect(fetch).toHaveBeenCalledWith('0 1 * * *', 'Mars');
    expect(shown.at(-1)).toEqual({ kind: 'error', message: "Unknown time zone 'Mars'." });
  });

  it('asks nothing more once disposed', () => {
    const fetch = jest.fn(() => Promise.resolve(PARIS));
    const previewer = new CronPreviewer(fetch, () => undefined, 10);
    previewer.update('0 1 * * *', 'UTC');
    previewer.dispose();
    jest.advanceTimersByTime(100);
    expect(fetch).not.toHaveBeenCalled();
  });
});
