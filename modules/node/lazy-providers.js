// Preloaded into the jsii node process (NODE_OPTIONS=--require, set by modules/providers.py).
//
// The lib/index.js of a prebuilt CDKTF provider package is ~2,000 lines of
// `exports.<name> = require("./<file>");`: loading the AWS provider's assembly makes
// node compile all of its 247 MB of JavaScript, which is most of synthesis' time and
// memory. Here each such line becomes a getter that requires its file on first use,
// so node compiles only the submodules a stack uses. jsii looks a type up by walking
// the package's exports (`closure.vpc.Vpc`), which goes through the getter.
//
// CDK Terrain's providers (`@cdktn/provider-*`, modules/engine.py) have the other shape
// TypeScript emits: tsc's `__importStar` helpers, then
// `exports.<name> = __importStar(require("./<dir>/index"));`. That file is compiled with
// each such line turned into the same getter around the same expression, so the
// package's own helper still wraps what the getter returns.
//
// Anything that is not exactly one of those shapes is compiled unchanged.
"use strict";

const Module = require("module");

const PROVIDER_INDEX = /[\\/]@cdkt[fn][\\/]provider-[a-z0-9-]+[\\/](?:[^\\/]+[\\/])*lib[\\/]index\.js$/;
const EXPORT_LINE = /^exports\.([A-Za-z_$][\w$]*) = require\("(\.\/[^"]+)"\);$/;
const IMPORT_STAR_LINE = /^exports\.([A-Za-z_$][\w$]*) = (__importStar\(require\("\.\/[^"]+"\)\));$/;
// tsc's module helpers: `var __importStar = (this && this.__importStar) || ...`, then lines of
// their bodies (indented, or closing brackets at the start of a line)
const HELPER_START = /^var (__(?:createBinding|setModuleDefault|importStar))\s*=\s*\(this && this\.\1\) \|\| /;
const HELPER_BODY = /^(?:\s|\})/;
const ES_MODULE_LINE = 'Object.defineProperty(exports, "__esModule", { value: true });';
const LAZY = "__spoflessLazyExport";
const IGNORED_LINE = [
  /^$/, /^"use strict";$/, /^\/\//, /^\/\*/, /^\*/,
  /^Object\.defineProperty\(exports, "__esModule", \{ value: true \}\);$/,
  /^exports\.[A-Za-z_$][\w$]*( = exports\.[A-Za-z_$][\w$]*)* = void 0;$/,
];

function lazyExports(content) {
  const entries = [];
  for (const raw of content.split("\n")) {
    const line = raw.trim();
    const match = EXPORT_LINE.exec(line);
    if (match) {
      entries.push([match[1], match[2]]);
    } else if (!IGNORED_LINE.some((pattern) => pattern.test(line))) {
      return null;
    }
  }
  return entries.length > 0 ? entries : null;
}

// The cdktn shape, rewritten: every `exports.x = __importStar(require(...));` line becomes
// `LAZY(exports, "x", function () { return __importStar(require(...)); });` (one line for one,
// so line numbers hold), and LAZY is declared once at the end (declarations are hoisted).
// null when the file is anything else.
function lazyImportStar(content) {
  const lines = content.split("\n");
  let helpers = 0;
  let exportsSeen = false;
  let entries = 0;
  for (let i = 0; i < lines.length; i += 1) {
    const raw = lines[i];
    const line = raw.trim();
    if (!exportsSeen) {
      if (line === ES_MODULE_LINE) {
        exportsSeen = true;
      } else if (HELPER_START.test(raw)) {
        helpers += 1;
      } else if (!(helpers > 0 && HELPER_BODY.test(raw) && line !== "")
                 && !IGNORED_LINE.some((pattern) => pattern.test(line))) {
        return null;
      }
      continue;
    }
    const match = IMPORT_STAR_LINE.exec(line);
    if (match) {
      lines[i] = `${LAZY}(exports, ${JSON.stringify(match[1])}, function () { return ${match[2]}; });`;
      entries += 1;
    } else if (!IGNORED_LINE.some((pattern) => pattern.test(line))) {
      return null;
    }
  }
  if (entries === 0 || content.includes(LAZY)) {
    return null;
  }
  lines.push(`function ${LAZY}(target, name, load) {
  Object.defineProperty(target, name, {
    configurable: true,
    enumerable: true,
    get() {
      const value = load();
      Object.defineProperty(target, name, { value, configurable: true, enumerable: true, writable: true });
      return value;
    },
  });
}`);
  return lines.join("\n");
}

const compile = Module.prototype._compile;
Module.prototype._compile = function compileLazily(content, filename) {
  if (!PROVIDER_INDEX.test(filename)) {
    return compile.call(this, content, filename);
  }
  const entries = lazyExports(content);
  if (entries === null) {
    const rewritten = lazyImportStar(content);
    return compile.call(this, rewritten === null ? content : rewritten, filename);
  }
  const module = this;
  Object.defineProperty(module.exports, "__esModule", { value: true });
  for (const [name, path] of entries) {
    Object.defineProperty(module.exports, name, {
      configurable: true,
      enumerable: true,
      get() {
        const value = module.require(path);
        Object.defineProperty(module.exports, name, { value, configurable: true, enumerable: true, writable: true });
        return value;
      },
    });
  }
  return undefined;
};

// for tests/unit/test_lazy_node_loader.py: which shape a file's text is (null: compiled unchanged)
module.exports = { lazyExports, lazyImportStar };
