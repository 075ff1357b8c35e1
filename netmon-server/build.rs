//! The dashboard is embedded in the binary: refuse to build without its Plotly.js, rather than
//! serve a blank page.

use std::path::Path;

fn main() {
    let plotly = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/vendor/plotly.min.js");
    println!("cargo:rerun-if-changed={}", plotly.display());
    if !plotly.is_file() {
        panic!(
            "\n\nthe dashboard's Plotly.js is missing ({}).\nBuild the web assets first, at the repository root:\n    npm ci && npm run build:web\n(Plotly.js comes from the npm registry at build time; it is never committed or loaded from a CDN.)\n",
            plotly.display()
        );
    }
}
