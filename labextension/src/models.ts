/**
 * What nborch's API answers, as the panel names it: the types made from nborch's operation
 * table (`./api-types`, generated: do not edit it), under the names the panel uses, and
 * what the table cannot say (the final states, the parameter types the form knows, the
 * parts of a notebook that progress reads).
 */

import type * as api from './api-types';

export type {
  CellFailure,
  CronPreview,
  FlowRun,
  JsonObject,
  JsonValue,
  LogLine,
  PoolStatus,
  Schedule,
  Worker,
  WorkPool
} from './api-types';

export type RunState = api.StateType;

export const FINAL_STATES: ReadonlySet<RunState> = new Set<RunState>([
  'COMPLETED',
  'FAILED',
  'CRASHED',
  'CANCELLED'
]);

/** The parameter types nborch knows (`nborch.parameters.TYPE_NAMES`). */
export type ParameterType = 'str' | 'int' | 'float' | 'bool' | 'list' | 'dict' | 'any';

/** A flow parameter: its `type` is one of those the form knows. */
export interface ParameterSpec extends Omit<api.ParameterSpec, 'type'> {
  type: ParameterType;
}

export interface Deployment extends Omit<api.Deployment, 'parameter_specs'> {
  parameter_specs: ParameterSpec[];
}

export interface AppliedDeployment extends Omit<api.AppliedDeployment, 'deployment'> {
  deployment: Deployment;
}

export interface NotebookParameters extends Omit<api.NotebookParameters, 'parameters'> {
  parameters: ParameterSpec[];
}

/** A notebook as nbformat JSON: only what progress needs. */
export interface NotebookJson {
  cells?: {
    cell_type?: string;
    source?: string | string[];
    metadata?: {
      papermill?: {
        status?: string;
        start_time?: string | null;
        end_time?: string | null;
        duration?: number | null;
      };
    };
  }[];
}

/** What "Deploy this notebook…" sends (POST /deploy-notebook). */
export type DeployNotebookRequest = api.DeployNotebook;

/** What "New pool" sends (POST /work-pools). */
export type CreatePoolRequest = api.CreatePool;

/** What "Run" sends (POST /flow-runs). */
export type CreateRunRequest = api.CreateRun;
