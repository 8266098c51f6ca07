/**
 * The forms the panel's dialogs show: "Deploy this notebook…", "Run…" a deployment, and
 * "New pool…". Each checks what it can before asking the server, and shows the server's
 * refusal in the form (beside the parameter it is about, when it is about one), so
 * nothing is lost: the dialog stays open until the server says yes.
 */

import { NborchApiError } from './api';
import type { NborchApi } from './api';
import { CronPreviewer, renderCronPreview } from './cron';
import type {
  AppliedDeployment,
  Deployment,
  DeployNotebookRequest,
  FlowRun,
  JsonObject,
  NotebookParameters,
  WorkPool
} from './models';
import { ParameterForm, parseJsonObject } from './parameters';
import { element, fullName } from './views';

let fieldIds = 0;

function field(
  label: string,
  input: HTMLElement,
  hint = '',
  className = ''
): HTMLElement {
  const row = element('div', `nborch-field ${className}`.trim());
  const id = input.id || `nborch-field-${++fieldIds}`;
  input.id = id;
  const caption = element('label', '', label);
  caption.htmlFor = id;
  row.append(caption, input);
  if (hint) {
    row.appendChild(element('div', 'nborch-muted nborch-help', hint));
  }
  return row;
}

function textInput(name: string, value = '', placeholder = ''): HTMLInputElement {
  const input = element('input');
  input.type = 'text';
  input.name = name;
  input.value = value;
  input.placeholder = placeholder;
  return input;
}

function textArea(name: string, placeholder = ''): HTMLTextAreaElement {
  const input = element('textarea');
  input.name = name;
  input.rows = 2;
  input.placeholder = placeholder;
  return input;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The browser's time zone (an IANA name), or UTC when it cannot tell. */
export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** Parts every form has: its node, an error line, and a way to show a refusal. */
abstract class Form<T> {
  readonly node: HTMLElement;
  protected readonly error: HTMLElement;

  constructor(className: string) {
    this.node = element('div', `nborch-form ${className}`);
    this.error = element('div', 'nborch-dialog-error nborch-error');
    this.error.setAttribute('role', 'alert');
  }

  protected showError(text: string): void {
    this.error.textContent = text;
    if (text && typeof this.error.scrollIntoView === 'function') {
      this.error.scrollIntoView({ block: 'nearest' });
    }
  }

  /** Ask the server; null (with the reason shown) when it refuses or cannot be reached. */
  async submit(): Promise<T | null> {
    this.showError('');
    try {
      return await this.send();
    } catch (err) {
      this.showRefusal(err);
      return null;
    }
  }

  protected showRefusal(err: unknown): void {
    this.showError(message(err));
  }

  protected abstract send(): Promise<T | null>;

  dispose(): void {
    // Nothing to release by default.
  }
}

// ---- Deploy this notebook… -----------------------------------------------------------------

export interface DeployFormOptions {
  notebook: NotebookParameters;
  pools: readonly WorkPool[];
  timezone?: string;
  /** ms between the last key typed in the schedule and asking for its times. */
  previewDelay?: number;
}

export class DeployForm extends Form<AppliedDeployment> {
  readonly flowName: HTMLInputElement;
  readonly name: HTMLInputElement;
  readonly pool: HTMLSelectElement;
  readonly cron: HTMLInputElement;
  readonly timezone: HTMLInputElement;
  readonly preview: HTMLElement;
  readonly parameters: ParameterForm;
  readonly jobVariables: HTMLTextAreaElement;
  readonly image: HTMLInputElement;
  readonly buildImage: HTMLInputElement;
  readonly description: HTMLInputElement;
  private readonly previewer: CronPreviewer;

  constructor(
    private readonly api: NborchApi,
    private readonly options: DeployFormOptions
  ) {
    super('nborch-deploy-form');
    const { notebook, pools } = options;
    const where = element('div', 'nborch-deploy-notebook');
    where.append('Notebook ', element('code', '', notebook.path));

    this.flowName = textInput('flow_name', notebook.flow_name);
    this.name = textInput('name', '', 'e.g. daily');
    this.pool = element('select');
    this.pool.name = 'pool_name';
    for (const pool of pools) {
      const option = element('option', '', `${pool.name} (${pool.type}, ${pool.status})`);
      option.value = pool.name;
      this.pool.appendChild(option);
    }
    this.cron = textInput('cron', '', 'e.g. 0 1 * * *  (empty: no schedule)');
    this.timezone = textInput('timezone', options.timezone ?? browserTimeZone());
    this.preview = element('div', 'nborch-cron-preview nborch-muted');
    this.previewer = new CronPreviewer(
      (cron, timezone) => this.api.cronPreview(cron, timezone, 5),
      state => renderCronPreview(this.preview, state),
      options.previewDelay
    );
    const updatePreview = (): void => this.previewer.update(this.cron.value, this.timezone.value);
    this.cron.addEventListener('input', updatePreview);
    this.timezone.addEventListener('input', updatePreview);
    updatePreview();

    this.parameters = new ParameterForm(notebook.parameters);
    this.jobVariables = textArea('job_variables', '{"env": {"STAGE": "dev"}}');
    this.image = textInput('image', '', 'docker pools: e.g. me/report:1');
    this.buildImage = element('input');
    this.buildImage.type = 'checkbox';
    this.buildImage.name = 'build_image';
    this.description = textInput('description');

    const schedule = element('div', 'nborch-field-group');
    schedule.append(
      field('Schedule (cron)', this.cron, '', 'nborch-cron-field'),
      field('Time zone', this.timezone),
      this.preview
    );
    const parameters = element('fieldset', 'nborch-parameters-fieldset');
    parameters.append(element('legend', '', 'Parameters (the deployment\'s defaults)'), this.parameters.node);
    const build = element('label', 'nborch-checkbox');
    build.append(this.buildImage, ' build it from the notebook\'s folder (needs Docker)');

    const left = element('div', 'nborch-form-column');
    left.append(
      where,
      field('Flow', this.flowName, 'The flow\'s name: from the notebook\'s file name.'),
      field('Deployment name', this.name),
      field(
        'Work pool',
        this.pool,
        pools.length ? '' : 'No work pool yet: create one in the Orchestration panel first.'
      ),
      schedule
    );
    const right = element('div', 'nborch-form-column');
    right.append(
      parameters,
      field('Job variables (JSON)', this.jobVariables, 'Checked against the pool\'s base job template.'),
      field('Image', this.image),
      build,
      field('Description', this.description)
    );
    this.node.append(left, right, this.error);
  }

  /** The request the form stands for, or the first thing wrong with it (shown). */
  request(): DeployNotebookRequest | null {
    const read = this.parameters.read();
    const wrong: string[] = [];
    if (!this.name.value.trim()) {
      wrong.push('Name the deployment (e.g. daily).');
    }
    if (!this.pool.value) {
      wrong.push('Choose a work pool (create one in the Orchestration panel first).');
    }
    if (Object.keys(read.errors).length) {
      wrong.push('Fix the parameters marked above.');
    }
    const jobVariables = parseJsonObject(this.jobVariables.value, 'Job variables');
    if (!jobVariables.ok) {
      wrong.push(jobVariables.message);
    }
    if (wrong.length || !jobVariables.ok) {
      this.showError(wrong.join(' '));
      return null;
    }
    const request: DeployNotebookRequest = {
      path: this.options.notebook.path,
      name: this.name.value.trim(),
      pool_name: this.pool.value,
      timezone: this.timezone.value.trim() || 'UTC',
      parameters: read.values,
      job_variables: jobVariables.value as JsonObject
    };
    const flowName = this.flowName.value.trim();
    if (flowName && flowName !== this.options.notebook.flow_name) {
      request.flow_name = flowName;
    }
    if (this.cron.value.trim()) {
      request.cron = this.cron.value.trim();
    }
    if (this.image.value.trim()) {
      request.image = this.image.value.trim();
      request.build_image = this.buildImage.checked;
    }
    if (this.description.value.trim()) {
      request.description = this.description.value.trim();
    }
    return request;
  }

  protected async send(): Promise<AppliedDeployment | null> {
    const request = this.request();
    return request ? this.api.deployNotebook(request) : null;
  }

  protected override showRefusal(err: unknown): void {
    super.showRefusal(err);
    if (err instanceof NborchApiError && err.parameter && this.parameters.has(err.parameter)) {
      this.parameters.showErrors({ [err.parameter]: err.message });
    }
  }

  override dispose(): void {
    this.previewer.dispose();
  }
}

// ---- Run… a deployment ---------------------------------------------------------------------

export class RunForm extends Form<FlowRun> {
  readonly parameters: ParameterForm;
  readonly jobVariables: HTMLTextAreaElement;

  constructor(
    private readonly api: NborchApi,
    readonly deployment: Deployment
  ) {
    super('nborch-run-form');
    this.parameters = new ParameterForm(deployment.parameter_specs, deployment.parameters);
    const fallback = Object.keys(deployment.job_variables).length
      ? `the deployment's: ${JSON.stringify(deployment.job_variables)}`
      : '{"env": {"STAGE": "test"}}';
    this.jobVariables = textArea('job_variables', fallback);
    const parameters = element('fieldset', 'nborch-parameters-fieldset');
    parameters.append(element('legend', '', 'Parameters'), this.parameters.node);
    this.node.append(
      element('div', 'nborch-muted', `On work pool ${deployment.pool_name ?? '–'}.`),
      parameters,
      field('Job variables for this run (JSON)', this.jobVariables),
      this.error
    );
  }

  protected async send(): Promise<FlowRun | null> {
    const read = this.parameters.read();
    const jobVariables = parseJsonObject(this.jobVariables.value, 'Job variables');
    if (Object.keys(read.errors).length) {
      this.showError('Fix the parameters marked above.');
      return null;
    }
    if (!jobVariables.ok) {
      this.showError(jobVariables.message);
      return null;
    }
    const variables = jobVariables.value as JsonObject;
    return this.api.createRun({
      deployment: fullName(this.deployment),
      parameters: read.values,
      ...(Object.keys(variables).length ? { job_variables: variables } : {})
    });
  }

  protected override showRefusal(err: unknown): void {
    super.showRefusal(err);
    if (err instanceof NborchApiError && err.parameter && this.parameters.has(err.parameter)) {
      this.parameters.showErrors({ [err.parameter]: err.message });
    }
  }
}

// ---- New pool… -----------------------------------------------------------------------------

export const POOL_TYPES = ['process', 'docker'] as const;

export class PoolForm extends Form<WorkPool> {
  readonly name: HTMLInputElement;
  readonly type: HTMLSelectElement;
  readonly limit: HTMLInputElement;
  readonly description: HTMLInputElement;

  constructor(private readonly api: NborchApi) {
    super('nborch-pool-form');
    this.name = textInput('name', '', 'e.g. my-pool');
    this.type = element('select');
    this.type.name = 'type';
    for (const type of POOL_TYPES) {
      const option = element('option', '', type);
      option.value = type;
      this.type.appendChild(option);
    }
    this.limit = textInput('concurrency_limit', '', 'no limit');
    this.limit.inputMode = 'numeric';
    this.description = textInput('description');
    this.node.append(
      field('Name', this.name),
      field(
        'Type',
        this.type,
        'process: a subprocess per run; docker: a container per run (needs Docker).'
      ),
      field('Concurrency limit', this.limit, 'Most runs at once (empty: no limit).'),
      field('Description', this.description),
      this.error
    );
  }

  protected async send(): Promise<WorkPool | null> {
    const name = this.name.value.trim();
    const limit = this.limit.value.trim();
    if (!name) {
      this.showError('Name the pool (e.g. my-pool).');
      return null;
    }
    if (limit && !/^\d+$/.test(limit)) {
      this.showError(`Concurrency limit must be a whole number >= 0, got ${JSON.stringify(limit)}.`);
      return null;
    }
    return this.api.createPool({
      name,
      // the select offers POOL_TYPES only
      type: POOL_TYPES.find((type) => type === this.type.value) ?? 'process',
      ...(limit ? { concurrency_limit: Number(limit) } : {}),
      ...(this.description.value.trim() ? { description: this.description.value.trim() } : {})
    });
  }
}
