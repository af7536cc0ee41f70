// The only JavaScript of the Vega family a statpress page needs: the Vega runtime, its CSP-safe
// expression interpreter and the tooltip handler. Charts are compiled from Vega-Lite to Vega at
// build time (statpress/charts.py), so neither the Vega-Lite compiler nor vega-embed ships.
// Rebuild with scripts/vega-runtime/build.sh; the output is committed as templates/assets/vega.js.
export { View, parse, loader } from "vega";
export { expressionInterpreter } from "vega-interpreter";
export { Handler as TooltipHandler } from "vega-tooltip";
