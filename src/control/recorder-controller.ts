// The recorder on every agent: the API for recordings and the timer that drains the workers'
// capture rings into pcap files.
import type { Agent } from './agent.js';
import type { AgentExtension } from './extension.js';
import { ApiError, type ApiRoutes } from './api.js';
import { Recorder, type RecordingRequest } from '../recorder/recordings.js';
import { RecorderError } from '../recorder/filter.js';

/** How often the rings are drained: 4 MiB rings at 20 ms absorb ~200 MB/s per worker. */
const DRAIN_INTERVAL_MS = 20;

function idParam(params: string[]): number {
  const id = Number(params[0]);
  if (!Number.isInteger(id) || id < 1) throw new ApiError(400, `"${params[0]}" is not a recording id`);
  return id;
}

export class RecorderController implements AgentExtension {
  readonly recorder: Recorder;
  private timer?: NodeJS.Timeout;
  readonly api: ApiRoutes;

  constructor(agent: Agent) {
    const cfg = agent.cfg.recorder;
    this.recorder = new Recorder({
      node: agent.cfg.node,
      directory: cfg.directory,
      maxMasks: cfg.maxMasks,
      tables: agent.recorderTables,
    });
    const r = this.recorder;
    this.api = {
      'POST /v1/recordings': ({ body }) => {
        try {
          return r.start(body as RecordingRequest);
        } catch (e) {
          if (e instanceof RecorderError) throw new ApiError(400, e.message);
          throw e;
        }
      },
      'GET /v1/recordings': () => r.list(),
      'GET /v1/recordings/*': ({ params }) => r.get(idParam(params)) ?? notFound(params[0]),
      'DELETE /v1/recordings/*': ({ params }) => r.stop(idParam(params)) ?? notFound(params[0]),
    };
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => this.recorder.drain(), DRAIN_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.recorder.stopAll('agent-stopping');
  }

  status(): Record<string, unknown> {
    return { recorder: this.recorder.usage() };
  }
}

function notFound(id: string): never {
  throw new ApiError(404, `no recording ${id}`);
}
