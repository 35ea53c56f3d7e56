/** A policy document is invalid; the message starts with the field path. */
export class PolicyError extends Error {}
