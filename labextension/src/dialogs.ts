/**
 * JupyterLab dialogs around the forms: the accept button asks the server, and the dialog
 * closes only once it said yes; a refusal stays in the dialog for the user to fix.
 */

import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import type { NborchApi } from './api';
import { DeployForm, PoolForm, RunForm } from './forms';
import type { AppliedDeployment, Deployment, FlowRun, WorkPool } from './models';
import { fullName } from './views';

interface Submittable<T> {
  readonly node: HTMLElement;
  submit(): Promise<T | null>;
  dispose(): void;
}

/** A dialog whose accept button submits its form first. */
class SubmitDialog<T> extends Dialog<T | null> {
  private result: T | null = null;
  private submitting = false;

  constructor(
    private readonly form: Submittable<T>,
    title: string,
    private readonly acceptLabel: string,
    private readonly busyLabel: string
  ) {
    const body = new Widget({ node: form.node });
    super({
      title,
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: acceptLabel })],
      // The deployment's or pool's name, else the first parameter.
      focusNodeSelector: 'input[name="name"], .nborch-parameter input, textarea'
    });
    this.addClass('nborch-dialog');
  }

  get value(): T | null {
    return this.result;
  }

  /** Show the accept button busy (disabled, "Deploying…") or ready again. */
  private busy(busy: boolean): void {
    const accept = this.node.querySelector<HTMLButtonElement>('.jp-Dialog-footer .jp-mod-accept');
    if (!accept) {
      return;
    }
    accept.disabled = busy;
    const label = accept.querySelector('.jp-Dialog-buttonLabel') ?? accept;
    label.textContent = busy ? this.busyLabel : this.acceptLabel;
  }

  /** Buttons are [cancel, accept]: accepting (a click, or Enter) submits the form first. */
  override resolve(index?: number): void {
    const accepting = (index ?? 1) === 1;
    if (!accepting) {
      super.resolve(index);
      return;
    }
    if (this.submitting) {
      return;
    }
    this.submitting = true;
    this.busy(true);
    void this.form.submit().then(result => {
      this.submitting = false;
      this.busy(false);
      if (result !== null) {
        this.result = result;
        super.resolve(index);
      }
    });
  }

  override dispose(): void {
    this.form.dispose();
    super.dispose();
  }
}

async function launch<T>(dialog: SubmitDialog<T>): Promise<T | null> {
  const answer = await dialog.launch();
  const value = answer.button.accept ? dialog.value : null;
  dialog.dispose();
  return value;
}

/** "Deploy this notebook…": the notebook's parameters and the pools are read first. */
export async function showDeployDialog(
  api: NborchApi,
  path: string
): Promise<AppliedDeployment | null> {
  const [notebook, pools] = await Promise.all([api.notebookParameters(path), api.listPools()]);
  const form = new DeployForm(api, { notebook, pools });
  return launch(new SubmitDialog(form, `Deploy ${path}`, 'Deploy', 'Deploying…'));
}

export function showRunDialog(api: NborchApi, deployment: Deployment): Promise<FlowRun | null> {
  const form = new RunForm(api, deployment);
  return launch(new SubmitDialog(form, `Run ${fullName(deployment)}`, 'Create run', 'Creating…'));
}

export function showPoolDialog(api: NborchApi): Promise<WorkPool | null> {
  return launch(new SubmitDialog(new PoolForm(api), 'New work pool', 'Create', 'Creating…'));
}
