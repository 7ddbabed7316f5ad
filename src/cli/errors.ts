/** An error caused by the user's input: printed as one line (no stack) with exit code 1. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}
