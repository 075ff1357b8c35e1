//! `netmon`: the command-line face of netmon.

fn main() {
    println!("netmon {}", env!("CARGO_PKG_VERSION"));
}
