/**
 * The floors of src/ (docs/architecture.md, "Floors"): a file may import files on its own floor or below, never above, and no import
 * cycle anywhere (type-only imports count). test/docs/dependencies.test.ts runs this in `npm test`.
 */
const floors = [
  ['base', ['^src/base/']],
  ['leaves', ['^src/(storage|tls)/', '^src/(logger|events|diagnostics|session-id|policy-options|policy-values)\\.ts$']],
  ['parts', ['^src/(auth|listing|security|proxy|userdb)/', '^src/(settings|policy|session)\\.ts$']],
  ['wire', ['^src/protocol/']],
  ['data', ['^src/data/', '^src/session-observer\\.ts$']],
  ['commands', ['^src/commands/']],
  ['server', ['^src/(connection|server|server-core|session-view)\\.ts$']],
  ['config', ['^src/(config|ops|acme)/']],
  ['runtime', ['^src/runtime/']],
  ['front', ['^src/(embed|cluster|admin)/']],
  ['top', ['^src/(cli|testing)/', '^src/index\\.ts$']],
];

const upward = floors.slice(0, -1).map(([name, paths], i) => ({
  name: `no-upward-from-${name}`,
  comment: `the ${name} floor imports only its own floor and the ones below it`,
  severity: 'error',
  from: { path: paths },
  to: { path: floors.slice(i + 1).flatMap(([, above]) => above) },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'base-imports-nothing-of-ours',
      comment: 'src/base/ is the bottom floor: it imports only node: modules and packages',
      severity: 'error',
      from: { path: '^src/base/' },
      to: { path: '^src/', pathNot: '^src/base/' },
    },
    {
      name: 'no-cluster-embed-crossing',
      comment: 'the embedding API and the cluster are two fronts on one floor; they share runtime/, not each other',
      severity: 'error',
      from: { path: '^src/(embed|cluster)/' },
      to: { path: '^src/(embed|cluster)/', pathNot: '^src/$1/' },
    },
    {
      name: 'no-circular',
      comment: 'no import cycle between files of src/, type-only imports included (types that name each other share a file)',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-unresolvable',
      comment: 'every import resolves (an import the tool cannot follow would slip past the floor rules)',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
    {
      name: 'every-floor-named',
      comment: 'every file of src/ is on a floor',
      severity: 'error',
      from: { path: '^src/', pathNot: floors.flatMap(([, paths]) => paths) },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.d\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
