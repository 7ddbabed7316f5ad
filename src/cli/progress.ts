/** Progress output of the CLI: messages go to stderr, so that stdout holds only results. */

/** Progress logger to stderr unless quiet. */
export function stderrLog(quiet?: boolean): (message: string) => void {
  return quiet ? () => {} : (m) => process.stderr.write(`${m}\n`);
}
