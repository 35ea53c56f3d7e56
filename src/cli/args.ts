// The two kinds of mistake a user can make on the command line, told apart by what helps next.

/** The command line's shape is wrong (verb, operands, options, option values): the usage follows the message. */
export class UsageError extends Error {}

/** Something the command line points at is invalid (a file, a filter): the message says all there is. */
export class InputError extends Error {}
