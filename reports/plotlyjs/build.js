// Builds plotly-cx.min.js: plotly.js with only the trace types the reports draw (1.4 MB instead of the
// 4.8 MB full bundle, which a browser needs a second or more just to parse). Same settings as plotly.js's
// own build (esbuild-config.js in the package); `make plotly-bundle` runs it.
const esbuild = require('esbuild');
const { environmentPlugin } = require('esbuild-plugin-environment');
const { glsl } = require('esbuild-plugin-glsl');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');
const { version } = require('plotly.js/package.json');

// scatter is part of plotly.js's core; a chart of any other type needs its module here.
const TRACES = ['bar', 'funnel', 'heatmap', 'histogram', 'sankey'];

const entry = "const Plotly = require('plotly.js/lib/core');\n"
    + `Plotly.register([${TRACES.map(trace => `require('plotly.js/lib/${trace}')`).join(', ')}]);\n`
    + 'module.exports = Plotly;\n';

esbuild.build({
    stdin: { contents: entry, resolveDir: __dirname, sourcefile: 'plotly-cx-entry.js' },
    outfile: 'plotly-cx.min.js',
    format: 'iife',
    globalName: 'Plotly',
    bundle: true,
    minify: true,
    legalComments: 'eof',
    banner: { js: `/* plotly.js v${version} (traces: scatter, ${TRACES.join(', ')}), Copyright 2012-2026 Plotly, Inc.,`
                   + ' MIT licence; bundled licences at the end of the file */' },
    plugins: [InlineCSSPlugin(), glsl({ minify: true }), environmentPlugin({ NODE_DEBUG: false })],
    alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
    define: { global: 'window', 'define.amd': 'false' },
    target: 'es2016',
    logLevel: 'info',
}).catch(() => process.exit(1));
