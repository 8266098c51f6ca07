/** Answers as the server gives them, for the tests. */

import type { Deployment, FlowRun, Worker, WorkPool } from '../src/models';

export function pool(changes: Partial<WorkPool> = {}): WorkPool {
  return {
    id: 'p1',
    name: 'etl',
    type: 'process',
    description: '',
    base_job_template: {},
    concurrency_limit: null,
    paused: false,
    status: 'READY',
    created: '2024-05-01T09:00:00Z',
    quota_hours: null,
    quota_period: 'month',
    active_runs: 1,
    workers_online: 1,
    ...changes
  };
}

export function worker(changes: Partial<Worker> = {}): Worker {
  return {
    id: 'w1',
    name: 'ProcessWorker 1',
    pool_name: 'etl',
    hostname: 'host',
    pid: 42,
    last_heartbeat: '2024-05-01T09:59:57Z',
    status: 'ONLINE',
    active_runs: 1,
    server: null,
    ...changes
  };
}

export function deployment(changes: Partial<Deployment> = {}): Deployment {
  return {
    id: 'd1',
    flow_name: 'hello',
    name: 'daily',
    source: '/srv/notebooks',
    entrypoint: 'hello.ipynb',
    parameter_specs: [
      { name: 'name', type: 'str', default: 'world', help: 'who to greet' },
      { name: 'times', type: 'int', default: 2, help: '' }
    ],
    parameters: { times: 3 },
    pool_name: 'etl',
    queue_name: null,
    job_variables: {},
    tags: [],
    description: '',
    version: null,
    paused: false,
    concurrency_limit: null,
    retries: 0,
    timeout_seconds: null,
    retry_delay_seconds: 0,
    retry_backoff: 1,
    retry_on: ['failed', 'crashed', 'timeout'],
    catch_up: 'latest',
    schedules: [
      {
        id: 's1',
        deployment_name: 'hello/daily',
        cron: '0 1 * * *',
        interval_seconds: null,
        anchor_date: null,
        timezone: 'UTC',
        parameters: {},
        active: true,
        created: '2024-05-01T09:00:00Z',
        next_run_time: '2024-05-02T01:00:00Z',
        error: null
      }
    ],
    created: '2024-05-01T09:00:00Z',
    updated: '2024-05-01T09:00:00Z',
    ...changes
  };
}

export function run(changes: Partial<FlowRun> = {}): FlowRun {
  return {
    id: 'r1',
    name: 'brave-otter',
    flow_name: 'hello',
    deployment_id: 'd1',
    deployment_name: 'hello/daily',
    pool_name: 'etl',
    queue_name: null,
    worker_id: 'w1',
    worker_name: 'ProcessWorker 1',
    schedule_id: null,
    state: 'RUNNING',
    state_message: '',
    parameters: { name: 'Ada' },
    job_variables: {},
    source: '/srv/notebooks',
    source_commit: null,
    input_path: '/srv/notebooks/hello.ipynb',
    cwd: null,
    output_path: null,
    infrastructure_id: null,
    failure: null,
    run_count: 1,
    retries: 0,
    attempt: 1,
    timeout_seconds: null,
    retry_delay_seconds: 0,
    retry_backoff: 1,
    retry_on: ['failed', 'crashed', 'timeout'],
    tags: [],
    scheduled_time: '2024-05-01T09:59:50Z',
    start_time: '2024-05-01T09:59:52Z',
    end_time: null,
    created: '2024-05-01T09:59:50Z',
    created_by: 'jupyter:ada',
    history: [],
    ...changes
  };
}
