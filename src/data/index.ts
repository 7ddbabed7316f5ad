/**
 * The data pipeline's public interface: corpus sources, cleaning, tokenizers, token stores,
 * mixtures, the training sampler, held-out evaluation windows, and `prepareData`, which puts them
 * together for a training run. Caches live under `<lab>/data/` (see paths.ts).
 */
export { DEFAULT_LAB_DIR, dataPaths, resolveLab, type DataPaths } from "./paths.ts";
export type { Availability, RawDocument, SourceContext, SourceDef, SourceOrigin } from "./sources/types.ts";
export {
  DEFAULT_SUITE,
  builtinSourceIds,
  getSource,
  listSources,
  registerSource,
  registerSyntheticSource,
  unregisterSource,
  type SyntheticSourceSpec,
} from "./sources/registry.ts";
export { deleteUserSource, detectKind, loadUserSources, saveUserSource, userSource, type UserSourceKind, type UserSourceSpec } from "./sources/user.ts";
export { fetchDebianPackages, debianPackages } from "./sources/debian.ts";
export { ZH_POETRY_DEFAULT_MAX_BYTES } from "./sources/zh-poetry.ts";
export { DocumentCleaner, normalizeText, type CleanStats } from "./clean.ts";
export { buildTextStore, latestTextStore, type BuildOptions, type TextStore, type TextStoreManifest } from "./text-store.ts";
export { EOD_TOKEN, type TokenizerJson } from "./bpe.ts";
export {
  DEFAULT_TOKENIZER,
  byteTokenizer,
  getBpeTokenizer,
  getTokenizer,
  loadTokenizer,
  type Tokenizer,
  type TokenizerMeta,
  type TokenizerSpec,
} from "./tokenizer.ts";
export { buildTokenStore, type SourceTokenStats, type TokenStore, type TokenStoreManifest } from "./token-store.ts";
export { HELD_OUT_FRACTION, isHeldOut, segmentTokens, splitDocuments, type Segment, type Split } from "./split.ts";
export { MixtureSampler, normalizeWeights, type MixtureSpec, type MixtureWeights, type SamplerState } from "./mixture.ts";
export { sourceEvalWindows, type EvalPolicy, type EvalWindows } from "./windows.ts";
export { prepareData, type DataStats, type PrepareDataOptions, type PreparedData, type SourceDataStats } from "./prepare.ts";
