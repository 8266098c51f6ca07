/**
 * A run's output notebook in a tab of its own: the executed notebook as HTML (rendered by
 * the server, shown in a sandboxed frame: its scripts get no access to Jupyter), with
 * buttons to read it again and to download the .ipynb.
 */

import { MainAreaWidget, ToolbarButton } from '@jupyterlab/apputils';
import { downloadIcon, refreshIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import type { NborchApi } from './api';
import type { FlowRun } from './models';

export class OutputView extends Widget {
  private readonly frame: HTMLIFrameElement;
  private readonly message: HTMLElement;

  constructor(
    private readonly api: NborchApi,
    readonly run: FlowRun
  ) {
    super();
    this.addClass('nborch-output-view');
    this.message = document.createElement('div');
    this.message.className = 'nborch-output-message';
    this.frame = document.createElement('iframe');
    this.frame.className = 'nborch-output-frame';
    this.frame.setAttribute('sandbox', 'allow-scripts allow-popups');
    this.frame.title = `Output notebook of flow run ${run.name}`;
    this.node.append(this.message, this.frame);
  }

  async load(): Promise<void> {
    this.message.textContent = 'Reading the output notebook…';
    try {
      this.frame.srcdoc = await this.api.outputHtml(this.run.id);
      this.message.textContent = '';
    } catch (err) {
      this.message.textContent = err instanceof Error ? err.message : String(err);
    }
  }

  async download(): Promise<void> {
    const notebook = await this.api.outputNotebook(this.run.id);
    if (!notebook) {
      this.message.textContent = `Flow run '${this.run.name}' has no output notebook yet.`;
      return;
    }
    const blob = new Blob([JSON.stringify(notebook, null, 1)], { type: 'application/json' });
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = `${this.run.name}.ipynb`;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }
}

export function createOutputTab(api: NborchApi, run: FlowRun): MainAreaWidget<OutputView> {
  const content = new OutputView(api, run);
  const tab = new MainAreaWidget({ content });
  tab.id = `nborch-output-${run.id}`;
  tab.title.label = `${run.name} (output)`;
  tab.title.caption = `Output notebook of flow run ${run.name} (${run.deployment_name ?? run.flow_name})`;
  tab.title.closable = true;
  tab.addClass('nborch-output-tab');
  tab.toolbar.addItem(
    'refresh',
    new ToolbarButton({
      icon: refreshIcon,
      tooltip: 'Read the output notebook again',
      onClick: () => void content.load()
    })
  );
  tab.toolbar.addItem(
    'download',
    new ToolbarButton({
      icon: downloadIcon,
      label: 'Download .ipynb',
      tooltip: 'Download the executed notebook',
      onClick: () => void content.download()
    })
  );
  void content.load();
  return tab;
}
