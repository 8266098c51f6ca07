/**
 * What nborch's API answers, as TypeScript sees it: the wire models of `nborch/models.py`
 * and `nborch/client/routes.py` (dates are ISO 8601 strings, UTC).
 */

export type PoolStatus = 'READY' | 'NOT_READY' | 'PAUSED';

export type RunState =
  | 'SCHEDULED'
  | 'LATE'
  | 'PENDING'
  | 'RUNNING'
  | 'COMPLETED'
  | 'FAILED'
  | 'CRASHED'
  | 'CANCELLING'
  | 'CANCELLED';

export const FINAL_STATES: ReadonlySet<RunState> = new Set<RunState>([
  'COMPLETED',
  'FAILED',
  'CRASHED',
  'CANCELLED'
]);

/** A JSON value, as parameters and job variables carry them. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

export type JsonObject = Record<string, JsonValue>;

/** The parameter types nborch knows (`nborch.parameters.TYPE_NAMES`). */
export type ParameterType = 'str' | 'int' | 'float' | 'bool' | 'list' | 'dict' | 'any';

export interface ParameterSpec {
  name: string;
  type: ParameterType;
  default: JsonValue;
  help: string;
}

export interface WorkPool {
  id: string;
  name: string;
  type: string;
  description: string;
  concurrency_limit: number | null;
  paused: boolean;
  status: PoolStatus;
  created: string;
  active_runs: number;
  workers_online: number;
}

export interface Worker {
  id: string;
  name: string;
  pool_name: string | null;
  hostname: string;
  pid: number | null;
  last_heartbeat: string;
  status: 'ONLINE' | 'OFFLINE';
  active_runs: number;
}

export interface Schedule {
  id: string;
  cron: string | null;
  interval_seconds: number | null;
  timezone: string;
  active: boolean;
  next_run_time: string | null;
  error?: string | null;
}

export interface Deployment {
  id: string;
  flow_name: string;
  name: string;
  source: string;
  entrypoint: string;
  parameter_specs: ParameterSpec[];
  parameters: JsonObject;
  pool_name: string | null;
  job_variables: JsonObject;
  description: string;
  paused: boolean;
  schedules: Schedule[];
}

export interface CellFailure {
  cell_index: number;
  ename: string;
  evalue: string;
}

export interface FlowRun {
  id: string;
  name: string;
  flow_name: string;
  deployment_name: string | null;
  pool_name: string | null;
  worker_name: string | null;
  state: RunState;
  state_message: string;
  parameters: JsonObject;
  output_path: string | null;
  failure: CellFailure | null;
  scheduled_time: string;
  start_time: string | null;
  end_time: string | null;
  created: string;
}

export interface LogLine {
  seq: number;
  timestamp: string;
  message: string;
}

export interface NotebookParameters {
  path: string;
  flow_name: string;
  parameters: ParameterSpec[];
}

export interface CronPreview {
  cron: string;
  timezone: string;
  times: string[];
}

export interface AppliedDeployment {
  deployment: Deployment;
  created: boolean;
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
export interface DeployNotebookRequest {
  path: string;
  name: string;
  pool_name: string;
  flow_name?: string;
  cron?: string;
  timezone: string;
  parameters: JsonObject;
  job_variables: JsonObject;
  image?: string;
  build_image?: boolean;
  description?: string;
}

export interface CreatePoolRequest {
  name: string;
  type: string;
  description?: string;
  concurrency_limit?: number;
}

export interface CreateRunRequest {
  deployment: string;
  parameters?: JsonObject;
  job_variables?: JsonObject;
}
