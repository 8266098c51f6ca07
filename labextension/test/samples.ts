/** Answers as the server gives them, for the tests. */

import type { Deployment, FlowRun, Worker, WorkPool } from '../src/models';

export function pool(changes: Partial<WorkPool> = {}): WorkPool {
  return {
    id: 'p1',
    name: 'etl',
    type: 'process',
    description: '',
    concurrency_limit: null,
    paused: false,
    status: 'READY',
    created: '2024-05-01T09:00:00Z',
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
    job_variables: {},
    description: '',
    paused: false,
    schedules: [
      {
        id: 's1',
        cron: '0 1 * * *',
        interval_seconds: null,
        timezone: 'UTC',
        active: true,
        next_run_time: '2024-05-02T01:00:00Z'
      }
    ],
    ...changes
  };
}

export function run(changes: Partial<FlowRun> = {}): FlowRun {
  return {
    id: 'r1',
    name: 'brave-otter',
    flow_name: 'hello',
    deployment_name: 'hello/daily',
    pool_name: 'etl',
    worker_name: 'ProcessWorker 1',
    state: 'RUNNING',
    state_message: '',
    parameters: { name: 'Ada' },
    output_path: null,
    failure: null,
    scheduled_time: '2024-05-01T09:59:50Z',
    start_time: '2024-05-01T09:59:52Z',
    end_time: null,
    created: '2024-05-01T09:59:50Z',
    ...changes
  };
}
