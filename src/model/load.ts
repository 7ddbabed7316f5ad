/**
 * Loading parameters into a model: from a checkpoint file (safetensors, verified) or from a run
 * in the lab (its last checkpoint, or the one at a given token count). The one place that maps a
 * checkpoint's tensors onto a freshly built model, used by export, measurement, reports and the
 * dashboard.
 */
import { loadCheckpoint, type Checkpoint } from "./checkpoint.ts";
import { isAttentionModel, parseModelConfig, type ModelConfig } from "./config.ts";
import { buildModel, type LanguageModel } from "./model.ts";

/**
 * Refuses a checkpoint whose numbers would silently change under this icl-lab: format 1 files of
 * `shortformer` models were trained with positions added before ln1 (icl-lab 0.1), which is now
 * the named option `shortformer-pre-ln`; `shortformer` follows TransformerLens since format 2.
 */
export function checkConvention(config: ModelConfig, ck: Pick<Checkpoint, "path" | "formatVersion">): void {
  if (ck.formatVersion < 2 && isAttentionModel(config) && config.positions === "shortformer") {
    throw new Error(
      `checkpoint ${ck.path} (format 1) was trained with icl-lab 0.1's shortformer convention, positions added before ln1; ` +
        `"shortformer" now adds them after ln1 as TransformerLens does, so its numbers would differ. It loads only into a model ` +
        `configured with positions "shortformer-pre-ln" (that convention, kept by name); retrain the run for TransformerLens' convention`,
    );
  }
}

/** Copies a checkpoint's parameters into `model` (every parameter must be there, same size). */
export function setParams(model: LanguageModel, ck: Pick<Checkpoint, "params" | "path" | "formatVersion">): void {
  checkConvention(model.config, ck);
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
