/** A node configuration is invalid; the message starts with the file and the field's path. */
export class ConfigError extends Error {}
