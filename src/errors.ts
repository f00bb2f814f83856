/** An error meant for the user: the CLI prints its message as one line, without a stack trace. */
export class GradlensError extends Error {
  override name = 'GradlensError';
}

export function fail(message: string): never {
  throw new GradlensError(message);
}
