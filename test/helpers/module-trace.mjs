// Preloaded with `node --import` (through NODE_OPTIONS, so cluster workers inherit it): records the URL
// of every ES module a process loads, packages' entry points included, in MODULE_TRACE_DIR/<pid>.txt.
// Used by test/cli/lazy-modules.test.ts to check what a process holds.
import { register } from 'node:module';

if (process.env.MODULE_TRACE_DIR) register(new URL('./module-trace-hooks.mjs', import.meta.url));
