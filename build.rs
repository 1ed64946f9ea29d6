//! Embeds `openapi.json` without the whitespace between its tokens. The Worker parses the
//! document and serves it re-serialised, so the answer is the same; the wasm bundle carries
//! about 55 KB (2 KB gzipped) less text. Nothing else happens at build time.

use std::path::Path;
use std::{env, fs};

fn main() {
    println!("cargo:rerun-if-changed=openapi.json");
    let text = fs::read_to_string("openapi.json").expect("openapi.json is readable");
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("openapi.min.json");
    fs::write(out, without_whitespace(&text)).expect("OUT_DIR is writable");
}

/// JSON text without insignificant whitespace: what is inside strings (escapes included) stays.
fn without_whitespace(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}
