// Preloaded into the jsii node process (NODE_OPTIONS=--require, set by modules/providers.py).
//
// The lib/index.js of a prebuilt CDKTF provider package is ~2,000 lines of
// `exports.<name> = require("./<file>");`: loading the AWS provider's assembly makes
// node compile all of its 247 MB of JavaScript, which is most of synthesis' time and
// memory. Here each such line becomes a getter that requires its file on first use,
// so node compiles only the submodules a stack uses. jsii looks a type up by walking
// the package's exports (`closure.vpc.Vpc`), which goes through the getter.
//
// Anything that is not exactly that shape is compiled unchanged.
"use strict";

const Module = require("module");

const PROVIDER_INDEX = /[\\/]@cdktf[\\/]provider-[a-z0-9-]+[\\/](?:[^\\/]+[\\/])*lib[\\/]index\.js$/;
const EXPORT_LINE = /^exports\.([A-Za-z_$][\w$]*) = require\("(\.\/[^"]+)"\);$/;
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

const compile = Module.prototype._compile;
Module.prototype._compile = function compileLazily(content, filename) {
  const entries = PROVIDER_INDEX.test(filename) ? lazyExports(content) : null;
  if (entries === null) {
    return compile.call(this, content, filename);
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
