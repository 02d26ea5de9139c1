/** A command that cannot do what was asked: its message is printed as is, and the CLI exits with `exitCode`. */
export class CliError extends Error {
  override readonly name = 'CliError'
  constructor(message: string, readonly exitCode = 1) {
    super(message)
  }
}
