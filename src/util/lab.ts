/** The lab folder every command reads and writes: `--lab`, else `$ICL_LAB_DIR`, else ./icl-lab-runs. */
import { resolve } from "node:path";

/** The default lab folder, relative to the working directory. */
export const DEFAULT_LAB_DIR = "./icl-lab-runs";

/** Resolves the lab folder to an absolute path (an empty argument or variable counts as absent). */
export function resolveLabDir(lab?: string): string {
  if (lab !== undefined && lab !== "") return resolve(lab);
  const env = process.env.ICL_LAB_DIR;
  if (env !== undefined && env !== "") return resolve(env);
  return resolve(DEFAULT_LAB_DIR);
}
