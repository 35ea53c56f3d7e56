// What an agent runs beside its dataplane (the cluster, load balancer, egress gateway, WireGuard
// and recorder controllers; later BGP), and what such an extension hands the workers.
import type { ApiRoutes } from './api.js';
import type { WorkerInit } from '../datapath/worker.js';

/** Shared tables of one feature, for the workers to attach to. */
export type WorkerTables = Partial<Pick<WorkerInit, 'lbSabs' | 'reverseXlateSab' | 'wgSabs' | 'natSabs'>>;

export interface AgentExtension {
  /** The tables this extension shares with the workers; read once, before they start. */
  readonly workerTables?: WorkerTables;
  /** After the workers and the config's ports; extensions start in order, one at a time. */
  start(): Promise<void>;
  /** Before the workers stop, in the reverse order. */
  stop(): Promise<void>;
  api?: ApiRoutes;
  /** Merged into the agent's status (GET /v1/status). */
  status?: () => Record<string, unknown>;
}
