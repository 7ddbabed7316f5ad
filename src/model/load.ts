/**
 * Loading parameters into a model: from a checkpoint file (safetensors, verified) or from a run
 * in the lab (its last checkpoint, or the one at a given token count). The one place that maps a
 * checkpoint's tensors onto a freshly built model, used by export, measurement, reports and the
 * dashboard.
 */
import { loadCheckpoint, type Checkpoint } from "./checkpoint.ts";
import { parseModelConfig, type ModelConfig } from "./config.ts";
import { buildModel, type LanguageModel } from "./model.ts";

/** Copies a checkpoint's parameters into `model` (every parameter must be there, same size). */
export function setParams(model: LanguageModel, ck: Pick<Checkpoint, "params" | "path">): void {
  for (const [name, p] of model.params) {
    const t = ck.params[name];
    if (t === undefined || t.data.length !== p.size) {
      throw new Error(`checkpoint ${ck.path} has no parameter '${name}' of ${p.size} values (does the run's config match it?)`);
    }
    p.data.set(t.data as Float32Array);
  }
}

/** A model of `config` with the parameters of the checkpoint file at `path`. */
export function modelFromCheckpoint(config: ModelConfig | unknown, path: string): { model: LanguageModel; checkpoint: Checkpoint } {
  const c = parseModelConfig(config);
  const checkpoint = loadCheckpoint(path);
  const model = buildModel(c, 0);
  setParams(model, checkpoint);
  return { model, checkpoint };
}
