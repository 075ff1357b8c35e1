// The dashboard's Plotly.js: the core and only the trace types the pages draw. Bundled by
// `npm run build:web` into web/vendor/plotly.min.js (about a quarter of the full bundle, so a
// first visit parses a quarter of the script). A page drawing a new trace type adds it here.
const Plotly = require("plotly.js/lib/core");

Plotly.register([
  require("plotly.js/lib/bar"),
  require("plotly.js/lib/heatmap"),
  require("plotly.js/lib/indicator"),
  require("plotly.js/lib/pie"),
  require("plotly.js/lib/sunburst"),
]);

module.exports = Plotly;
