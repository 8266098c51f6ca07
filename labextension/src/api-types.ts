/**
 * nborch's API as TypeScript sees it: the inputs and answers of every operation, made from
 * nborch's operation table (nborch/client/*_operations.py) by
 * `python -m nborch.api.codegen`. Do not edit: change the table and run it again (a test
 * fails while this file is stale). Dates are ISO 8601 strings, UTC.
 */

/** A JSON value, as parameters and job variables carry them. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

export type JsonObject = Record<string, JsonValue>;

/**
 * Where a rule's messages go: a webhook (nborch's JSON body), a webhook that takes a
 * Slack-compatible or a Microsoft Teams-compatible body, or email through SMTP.
 */
export type AlertChannel = 'webhook' | 'slack' | 'teams' | 'email';

/**
 * One attempt to send a message: of a run's state (`run_id`, `state`), a digest
 * (`digest_count` events), or a test. `detail` says what the receiver answered or why
 * it could not be reached.
 */
export interface AlertDelivery {
  rule: string;
  run_id: string | null;
  run_name: string | null;
  state: StateType | null;
  digest_count: number;
  attempt: number;
  attempted: string;
  ok: boolean;
  detail: string;
  status: string;
}

export interface AlertHistoryQuery {
  rule?: string | null;
  limit?: number;
}

export interface AlertRule {
  name: string;
  channel: AlertChannel;
  target: string;
  states: StateType[];
  deployment: string | null;
  pool: string | null;
  tag: string | null;
  hmac_secret: string | null;
  max_per_minute: number;
  longer_than: number | null;
  id: string;
  created: string;
}

export interface AlertRulePath {
  name: string;
}

/**
 * A rule as given: runs of `deployment` (FLOW/NAME), of `pool`, with `tag`, or of
 * every run when none is given, entering one of `states`, are sent to `target` (a URL,
 * which may hold ``{{ secret.NAME }}``, or email addresses, comma-separated) by `channel`.
 * `hmac_secret` names the nborch secret that signs a webhook's body. At most
 * `max_per_minute` messages a minute; beyond, one digest counts the rest. With
 * `longer_than`, a run RUNNING longer than that many seconds sends one too.
 */
export interface AlertRuleSpec {
  name: string;
  channel: AlertChannel;
  target: string;
  states?: StateType[];
  deployment?: string | null;
  pool?: string | null;
  tag?: string | null;
  hmac_secret?: string | null;
  max_per_minute?: number;
  longer_than?: number | null;
}

/** An API key as listed (the key itself is shown once, when it is created). */
export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  role: ApiKeyRole;
  pools: string[];
  deployments: string[];
  created: string;
  last_used: string | null;
  revoked: string | null;
}

/**
 * What an API key (or a Jupyter user) may do: everything; a worker's share of some
 * pools; read pools, deployments, runs, logs and outputs and nothing secret (viewer); or
 * that and run the deployments matching some patterns (runner). Which operation admits
 * which role is declared per operation (`nborch.client.operations.Access`).
 */
export type ApiKeyRole = 'admin' | 'worker' | 'viewer' | 'runner';

export interface AppendLogs {
  lines: string[];
}

export interface AppliedDeployment {
  deployment: Deployment;
  created: boolean;
}

/**
 * What a schedule does with times it missed (nothing ran, or nothing could start):
 * run them ALL, only the LATEST, or NONE of them.
 */
export type CatchUp = 'all' | 'latest' | 'none';

/** Where a notebook raised: the cell and the exception, as papermill reports it. */
export interface CellFailure {
  cell_index: number;
  execution_count: number | null;
  source: string;
  ename: string;
  evalue: string;
}

export interface ClaimRuns {
  worker_id: string;
  limit: number;
  lookahead?: number;
  wait?: number;
}

export interface CreateAdhocRun {
  flow_name: string;
  input_path: string;
  parameters?: JsonObject;
  job_variables?: JsonObject;
  output_path?: string | null;
  cwd?: string | null;
  worker_id: string;
  tags?: string[];
  timeout_seconds?: number | null;
}

export interface CreateAlertRuleQuery {
  test?: boolean;
}

export interface CreateApiKey {
  name: string;
  role: string;
  pools?: string[];
  deployments?: string[];
}

export interface CreatePool {
  name: string;
  type: 'process' | 'docker' | 'nborch:managed' | 'docker-swarm' | 'dask' | 'kubernetes';
  description?: string;
  base_job_template?: JsonObject | null;
  concurrency_limit?: number | null;
  paused?: boolean;
  quota_hours?: number | null;
  quota_period?: QuotaPeriod;
}

export interface CreateQueue {
  name: string;
  priority?: number;
  concurrency_limit?: number | null;
  description?: string;
}

export interface CreateRun {
  deployment: string;
  parameters?: JsonObject | null;
  job_variables?: JsonObject | null;
  scheduled_time?: string | null;
  tags?: string[];
  timeout_seconds?: number | null;
  retries?: number | null;
  retry_delay_seconds?: number | null;
  retry_backoff?: number | null;
  retry_on?: RetryOn[] | null;
}

export interface CronPreview {
  cron: string;
  timezone: string;
  times: string[];
}

export interface CronPreviewQuery {
  cron: string;
  timezone?: string;
  count?: number;
}

/**
 * Deploy the notebook at `path` (under the server's folder) as `flow_name/name`; its
 * schedule is exactly `cron` (in `timezone`), or none without one.
 */
export interface DeployNotebook {
  path: string;
  name: string;
  pool_name: string;
  flow_name?: string | null;
  cron?: string | null;
  timezone?: string;
  parameters?: JsonObject;
  job_variables?: JsonObject;
  image?: string | null;
  build_image?: boolean;
  description?: string;
}

export interface Deployment {
  timeout_seconds: number | null;
  retry_delay_seconds: number;
  retry_backoff: number;
  retry_on: RetryOn[];
  id: string;
  flow_name: string;
  name: string;
  source: string;
  entrypoint: string;
  parameter_specs: ParameterSpec[];
  parameters: JsonObject;
  pool_name: string | null;
  queue_name: string | null;
  job_variables: JsonObject;
  tags: string[];
  description: string;
  version: string | null;
  paused: boolean;
  concurrency_limit: number | null;
  retries: number;
  catch_up: CatchUp;
  schedules: Schedule[];
  created: string;
  updated: string;
}

export interface DeploymentPath {
  full_name: string;
}

/** What `deploy` asks for; the CLI, the Python API and the magics all build one. */
export interface DeploymentSpec {
  timeout_seconds?: number | null;
  retry_delay_seconds?: number;
  retry_backoff?: number;
  retry_on?: RetryOn[];
  flow_name: string;
  name: string;
  source: string;
  entrypoint: string;
  pool_name?: string | null;
  parameter_specs?: ParameterSpec[];
  parameters?: JsonObject;
  queue_name?: string | null;
  job_variables?: JsonObject;
  tags?: string[];
  description?: string;
  version?: string | null;
  concurrency_limit?: number | null;
  retries?: number;
  paused?: boolean;
  catch_up?: CatchUp;
  schedules?: ScheduleSpec[] | null;
}

export interface FlowRun {
  timeout_seconds: number | null;
  retry_delay_seconds: number;
  retry_backoff: number;
  retry_on: RetryOn[];
  id: string;
  name: string;
  flow_name: string;
  deployment_id: string | null;
  deployment_name: string | null;
  pool_name: string | null;
  queue_name: string | null;
  worker_id: string | null;
  worker_name: string | null;
  schedule_id: string | null;
  state: StateType;
  state_message: string;
  parameters: JsonObject;
  job_variables: JsonObject;
  source: string | null;
  source_commit: string | null;
  input_path: string;
  cwd: string | null;
  output_path: string | null;
  infrastructure_id: string | null;
  failure: CellFailure | null;
  run_count: number;
  retries: number;
  attempt: number;
  tags: string[];
  scheduled_time: string;
  start_time: string | null;
  end_time: string | null;
  created: string;
  created_by: string | null;
  history: State[];
}

/**
 * `status` is "ok" (answered 200), or "error" (503) when the store cannot be read or
 * its schema is not `store.expected`.
 */
export interface Health {
  status: string;
  version: string;
  store: StoreHealth;
}

export interface Heartbeat {
  stopped?: boolean;
}

/**
 * A run in a worker's hands as the store sees it: a worker that holds the run under
 * another attempt, or not at all, has lost it; CANCELLING asks it to stop the run.
 */
export interface HeldRun {
  id: string;
  attempt: number;
  state: StateType;
}

/**
 * A worker's write about a run: `attempt`, the claim it holds the run by, fences it
 * (refused with 409 RunLostError once that attempt no longer holds the run). Worker keys
 * must give it; admins and people may leave it out.
 */
export interface HeldRunPath {
  run_id: string;
  attempt?: number | null;
}

export interface ListDeploymentsQuery {
  pool_name?: string | null;
}

export interface ListRunsQuery {
  deployment?: string | null;
  pool_name?: string | null;
  states?: StateType[];
  limit?: number;
}

export interface ListWorkersQuery {
  pool_name?: string | null;
}

export interface LogLine {
  seq: number;
  timestamp: string;
  message: string;
}

export interface NamePath {
  name: string;
}

/** A key just created: `key` is the secret to hand to its user; nborch keeps its hash. */
export interface NewApiKey {
  id: string;
  name: string;
  prefix: string;
  role: ApiKeyRole;
  pools: string[];
  deployments: string[];
  created: string;
  last_used: string | null;
  revoked: string | null;
  key: string;
}

export interface NextRunTime {
  next_run_time: string | null;
}

export interface NextRunTimeQuery {
  pool_name: string;
  lookahead?: number;
}

export interface NotebookParameters {
  path: string;
  flow_name: string;
  parameters: ParameterSpec[];
}

export interface NotebookPathQuery {
  path: string;
}

/** One flow parameter, as declared in the notebook's `parameters` cell. */
export interface ParameterSpec {
  name: string;
  type: string;
  default: JsonValue;
  help: string;
}

export interface PoolPath {
  name: string;
}

export type PoolStatus = 'READY' | 'NOT_READY' | 'PAUSED';

/**
 * Which infrastructure a work pool's runs get.
 *
 * `process` and `docker` are pull pools: a worker someone starts polls them. A managed pool
 * (`nborch:managed`) and the push pools (`docker-swarm`, `dask`, `kubernetes`) need no
 * worker: the nborch server (or `nborch dispatcher start`) runs or submits their runs.
 */
export type PoolType = 'process' | 'docker' | 'nborch:managed' | 'docker-swarm' | 'dask' | 'kubernetes';

export interface PoolUsage {
  name: string;
  runs: number;
  hours: number;
  type: PoolType;
  quota_hours: number | null;
  quota_period: QuotaPeriod;
  quota_used_hours: number | null;
  quota_resets: string | null;
}

export interface QueuePath {
  pool_name: string;
  name: string;
}

export interface QueuesPath {
  pool_name: string;
}

/** The calendar period (UTC) a pool's compute-hours quota is counted over. */
export type QuotaPeriod = 'day' | 'week' | 'month';

export interface ReadLogsQuery {
  run_id: string;
  after?: number;
  limit?: number | null;
}

export interface RecordInfrastructure {
  infrastructure_id: string;
}

export interface RecordSourceCommit {
  commit: string;
}

export interface RegisterWorker {
  name: string;
  pool_name?: string | null;
  pid?: number | null;
  worker_id?: string | null;
  hostname?: string | null;
}

/**
 * Which endings of a run are retried (while it has retries left): a failure (a cell
 * raised, papermill failed), a crash (the infrastructure or its worker died), or the run's
 * timeout. A run that times out ends FAILED, but counts as `timeout` only.
 */
export type RetryOn = 'failed' | 'crashed' | 'timeout';

export interface RunPath {
  run_id: string;
}

export interface Schedule {
  cron: string | null;
  interval_seconds: number | null;
  anchor_date: string | null;
  timezone: string;
  parameters: JsonObject;
  active: boolean;
  id: string;
  deployment_name: string;
  created: string;
  next_run_time: string | null;
  error: string | null;
}

export interface SchedulePath {
  full_name: string;
  schedule_id: string;
}

/**
 * A cron expression in a time zone, or an interval from an anchor, with the
 * parameters its runs get (on top of the deployment's).
 */
export interface ScheduleSpec {
  cron?: string | null;
  interval_seconds?: number | null;
  anchor_date?: string | null;
  timezone?: string;
  parameters?: JsonObject;
  active?: boolean;
}

export interface SchedulerTick {
  holder: string;
  crash_orphans?: boolean;
}

/** A secret as listed: its name and when it was set, never its value. */
export interface SecretInfo {
  name: string;
  created: string;
  updated: string;
}

export interface SetActive {
  active: boolean;
}

export interface SetPaused {
  paused: boolean;
}

export interface SetSecret {
  value: string;
}

export interface SetState {
  state: StateType;
  message?: string;
  failure?: CellFailure | null;
  timed_out?: boolean;
}

export interface State {
  type: StateType;
  timestamp: string;
  message: string;
}

/** The states of a flow run. */
export type StateType = 'SCHEDULED' | 'LATE' | 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CRASHED' | 'CANCELLING' | 'CANCELLED';

/**
 * Whether the server can read its store, and whether the store's schema is the one
 * this nborch needs (`expected`); `error` says what is wrong and the fix, in one line.
 */
export interface StoreHealth {
  reachable: boolean;
  revision: string | null;
  expected: string;
  error: string | null;
}

export interface TakeOverRun {
  worker_id: string;
  from_worker_id?: string | null;
}

/**
 * What one scheduler tick did: runs made, marked LATE, skipped by the catch-up policy,
 * and crashed (their worker vanished).
 */
export interface TickResult {
  created: number;
  late: number;
  skipped: number;
  crashed: number;
  more: boolean;
}

/**
 * Only the fields given change; `concurrency_limit: null` removes the limit,
 * `quota_hours: null` the quota.
 */
export interface UpdatePool {
  paused?: boolean | null;
  concurrency_limit?: number | null;
  description?: string | null;
  base_job_template?: JsonObject | null;
  quota_hours?: number | null;
  quota_period?: QuotaPeriod | null;
}

/** Only the fields given change; `concurrency_limit: null` removes the limit. */
export interface UpdateQueue {
  paused?: boolean | null;
  priority?: number | null;
  concurrency_limit?: number | null;
}

/** Compute time of some runs: a pool's, a deployment's or a tag's, over a window. */
export interface UsageEntry {
  name: string;
  runs: number;
  hours: number;
}

export interface UsageQuery {
  pool_name?: string | null;
  since?: string | null;
  until?: string | null;
}

/**
 * Hours of compute per pool, per deployment and per tag between `since` and `until`.
 *
 * A run's compute time is the time it spent RUNNING (and CANCELLING), each attempt counted;
 * a run with several tags counts for each of them.
 */
export interface UsageReport {
  since: string;
  until: string;
  pools: PoolUsage[];
  deployments: UsageEntry[];
  tags: UsageEntry[];
}

export interface WorkPool {
  id: string;
  name: string;
  type: PoolType;
  description: string;
  base_job_template: JsonObject;
  concurrency_limit: number | null;
  paused: boolean;
  status: PoolStatus;
  created: string;
  quota_hours: number | null;
  quota_period: QuotaPeriod;
  active_runs: number;
  workers_online: number;
}

export interface WorkQueue {
  id: string;
  pool_name: string;
  name: string;
  priority: number;
  concurrency_limit: number | null;
  paused: boolean;
  description: string;
}

export interface Worker {
  id: string;
  name: string;
  pool_name: string | null;
  hostname: string;
  pid: number | null;
  last_heartbeat: string;
  status: WorkerStatus;
  active_runs: number;
  server: string | null;
}

export interface WorkerPath {
  worker_id: string;
}

export type WorkerStatus = 'ONLINE' | 'OFFLINE';
