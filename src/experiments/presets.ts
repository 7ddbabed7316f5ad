/**
 * The training presets, which live in src/train/presets.ts (training configurations sit below the
 * sweep and the experiments that start from them); re-exported here for existing importers.
 */
export { PRESETS, PRESET_NAMES, presetConfig, type Preset } from "../train/presets.ts";
