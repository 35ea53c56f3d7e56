#!/usr/bin/env node
// The weft command: one entry point, one small module per subcommand, all run by runner.ts.
import { runCommand } from './runner.js';
import { agentCommand } from './agent-command.js';
import { statusCommand } from './status-command.js';
import { endpointCommand } from './endpoint-command.js';
import { lbCommand } from './lb-command.js';
import { serviceCommand } from './service-command.js';
import { recordCommand } from './record-command.js';
import { egressCommand } from './egress-command.js';

const HELP = `weft — a userspace network dataplane

Usage: weft <command> [options]

Commands:
  agent --config FILE     run the node agent (TAP ports, workers, API socket)
  status [--api SOCKET]   show agent health, ports, workers, drop reasons, cluster nodes,
                          WireGuard, NAT and recorder usage
  endpoint add|list|delete  endpoints of a cluster node (namespaces with a dataplane port)
  service add|apply|list|describe|delete  load-balanced services (VIP, port → backends)
  lb maglev BACKEND...    print the Maglev table for backends (Cilium-compatible)
  record FILTER...|list|stop  n-tuple packet recordings into pcap files
  egress apply|list|delete|conntrack  egress gateway policies and NAT translations

Run "weft <command> --help" for the options of a command.
`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  agent: (argv) => runCommand(agentCommand, argv),
  status: (argv) => runCommand(statusCommand, argv),
  endpoint: (argv) => runCommand(endpointCommand, argv),
  lb: (argv) => runCommand(lbCommand, argv),
  service: (argv) => runCommand(serviceCommand, argv),
  record: (argv) => runCommand(recordCommand, argv),
  egress: (argv) => runCommand(egressCommand, argv),
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd !== undefined && Object.hasOwn(COMMANDS, cmd)) return COMMANDS[cmd]!(rest);
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(HELP);
    return cmd === undefined ? 2 : 0;
  }
  process.stderr.write(`weft: unknown command "${cmd}"\n\n${HELP}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: Error) => {
    process.stderr.write(`weft: ${e.message}\n`);
    process.exitCode = 1;
  },
);
