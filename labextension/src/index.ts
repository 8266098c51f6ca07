/**
 * nborch in JupyterLab: the "Orchestration" panel in the left sidebar, and "Deploy this
 * notebook…" in the notebook toolbar, the file browser's context menu and the command
 * palette. Everything goes through nborch's API, which nborch's Jupyter server extension
 * serves under Jupyter's base URL behind Jupyter's own login.
 */

import { ILayoutRestorer } from '@jupyterlab/application';
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  Notification,
  ToolbarButton,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import type { IDefaultFileBrowser as FileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import type { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import type { MainAreaWidget } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { LabIcon } from '@jupyterlab/ui-components';
import type { IDisposable } from '@lumino/disposable';

import { NborchApi } from './api';
import { showDeployDialog, showPoolDialog, showRunDialog } from './dialogs';
import type { FlowRun } from './models';
import { createOutputTab } from './output';
import type { OutputView } from './output';
import { OrchestrationPanel } from './panel';
import type { PanelHost } from './panel';
import { fullName } from './views';

const PLUGIN_ID = 'nborch-labextension:plugin';

export const CommandIDs = {
  deploy: 'nborch:deploy-notebook',
  openPanel: 'nborch:open-panel'
} as const;

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <circle cx="5" cy="6" r="2.5"/><circle cx="5" cy="18" r="2.5"/><circle cx="19" cy="12" r="2.5"/>
    <path d="M7.3 6.9l9.4 4.2-.6 1.4-9.4-4.2zM6.7 17.1l9.4-4.2.6 1.4-9.4 4.2z"/>
  </g>
</svg>`;

export const orchestrationIcon = new LabIcon({ name: 'nborch:orchestration', svgstr: ICON_SVG });

/** The API of the Jupyter server this JupyterLab talks to (its token and XSRF included).
 * `no-cache` rather than JupyterLab's default `no-store`, which adds a cache-busting query
 * parameter that nborch's API refuses as unknown. */
export function jupyterApi(settings = ServerConnection.makeSettings()): NborchApi {
  return new NborchApi(URLExt.join(settings.baseUrl, 'nborch', 'api', 'v1'), (url, init) =>
    ServerConnection.makeRequest(url, { cache: 'no-cache', ...init }, settings)
  );
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function host(app: JupyterFrontEnd, api: NborchApi): PanelHost {
  const outputs = new Map<string, MainAreaWidget<OutputView>>();
  return {
    async newPool() {
      const pool = await showPoolDialog(api);
      if (pool) {
        Notification.success(`Created work pool '${pool.name}' (${pool.type}).`, {
          autoClose: 4000
        });
      }
      return pool !== null;
    },
    async runDeployment(deployment) {
      const run = await showRunDialog(api, deployment);
      if (run) {
        Notification.success(`Created flow run '${run.name}' of ${fullName(deployment)}.`, {
          autoClose: 4000
        });
      }
      return run;
    },
    openOutput(run: FlowRun) {
      const open = outputs.get(run.id);
      if (open && !open.isDisposed) {
        void open.content.load();
        app.shell.activateById(open.id);
        return;
      }
      const tab = createOutputTab(api, run);
      outputs.set(run.id, tab);
      tab.disposed.connect(() => outputs.delete(run.id));
      app.shell.add(tab, 'main');
      app.shell.activateById(tab.id);
    },
    async confirmCancel(run: FlowRun) {
      const answer = await showDialog({
        title: 'Cancel flow run',
        body: `Cancel flow run '${run.name}' (${run.state})? A running notebook is stopped.`,
        buttons: [Dialog.cancelButton({ label: 'Keep it' }), Dialog.warnButton({ label: 'Cancel run' })]
      });
      return answer.button.accept;
    },
    showError(title: string, err: unknown) {
      void showErrorMessage(title, errorText(err));
    }
  };
}

/** The notebook "Deploy this notebook…" is about: named, selected in the file browser, or
 * the current one. */
function notebookPath(
  args: Record<string, unknown>,
  tracker: INotebookTracker | null,
  browser: FileBrowser | null
): string | null {
  if (typeof args.path === 'string' && args.path) {
    return args.path;
  }
  if (args.from === 'browser' && browser) {
    for (const item of browser.selectedItems()) {
      if (item.type === 'notebook') {
        return item.path;
      }
    }
    return null;
  }
  return tracker?.currentWidget?.context.path ?? null;
}

/** Save the notebook first when it is open with unsaved changes: the server reads the file. */
async function saveIfOpen(tracker: INotebookTracker | null, path: string): Promise<void> {
  const open = tracker?.find(panel => panel.context.path === path);
  if (open?.context.model.dirty) {
    await open.context.save();
  }
}

class DeployButtonExtension
  implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel>
{
  constructor(private readonly app: JupyterFrontEnd) {}

  createNew(panel: NotebookPanel): IDisposable {
    const button = new ToolbarButton({
      className: 'nborch-deploy-button',
      icon: orchestrationIcon,
      label: 'Deploy…',
      tooltip: 'Deploy this notebook…',
      onClick: () => {
        void this.app.commands.execute(CommandIDs.deploy, { path: panel.context.path });
      }
    });
    panel.toolbar.insertItem(10, 'nborchDeploy', button);
    return button;
  }
}

function activate(
  app: JupyterFrontEnd,
  palette: ICommandPalette | null,
  tracker: INotebookTracker | null,
  browser: FileBrowser | null,
  restorer: ILayoutRestorer | null
): void {
  const api = jupyterApi();
  const panel = new OrchestrationPanel(api, host(app, api));
  panel.title.icon = orchestrationIcon;
  app.shell.add(panel, 'left', { rank: 600 });
  if (restorer) {
    restorer.add(panel, 'nborch-orchestration');
  }

  app.commands.addCommand(CommandIDs.openPanel, {
    label: 'Show the Orchestration panel',
    caption: 'Work pools, workers, deployments and runs of nborch',
    execute: () => app.shell.activateById(panel.id)
  });

  app.commands.addCommand(CommandIDs.deploy, {
    label: 'Deploy this notebook…',
    caption: 'Deploy the notebook to a work pool, with a schedule and parameters',
    icon: orchestrationIcon,
    isEnabled: args => notebookPath(args, tracker, browser) !== null,
    execute: async args => {
      const path = notebookPath(args, tracker, browser);
      if (!path) {
        await showErrorMessage(
          'Deploy this notebook',
          'Open a notebook first (or choose one in the file browser).'
        );
        return;
      }
      try {
        await saveIfOpen(tracker, path);
        const applied = await showDeployDialog(api, path);
        if (applied) {
          const name = fullName(applied.deployment);
          Notification.success(
            `${applied.created ? 'Deployed' : 'Updated'} ${name} on work pool ` +
              `'${applied.deployment.pool_name ?? ''}'. Run it from the Orchestration panel.`,
            { autoClose: 5000 }
          );
          app.shell.activateById(panel.id);
          await panel.refresh();
        }
      } catch (err) {
        await showErrorMessage(`Cannot deploy ${path}`, errorText(err));
      }
    }
  });

  if (palette) {
    palette.addItem({ command: CommandIDs.deploy, category: 'Orchestration' });
    palette.addItem({ command: CommandIDs.openPanel, category: 'Orchestration' });
  }
  app.contextMenu.addItem({
    command: CommandIDs.deploy,
    selector: '.jp-DirListing-item[data-file-type="notebook"]',
    args: { from: 'browser' },
    rank: 20
  });
  app.docRegistry.addWidgetExtension('Notebook', new DeployButtonExtension(app));
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'The Orchestration panel of nborch, and "Deploy this notebook…".',
  autoStart: true,
  optional: [ICommandPalette, INotebookTracker, IDefaultFileBrowser, ILayoutRestorer],
  activate
};

export default plugin;
