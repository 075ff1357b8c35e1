//! `netmon-menubar`: the macOS menubar status item. Elsewhere the binary says so and exits 2.

#[cfg(target_os = "macos")]
fn main() -> std::process::ExitCode {
    use clap::Parser;
    use netmon_core::paths::Paths;
    use netmon_menubar::macos::MenubarApp;
    use netmon_menubar::model::Thresholds;

    /// Shows netmon's live rate, today's usage and controls in the menubar.
    #[derive(Debug, Parser)]
    #[command(name = "netmon-menubar", version, about)]
    struct Args {
        /// Combined rates (bytes per second) where the low, medium and high levels start.
        #[arg(
            long,
            value_name = "LOW,MEDIUM,HIGH",
            value_delimiter = ',',
            num_args = 3
        )]
        levels: Option<Vec<f64>>,
    }

    let args = Args::parse();
    let levels = match args.levels.as_deref() {
        Some([low, medium, high]) => Thresholds::new(*low, *medium, *high),
        _ => Ok(Thresholds::default()),
    };
    let levels = match levels {
        Ok(levels) => levels,
        Err(error) => {
            eprintln!("netmon-menubar: --levels: {error}");
            return std::process::ExitCode::from(64);
        }
    };
    let paths = match Paths::resolve() {
        Ok(paths) => paths,
        Err(error) => {
            eprintln!("netmon-menubar: {error}");
            return std::process::ExitCode::from(78);
        }
    };
    MenubarApp::new(paths, levels).run();
    std::process::ExitCode::SUCCESS
}

#[cfg(not(target_os = "macos"))]
fn main() {
    eprintln!(
        "netmon-menubar runs on macOS only; on this system use `netmon run` and the dashboard"
    );
    std::process::exit(2);
}
