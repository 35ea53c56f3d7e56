// Runs every weft subcommand the same way: parse, check everything that needs no agent, then find
// the agent and do the work. What can go wrong, and what the user sees (always "weft CMD VERB: ..."):
//   usage error (verb, operands, options, option values)  stderr: message, blank line, usage   exit 2
//   invalid input (a file, a filter: the command's inputErrors, InputError)  stderr: message   exit 2
//   anything at run time (no agent, the agent refuses, I/O)  stderr: message                     exit 1
// -h / --help prints the usage on stdout (exit 0).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { defaultSocket } from './common.js';
import { InputError, UsageError } from './args.js';

export type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

const AGENT_OPTIONS = { node: { type: 'string' }, api: { type: 'string' } } as const;
const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

type AllOptions<O extends OptionSpecs> = O & typeof AGENT_OPTIONS & typeof HELP_OPTION;
export type Values<O extends OptionSpecs> = ReturnType<
  typeof parseArgs<{ options: AllOptions<O>; allowPositionals: true; strict: true }>
>['values'];

/** The work of a verb, given the agent's API socket ('' for verbs without an agent); resolves to the exit code. */
// biome-ignore lint/suspicious/noConfusingVoidType: an action returns its exit code, or nothing for 0.
export type Action = (socket: string) => Promise<number | void> | number | void;

export interface Verb<O extends OptionSpecs> {
  /** Operands after the verb as the usage names them ('NAME', 'ID'); a last 'FILTER...' takes one or more. */
  operands?: readonly string[];
  /** The command's options this verb takes; --help always, --node / --api with an agent. */
  options?: readonly (keyof O & string)[];
  /** False: the verb works without an agent. */
  agent?: boolean;
  /** Checks what it can without the agent (throws UsageError or an input error) and returns the work. */
  prepare(args: { values: Values<O>; operands: string[] }): Action;
}

export interface Command<O extends OptionSpecs> {
  name: string;
  usage: string;
  options: O;
  verbs: Record<string, Verb<O>>;
  /** The verb when the first operand names none ('' for commands without verbs, e.g. weft status). */
  defaultVerb?: string;
  /** What the command's validators throw for invalid input (e.g. ServiceError). */
  inputErrors?: ReadonlyArray<new (...args: never[]) => Error>;
}

/** Lets TypeScript infer a command's option types from its `options`. */
export function defineCommand<O extends OptionSpecs>(c: Command<O>): Command<O> {
  return c;
}

function article(name: string): string {
  return /^[AEIOU]/.test(name) ? 'an' : 'a';
}

function checkOperands(names: readonly string[], operands: string[]): void {
  names.forEach((name, i) => {
    const many = name.endsWith('...');
    const bare = many ? name.slice(0, -3) : name;
    if (operands.length > i) return;
    throw new UsageError(many ? `needs at least one ${bare}` : `needs ${article(bare)} ${bare}`);
  });
  const last = names[names.length - 1];
  if (!last?.endsWith('...') && operands.length > names.length) {
    throw new UsageError(`unexpected argument "${operands[names.length]}"`);
  }
}

/** Parses, checks and runs `argv` (the arguments after the command's name); returns the exit code. */
export async function runCommand<O extends OptionSpecs>(cmd: Command<O>, argv: string[]): Promise<number> {
  let prefix = `weft ${cmd.name}`;
  const fail = (e: unknown): number => {
    const msg = (e as Error).message;
    if (e instanceof UsageError) {
      process.stderr.write(`${prefix}: ${msg}\n\n${cmd.usage}`);
      return 2;
    }
    process.stderr.write(`${prefix}: ${msg}\n`);
    return e instanceof InputError || cmd.inputErrors?.some((c) => e instanceof c) ? 2 : 1;
  };
  const anyAgent = Object.values(cmd.verbs).some((v) => v.agent !== false);
  const options = { ...cmd.options, ...(anyAgent ? AGENT_OPTIONS : {}), ...HELP_OPTION } as AllOptions<O>;
  const parse = () => parseArgs({ args: argv, options, allowPositionals: true, strict: true, tokens: true });
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (e) {
    if (argv[0] !== undefined && Object.hasOwn(cmd.verbs, argv[0])) prefix += ` ${argv[0]}`;
    // Node's text goes on about `--`; the first sentence is the news, in our lower case.
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    return fail(new UsageError(msg.charAt(0).toLowerCase() + msg.slice(1)));
  }
  const values = parsed.values as Values<O>;
  const common = parsed.values as { help?: boolean; node?: string; api?: string };
  if (common.help) {
    process.stdout.write(cmd.usage);
    return 0;
  }
  const positionals = parsed.positionals;
  const named = positionals[0] !== undefined && Object.hasOwn(cmd.verbs, positionals[0]);
  const verbName = named ? positionals[0]! : cmd.defaultVerb;
  if (verbName === undefined) {
    const verbs = Object.keys(cmd.verbs).join(', ');
    return fail(new UsageError(positionals.length ? `unknown verb "${positionals[0]}"` : `needs a verb: ${verbs}`));
  }
  if (verbName) prefix += ` ${verbName}`;
  const verb = cmd.verbs[verbName]!;
  const operands = named ? positionals.slice(1) : positionals;
  let action: Action;
  try {
    const allowed = new Set<string>(['help', ...(verb.options ?? [])]);
    if (verb.agent !== false) allowed.add('node').add('api');
    const stray = parsed.tokens.find((t) => t.kind === 'option' && !allowed.has(t.name));
    if (stray?.kind === 'option') throw new UsageError(`unexpected option ${stray.rawName}`);
    checkOperands(verb.operands ?? [], operands);
    action = verb.prepare({ values, operands });
  } catch (e) {
    return fail(e);
  }
  try {
    const socket = verb.agent === false ? '' : (common.api ?? defaultSocket(common.node));
    return (await action(socket)) ?? 0;
  } catch (e) {
    return fail(e);
  }
}
