/**
 * Where icl-lab keeps its files. The lab folder is `--lab DIR` when given, else the environment
 * variable `ICL_LAB_DIR`, else `./icl-lab-runs`; everything the data pipeline caches lives under
 * `<lab>/data/`:
 *
 * ```
 * <lab>/data/text/<source>/<key>/        cleaned text of one source (text.bin + manifest.json)
 * <lab>/data/stores/<source>/<key>/      its tokens for one tokenizer (tokens.bin + manifest.json)
 * <lab>/data/tokenizers/<id>/            trained tokenizers (tokenizer.json + meta.json)
 * <lab>/data/tokenizers/index/<key>.json spec → tokenizer id, so a spec is trained once
 * <lab>/data/debian/debs/                .deb files fetched with `apt-get download`
 * <lab>/data/debian/root/<package>/      their contents, unpacked with `dpkg-deb -x`
 * <lab>/data/user-sources.json           the user's own sources (`icl-lab corpus add`)
 * ```
 */
import { join } from "node:path";

export { DEFAULT_LAB_DIR, resolveLabDir as resolveLab } from "../util/lab.ts";
import { resolveLabDir as resolveLab } from "../util/lab.ts";

/** The data folders of a lab (absolute paths; nothing is created here). */
export interface DataPaths {
  lab: string;
  data: string;
  text: string;
  stores: string;
  tokenizers: string;
  debianDebs: string;
  debianRoot: string;
  userSources: string;
}

/** The data folders under `<lab>/data/` (see the module comment for the layout). */
export function dataPaths(lab?: string): DataPaths {
  const root = resolveLab(lab);
  const data = join(root, "data");
  return {
    lab: root,
    data,
    text: join(data, "text"),
    stores: join(data, "stores"),
    tokenizers: join(data, "tokenizers"),
    debianDebs: join(data, "debian", "debs"),
    debianRoot: join(data, "debian", "root"),
    userSources: join(data, "user-sources.json"),
  };
}
