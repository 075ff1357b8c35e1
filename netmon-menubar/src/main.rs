//! The macOS menubar status item. Its body is macOS-only; elsewhere the binary says so and exits 2.

#[cfg(target_os = "macos")]
fn main() {
    eprintln!("netmon-menubar: the menubar is not built yet");
    std::process::exit(2);
}

#[cfg(not(target_os = "macos"))]
fn main() {
    eprintln!(
        "netmon-menubar runs on macOS only; on this system use `netmon run` and the dashboard"
    );
    std::process::exit(2);
}
