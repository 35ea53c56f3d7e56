// The one place an agent is put together: the dataplane (agent.ts) and the extensions its
// config asks for, in the order they must start. Extensions hand the workers their tables
// through AgentExtension.workerTables; nothing writes into the agent from outside.
import { Agent } from './agent.js';
import type { NodeConfig } from './config.js';
import type { AgentExtension } from './extension.js';
import { RecorderController } from './recorder-controller.js';
import { WireGuardController } from './wireguard-controller.js';
import { ClusterController } from './cluster/controller.js';
import { ReverseXlateController } from './reverse-xlate.js';
import { LbController } from './lb-controller.js';
import { EgressController } from './egress-controller.js';

export interface AgentOptions {
  /** The state store instead of the config's (weft agent --store). */
  storeUrl?: string;
}

/** In start order; they stop in the reverse order. */
function extensionsFor(agent: Agent): AgentExtension[] {
  const cfg = agent.cfg;
  const out: AgentExtension[] = [new RecorderController(agent)];
  // The WireGuard device starts before the cluster controller, which publishes its key.
  const wg = cfg.wireguard ? new WireGuardController(agent, cfg.wireguard) : undefined;
  if (wg) out.push(wg);
  if (cfg.cluster) {
    out.push(new ClusterController(agent, cfg.cluster, cfg.cluster.encryption === 'wireguard' ? wg : undefined));
    out.push(new ReverseXlateController(agent));
  }
  if (cfg.lb) out.push(new LbController(agent, cfg.lb));
  if (cfg.cluster && cfg.egress) out.push(new EgressController(agent, cfg.egress, cfg.cluster));
  return out;
}

/** Builds the agent for `cfg` and starts it; on failure everything started is stopped again. */
export async function startAgent(cfg: NodeConfig, opts: AgentOptions = {}): Promise<Agent> {
  const agent = new Agent(cfg, opts.storeUrl ?? cfg.store);
  await agent.start(extensionsFor(agent));
  return agent;
}
